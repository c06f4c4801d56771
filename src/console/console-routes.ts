import { createHash, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ChannelRegistry } from '../channels/channel-registry.js'
import type { ConsoleConfig, DeliveryConfig } from '../config/types.js'
import { LocalBuckets } from '../front-door/token-bucket.js'
import { GatewayError } from '../http/problems.js'
import type { GatewayView } from '../ops/gateway-view.js'
import { consoleFeed } from './console-feed.js'
import { exampleEvent } from './example-event.js'

export const CONSOLE_PATH = '/console'
export const ADMIN_KEY_HEADER = 'x-admin-key'
/** The try form's requests carry it: a header a cross-site page cannot send without a preflight we never allow. */
export const CONSOLE_REQUEST_HEADER = 'x-kinesis-gateway-console'

/** The page's files, beside dist/ and src/ alike (copied into the image by the Dockerfile). */
const ASSETS = new URL('../../assets/console/', import.meta.url)
const FILES = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8'
} as const

/** The body of a "try" request: one JSON event or a small batch, well under the gateway's own limits. */
export const TRY_BODY_LIMIT = 64 * 1024
/**
 * What the console's endpoints take, per listener (per worker in a cluster): the page polls
 * about once a second, so 50 reads a second (bursts of 100) serve many operators, and 10 tries a
 * second is more than a person types. A client beyond that gets 429 like any other route.
 */
const READS = { perSecond: 50, burst: 100 }
const TRIES = { perSecond: 10, burst: 20 }

/** Headers of every console answer: no framing, no caching, nothing loaded from elsewhere. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store'
}

/** The headers of the gateway's answer that the form shows. */
const SHOWN_HEADERS = ['content-type', 'retry-after', 'x-request-id', 'idempotent-replayed'] as const

export interface ConsoleDeps {
  /** The gateway whose routes the form calls (by inject: the same path as a real request). */
  readonly gateway: FastifyInstance
  readonly view: GatewayView
  readonly registry: ChannelRegistry
  readonly version: string
  readonly kinesis: string
  readonly delivery: DeliveryConfig
  readonly config: ConsoleConfig
}

/**
 * The operator console (docs/console.md): GET /console (the page), its script and style sheet,
 * GET /console/feed (what the page polls), GET /console/channels (the form's channels, each with a
 * valid example event where the schema allows), POST /console/try/{channel}?mode=validate|send
 * (the form: the event goes through the gateway's own POST /v1/{channel}[/validate], and the
 * answer comes back as the gateway gave it). Registered on the public listener or on the metrics
 * listener (config/console-config.ts decides); behind the admin key when one is configured.
 */
