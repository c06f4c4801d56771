import type { FastifyInstance } from 'fastify'
import type { Channel } from '../channels/channel-registry.js'
import type { ApiKeyConfig } from '../config/types.js'
import type { Claim } from '../front-door/idempotency.js'
import type { EventSpans } from '../ingest/event-spans.js'
import type { EventError } from './problems.js'

/**
 * Every field a request carries through the gateway, declared in one place with its default.
 * Fastify keeps decorated fields on the request's own shape, so setting them costs no hidden-class
 * change per request; and a reader sees here what each stage leaves for the next.
 */
declare module 'fastify' {
  interface FastifyRequest {
    /** The channel, looked up once, before the body is read (the front door or the route's preParsing). */
    channel: Channel | null
    /** The API key's client, when the request carried a valid key (its id becomes client_id). */
    apiClient: ApiKeyConfig | null
    /** A Segment request without a key in its headers: its body's writeKey is checked once parsed. */
    keyInBody: boolean
    /** The Idempotency-Key claimed for this request (front-door/idempotency.ts). */
    idempotencyClaim: Claim | null
    /** Where each parsed event lies in the body (body-parsers.ts; see ingest/event-spans.ts). */
    eventSpans: EventSpans | null
    /** Events in the body of an ingest request, once parsed (0 before). */
    eventCount: number
    /** Events of this request written to Kinesis. */
    eventsWritten: number
    /** GW_ERR_* code of the problem answered, if any (set by error-handler.ts). */
    errorCode: string | null
    /** Which limit refused the request with 429 ("api_key", "channel", "gateway"; set by the front door). */
    limitedBy: string | null
    /** Per-event errors of a refused request or of a 207 (set only on those paths), for the console's ring. */
    eventErrors: readonly EventError[] | null
  }
  /** Route config of the ingest routes (read by the front door too). */
  interface FastifyContextConfig {
    /** POST routes that write events (spend daily quota). */
    ingest?: boolean
    /** Set on alias routes: the channel the path stands for. */
    channel?: string
    /** The N of /vN/:channel (1 when unset). */
    version?: number
  }
}

/** Declares the fields on the app, before any hook or route uses them. */
export function decorateRequestFields (app: FastifyInstance): void {
  app.decorateRequest('channel', null)
  app.decorateRequest('apiClient', null)
  app.decorateRequest('keyInBody', false)
  app.decorateRequest('idempotencyClaim', null)
  app.decorateRequest('eventSpans', null)
  app.decorateRequest('eventCount', 0)
  app.decorateRequest('eventsWritten', 0)
  app.decorateRequest('errorCode', null)
  app.decorateRequest('limitedBy', null)
  app.decorateRequest('eventErrors', null)
}
