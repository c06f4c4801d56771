import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ChannelConfig } from '../config/types.js'
import { GatewayError } from '../http/problems.js'

/** Response headers a browser script may read (rate limits, replays, the request id for support). */
const EXPOSED = 'x-request-id, retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset, idempotent-replayed'
/** Request headers a browser may send besides the CORS-safelisted ones. */
const ALLOWED_HEADERS = ['content-type', 'content-encoding', 'x-api-key', 'idempotency-key', 'x-request-id']
/** Browsers cache a preflight answer this long (Chrome caps it at 7200 s). */
const PREFLIGHT_MAX_AGE_SECONDS = '600'

function allowed (channel: ChannelConfig, origin: string): boolean {
  const origins = channel.corsOrigins
  return origins.includes('*') || origins.includes(origin.toLowerCase())
}

/**
 * Simple and actual requests: a channel with `cors` origins answers allowed origins with
 * Access-Control-Allow-Origin (also on errors, so a page can read why it was refused) and refuses
 * other origins with 403 before the body is read: a page on a foreign site cannot post events,
 * not even as a no-cors text/plain request the browser would not let it read the answer of.
 * Channels without `cors` ignore Origin (servers and apps send what they like).
 */
export function applyCors (request: FastifyRequest, reply: FastifyReply, channel: ChannelConfig): void {
  const origin = request.headers.origin
  if (origin === undefined || channel.corsOrigins.length === 0) return
  void reply.header('vary', 'Origin')
  if (!allowed(channel, origin)) {
    throw new GatewayError('GW_ERR_ORIGIN_NOT_ALLOWED', `Origin ${JSON.stringify(origin)} may not call channel ${channel.name}`)
  }
  void reply.header('access-control-allow-origin', origin).header('access-control-expose-headers', EXPOSED)
}

/** OPTIONS preflight: which methods and headers a page of an allowed origin may use. No key needed (browsers send none). */
export function answerPreflight (request: FastifyRequest, reply: FastifyReply, channel: ChannelConfig): FastifyReply {
  const origin = request.headers.origin
  if (origin === undefined || channel.corsOrigins.length === 0 || !allowed(channel, origin)) {
    throw new GatewayError('GW_ERR_ORIGIN_NOT_ALLOWED', origin === undefined
      ? 'A CORS preflight needs an Origin header'
      : `Origin ${JSON.stringify(origin)} may not call channel ${channel.name}`)
  }
  const headers = channel.partitionKey.kind === 'header' ? [...ALLOWED_HEADERS, channel.partitionKey.header] : ALLOWED_HEADERS
  return reply.code(204)
    .header('vary', 'Origin')
    .header('access-control-allow-origin', origin)
    .header('access-control-allow-methods', 'POST, OPTIONS')
    .header('access-control-allow-headers', headers.join(', '))
    .header('access-control-max-age', PREFLIGHT_MAX_AGE_SECONDS)
    .send()
}
