import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ChannelRegistry } from '../channels/channel-registry.js'
import { API_KEY_HEADER, type ApiKeys } from '../front-door/api-keys.js'
import type { FrontDoorHooks } from '../front-door/front-door.js'
import { GatewayError } from './problems.js'

const SCHEMA_TYPE = 'application/schema+json'

/**
 * What a partner reads before sending: a channel's JSON Schema, and the channels a key may write.
 *
 * GET /v1/{channel}/schema: the schema, self-contained (referenced files embedded), with a strong
 * ETag (If-None-Match answers 304), behind the same front door as sending (a channel that needs a
 * key needs it to be read too). GET /v1/channels: every channel the caller may write (open ones,
 * and those its x-api-key allows), each with its routes, acknowledgement and invalid-event modes,
 * and its schema's ETag, which changes exactly when the schema does (a version a client can cache).
 */
export function schemaRoutes (app: FastifyInstance, registry: ChannelRegistry, frontDoor: FrontDoorHooks, keys: ApiKeys, versions: readonly number[]): void {
  for (const version of versions) {
    app.get<{ Params: { channel: string } }>(`/v${version}/:channel/schema`, { onRequest: frontDoor.onRequest, config: { version } }, async (request, reply) => {
      const channel = request.channel
      if (channel === null) throw new GatewayError('GW_ERR_UNKNOWN_CHANNEL', `There is no channel named ${JSON.stringify(request.params.channel)}`)
      const { text, etag } = channel.schema
      void reply.header('etag', etag).header('cache-control', 'no-cache')
      if (matches(request.headers['if-none-match'], etag)) return await reply.code(304).send()
      return await reply.type(SCHEMA_TYPE).send(text)
    })
  }

  app.get('/v1/channels', async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers[API_KEY_HEADER]
    const client = typeof header === 'string' && header !== '' ? keys.identify(header) : undefined
    if (typeof header === 'string' && header !== '' && client === undefined && keys.size > 0) {
      throw new GatewayError('GW_ERR_API_KEY_INVALID', `The ${API_KEY_HEADER} header does not hold a valid API key`)
    }
    const channels = registry.names().flatMap((name) => {
      const ch = registry.get(name)
      if (ch === undefined) return []
      const allowed = ch.config.access === 'open' || (client !== undefined && (client.channels === '*' || client.channels.includes(name)))
      if (!allowed) return []
      const base = `/v${ch.config.version}/${ch.config.path}`
      return [{
        name,
        url: base,
        schema: `${base}/schema`,
        version: ch.config.version,
        deprecated: ch.config.deprecated !== null,
        schema_etag: ch.schema.etag,
        access: ch.config.access,
        format: ch.config.format,
        ack: ch.config.ack,
        invalid: ch.config.invalid,
        max_events_per_request: ch.config.maxEventsPerRequest
      }]
    })
    return await reply.header('cache-control', 'no-cache').send({ channels })
  })
}

/** If-None-Match: "*" or a list of entity tags (weak ones compare equal by their opaque part, RFC 9110 13.1.2). */
function matches (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  if (header.trim() === '*') return true
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)
}

/**
 * Which methods each route path answers, learnt from the routes as they are registered, so that a
 * known path asked with another method answers 405 with Allow (RFC 9110 15.5.6), not 404: an API
 * Gateway client posting where it used to GET sees at once what is wrong.
 */
export class AllowedMethods {
  private readonly paths: Array<{ readonly pattern: RegExp, readonly methods: Set<string> }> = []

  /** Fastify's onRoute hook: call for every route. */
  add (url: string, method: string | readonly string[]): void {
    const source = '^' + url.split('/').map((part) => part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('/') + '$'
    let entry = this.paths.find((p) => p.pattern.source === source)
    if (entry === undefined) this.paths.push(entry = { pattern: new RegExp(source), methods: new Set() })
    for (const m of typeof method === 'string' ? [method] : method) entry.methods.add(m)
  }

  /** The methods allowed on a concrete path (empty when no route has that path). */
  of (path: string): string[] {
    const out = new Set<string>()
    for (const p of this.paths) if (p.pattern.test(path)) for (const m of p.methods) out.add(m)
    return [...out].sort()
  }
}
