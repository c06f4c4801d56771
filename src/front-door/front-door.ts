import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions, onRequestHookHandler, onSendHookHandler, preHandlerHookHandler } from 'fastify'
import type { ChannelRegistry } from '../channels/channel-registry.js'
import type { ChannelConfig, GatewayConfig } from '../config/types.js'
import { parseJsonBody } from '../http/body-parsers.js'
import { channelOf } from '../http/ingest-route.js'
import { GatewayError } from '../http/problems.js'
import { bodyWriteKey } from '../ingest/formats/segment.js'
import { API_KEY_HEADER, ApiKeys, basicAuthUser } from './api-keys.js'
import { answerPreflight, applyCors } from './cors.js'
import { DailyQuota } from './daily-quota.js'
import { IDEMPOTENCY_HEADER, Idempotency } from './idempotency.js'
import { MessageDedup } from './message-dedup.js'
import { Throttle } from './rate-limit.js'
import { RedisLink, type SharedState } from './redis-link.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** State of the front door, for /metrics and ops: are limits shared through Redis right now? */
    frontDoor: {
      readonly sharedState: () => SharedState
      /** Rate-limit, quota and idempotency decisions taken locally because Redis could not be used. */
      readonly redisFallbacks: () => number
    }
  }
}

/** Paths pino must never print: API keys (and bearer tokens, if a proxy adds them). */
export const REDACTED_LOG_PATHS = ['req.headers["x-api-key"]', 'req.headers.authorization', 'headers["x-api-key"]', 'headers.authorization']

/** Adds the API-key redaction to logger options (not to a ready-made logger instance or `false`). */
export function withRedaction (logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (logger === undefined || typeof logger === 'boolean') return logger
  if ('redact' in logger && logger.redact !== undefined) return logger
  return { ...logger, redact: REDACTED_LOG_PATHS }
}

/**
 * The front door's route-level hooks. Only the routes that take events carry them (as fastify/demo
 * scopes hooks to routes), so health probes and /metrics pay nothing and no hook filters on URLs.
 */
export interface FrontDoorHooks {
  /** Before the body is read: channel, CORS origin, API key, rate limits, daily quota. */
  readonly onRequest: onRequestHookHandler
  /** Ingest only, once the body is parsed: claim or replay an Idempotency-Key. */
  readonly preHandler: preHandlerHookHandler
  /** Ingest only: keep the answer of a claimed Idempotency-Key. */
  readonly onSend: onSendHookHandler
  /** Per-message de-duplication (Segment messageId), for the ingest route. */
  readonly messages: MessageDedup
  /** The configured API keys (the channel catalogue lists what a key may write). */
  readonly keys: ApiKeys
}

/**
 * The front door: everything decided before the body is read (channel, CORS origin, API key,
 * rate limits, daily quota), then idempotency once the body is parsed. Returns the hooks the
 * ingest and dry-run routes declare; call `frontDoorRoutes` after them (beacon parser, preflight routes).
 */