export async function consoleRoutes (server: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const files = new Map<string, Buffer>()
  for (const name of Object.keys(FILES)) files.set(name, await readFile(new URL(name, ASSETS)))
  const buckets = new LocalBuckets()
  const limit = (kind: 'read' | 'try', rate: { perSecond: number, burst: number }): void => {
    const taken = buckets.take(kind, 1000 * rate.burst / rate.perSecond, rate.burst)
    if (taken.current > rate.burst) {
      throw new GatewayError('GW_ERR_RATE_LIMITED', `Too many console requests; at most ${rate.perSecond} a second (bursts of ${rate.burst}) are served. Retry later`,
        { retryAfterSeconds: Math.max(1, Math.ceil(taken.ttl / 1000)) })
    }
  }
  const adminKey = deps.config.adminKeySha256

  await server.register(async (scope) => {
    scope.addHook('onRequest', (request, reply, done) => {
      void reply.headers(SECURITY_HEADERS)
      if (adminKey !== undefined && !presentsKey(request, adminKey)) {
        // The browser's login prompt: any user name, the admin key as password.
        void reply.header('www-authenticate', 'Basic realm="kinesis-gateway console", charset="UTF-8"')
        done(new GatewayError('GW_ERR_ADMIN_KEY_REQUIRED', `The console needs the admin key: send it in ${ADMIN_KEY_HEADER}, or as the password of the login prompt`))
        return
      }
      try {
        if (request.method === 'POST') limit('try', TRIES)
        else limit('read', READS)
      } catch (err) {
        done(err as Error)
        return
      }
      done()
    })
    // The try form forwards the body as sent; it is parsed by the gateway's own route.
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser(['application/json', 'application/x-ndjson'], { parseAs: 'buffer', bodyLimit: TRY_BODY_LIMIT }, (_request, body, done) => { done(null, body) })

    const page = async (_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => await reply.type(FILES['index.html']).send(files.get('index.html'))
    scope.get(CONSOLE_PATH, { logLevel: 'silent' }, page)
    scope.get(`${CONSOLE_PATH}/console.js`, { logLevel: 'silent' }, async (_request, reply) => await reply.type(FILES['console.js']).send(files.get('console.js')))
    scope.get(`${CONSOLE_PATH}/console.css`, { logLevel: 'silent' }, async (_request, reply) => await reply.type(FILES['console.css']).send(files.get('console.css')))

    scope.get(`${CONSOLE_PATH}/feed`, { logLevel: 'silent' }, async () => {
      let snapshot
      try {
        snapshot = await deps.view.snapshot()
      } catch (err) {
        throw new GatewayError('GW_ERR_UNAVAILABLE', `The gateway's figures are not available just now (${(err as Error).message}). Retry in a second`, { retryAfterSeconds: 1 })
      }
      return consoleFeed(snapshot, deps)
    })

    scope.get(`${CONSOLE_PATH}/channels`, { logLevel: 'silent' }, async () => ({ channels: channelList(deps.registry) }))

    scope.post<{ Params: { channel: string }, Querystring: { mode: 'validate' | 'send' }, Body: Buffer }>(`${CONSOLE_PATH}/try/:channel`, {
      schema: {
        querystring: { type: 'object', required: ['mode'], properties: { mode: { enum: ['validate', 'send'] } } }
      }
    }, async (request) => {
      if (request.headers[CONSOLE_REQUEST_HEADER] === undefined) {
        throw new GatewayError('GW_ERR_BAD_REQUEST', `The console's form sends the ${CONSOLE_REQUEST_HEADER} header; requests without it are refused (they may come from another site)`)
      }
      const name = request.params.channel
      const channel = deps.registry.get(name)
      if (channel === undefined) {
        throw new GatewayError('GW_ERR_UNKNOWN_CHANNEL', `There is no channel named ${JSON.stringify(name.slice(0, 64))}. Channels: ${deps.registry.names().join(', ')}`)
      }
      const apiKey = request.headers['x-api-key']
      const answer = await deps.gateway.inject({
        method: 'POST',
        url: `/v${channel.config.version}/${encodeURIComponent(channel.config.path)}${request.query.mode === 'validate' ? '/validate' : ''}`,
        headers: {
          'content-type': request.headers['content-type'] ?? 'application/json',
          'user-agent': 'kinesis-gateway console',
          ...(typeof apiKey === 'string' && apiKey !== '' ? { 'x-api-key': apiKey } : {})
        },
        payload: request.body,
        remoteAddress: request.ip
      })
      const headers: Record<string, string> = {}
      for (const h of SHOWN_HEADERS) {
        const v = answer.headers[h]
        if (typeof v === 'string') headers[h] = v
      }
      let body: unknown = answer.payload
      try { body = JSON.parse(answer.payload) } catch { /* shown as text */ }
      return { status: answer.statusCode, headers, body }
    })
  })
}

/** The channels the form offers, with an example event each (null where none passes the schema). */
function channelList (registry: ChannelRegistry): Array<Record<string, unknown>> {
  return registry.names().flatMap((name) => {
    const ch = registry.get(name)
    if (ch === undefined) return []
    let example: unknown = null
    try {
      const candidate = exampleEvent(JSON.parse(ch.schema.text) as Record<string, unknown>)
      if (ch.validate(candidate) === true) example = candidate
    } catch { /* no example */ }
    return [{ name, stream: ch.config.stream, access: ch.config.access, ack: ch.config.ack, invalid: ch.config.invalid, example }]
  })
}

/** x-admin-key, or the password of HTTP Basic authentication, compared by SHA-256 in constant time. */
function presentsKey (request: FastifyRequest, sha256: Buffer): boolean {
  let presented = request.headers[ADMIN_KEY_HEADER]
  if (typeof presented !== 'string') {
    const auth = request.headers.authorization
    if (typeof auth === 'string' && /^basic /i.test(auth)) {
      const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      presented = colon >= 0 ? decoded.slice(colon + 1) : undefined
    }
  }
  if (typeof presented !== 'string' || presented === '') return false
  return timingSafeEqual(createHash('sha256').update(presented, 'utf8').digest(), sha256)
}