export async function registerFrontDoor (app: FastifyInstance, config: GatewayConfig, registry: ChannelRegistry,
  onDeprecated?: (channel: string, clientId: string | null) => void): Promise<FrontDoorHooks> {
  const fd = config.frontDoor
  const link = fd.redis === undefined ? undefined : new RedisLink(fd.redis, app.log)
  const keys = new ApiKeys(fd.apiKeys)
  const throttle = await Throttle.create(app, link, fd.rateLimit, config.channels.values(), fd.apiKeys)
  const quota = new DailyQuota(link)
  const idempotency = new Idempotency(fd.idempotency, link)
  const messages = new MessageDedup(fd.idempotency, link)

  app.decorate('frontDoor', {
    sharedState: () => link?.state() ?? 'off',
    redisFallbacks: () => link?.fallbackCount() ?? 0
  })

  // Who is calling, then their own limits and daily quota.
  const admitClient = async (request: FastifyRequest, reply: FastifyReply, channel: ChannelConfig, presented: string | string[] | undefined,
    clientOnly: boolean): Promise<void> => {
    const client = keys.authenticate(presented, channel)
    request.apiClient = client
    await throttle.admit(request, reply, channel.name, client, clientOnly)
    // A retry that will be answered from the idempotency store writes nothing and spends no quota.
    if (client?.dailyQuota !== undefined && request.routeOptions.config.ingest === true && !await idempotency.answered(request, channel.name, client.id)) {
      const q = await quota.take(client.id, client.dailyQuota)
      if (!q.allowed) {
        throw new GatewayError('GW_ERR_QUOTA_EXCEEDED',
          `API key ${client.id} has used its daily quota of ${client.dailyQuota} requests; it resets at 00:00 UTC`,
          { retryAfterSeconds: q.resetSeconds })
      }
    }
  }

  const onRequest = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const channel = channelOf(registry, request)
    request.channel = channel
    // A deprecated version says so on every answer (RFC 9745 Deprecation, RFC 8594 Sunset, Link).
    const deprecated = channel.config.deprecated
    if (deprecated !== null) {
      void reply.header('deprecation', `@${deprecated.since}`)
      if (deprecated.sunset !== undefined) void reply.header('sunset', deprecated.sunset)
      if (deprecated.successor !== undefined) void reply.header('link', `<${deprecated.successor}>; rel="successor-version"`)
      onDeprecated?.(channel.config.name, request.headers[API_KEY_HEADER] === undefined ? null : keys.identify(String(request.headers[API_KEY_HEADER]))?.id ?? null)
    }
    if (request.method === 'OPTIONS') return
    applyCors(request, reply, channel.config)
    let presented = request.headers[API_KEY_HEADER]
    if (presented === undefined && channel.config.format === 'segment') {
      // Segment SDKs send the write key as the Basic user name; browsers (analytics.js) only in the body.
      presented = basicAuthUser(request.headers.authorization)
      if (presented === undefined && keys.size > 0 && request.routeOptions.config.ingest === true) {
        request.keyInBody = true
        // The shared buckets are charged now, before the body is read; the client's own once it is known.
        await throttle.admit(request, reply, channel.config.name, null)
        return
      }
    }
    await admitClient(request, reply, channel.config, presented, false)
  }

  // Callback-style, so requests without an Idempotency-Key cost no promise here (profiled hot path).
  const preHandler: preHandlerHookHandler = (request, reply, done) => {
    if (request.keyInBody && request.channel !== null) {
      request.keyInBody = false
      admitClient(request, reply, request.channel.config, bodyWriteKey(request.body), true).then(() => { preHandler.call(app, request, reply, done) }, done)
      return
    }
    if (request.channel === null || request.headers[IDEMPOTENCY_HEADER] === undefined) {
      done()
      return
    }
    // A replay is answered by before() itself: then the chain must stop, so done is not called.
    idempotency.before(request, reply, request.channel.config.name, request.apiClient?.id).then((replayed) => { if (!replayed) done() }, done)
  }

  const onSend: onSendHookHandler = (request, reply, payload, done) => {
    if (request.idempotencyClaim === null) {
      done(null, payload)
      return
    }
    idempotency.after(request, reply, payload).then(() => { done(null, payload) }, done)
  }

  app.addHook('onReady', async () => { link?.start() })
  app.addHook('onClose', async () => { await link?.close() })
  return { onRequest, preHandler, onSend, messages, keys }
}

/** Routes and parsers of the front door; call after ingestRoutes (which resets the text/plain parser). */
export function frontDoorRoutes (app: FastifyInstance, hooks: FrontDoorHooks, versions: readonly number[], aliases: ReadonlyMap<string, string>): void {
  // navigator.sendBeacon posts text/plain; it is JSON on channels that allow beacons.
  app.addContentTypeParser('text/plain', { parseAs: 'buffer' }, (request, body, done) => {
    // analytics.js posts text/plain too (no CORS preflight): Segment channels take it.
    if (request.channel?.config.beacon !== true && request.channel?.config.format !== 'segment') {
      done(new GatewayError('GW_ERR_UNSUPPORTED_MEDIA_TYPE', 'Content-Type text/plain is accepted only on channels with beacon: true ' +
        '(navigator.sendBeacon). Send application/json or application/x-ndjson'), undefined)
      return
    }
    try { done(null, parseJsonBody(request, body as Buffer)) } catch (err) { done(err as Error, undefined) }
  })
  const preflight = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (request.channel === null) throw new GatewayError('GW_ERR_ROUTE_NOT_FOUND', 'No such channel')
    return answerPreflight(request, reply, request.channel.config)
  }
  for (const version of versions) {
    app.options(`/v${version}/:channel`, { onRequest: hooks.onRequest, config: { version } }, preflight)
    app.options(`/v${version}/:channel/validate`, { onRequest: hooks.onRequest, config: { version } }, preflight)
  }
  for (const [path, channel] of aliases) app.options(path, { onRequest: hooks.onRequest, config: { channel } }, preflight)
}
