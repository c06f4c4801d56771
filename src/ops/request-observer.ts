import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { RejectionRing } from '../console/rejection-ring.js'
import type { LoggingConfig } from '../config/types.js'
import { REPLAYED_HEADER } from '../front-door/idempotency.js'
import type { GatewayMetrics } from './metrics.js'

/**
 * One hook per answered request: the request metrics, and at most one log line (method, route,
 * channel, status, events, ms, code; the request id comes from the request's logger). Health and
 * metrics routes log nothing (their log level is silent); successful requests can be sampled
 * with `logging.successSampleRate`; errors are always logged. Bodies and headers are never logged.
 * With the console on, refused requests of the channel routes (and 207s) also go into its bounded
 * ring: one comparison for every other request.
 */
export function requestObserver (app: FastifyInstance, metrics: GatewayMetrics, logging: LoggingConfig, ring?: RejectionRing): void {
  const sampleRate = logging.successSampleRate

  // Callback-style (nothing is awaited): no promise per request.
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    try {
      observe(request, reply)
    } catch (err) {
      done(err as Error) // Fastify logs it, as it did a rejected async hook
      return
    }
    done()
  })

  function observe (request: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode
    const ms = reply.elapsedTime
    const channel = request.channel?.config.name
    const route = request.routeOptions.url
    metrics.request({
      route,
      channel,
      status,
      errorCode: request.errorCode,
      events: request.eventCount,
      written: request.eventsWritten,
      elapsedMs: ms,
      limitedBy: request.limitedBy,
      // A stored answer of any status (200 delivered, 202 buffered or spool) replayed: nothing was written.
      replayed: reply.hasHeader(REPLAYED_HEADER)
    })

    if (ring !== undefined && (status >= 400 || status === 207) && (channel !== undefined || (route !== undefined && CHANNEL_ROUTE.test(route)))) {
      ring.add({
        channel,
        route: route ?? 'unmatched',
        clientId: request.apiClient?.id,
        status,
        code: request.errorCode,
        requestId: request.id,
        events: request.eventCount,
        written: request.eventsWritten,
        errors: request.eventErrors,
        body: request.body
      })
    }

    const log = request.log
    // Health and metrics routes are declared with logLevel 'silent'; LOG_LEVEL=warn silences 2xx too.
    if (log.level === 'silent' || (status < 500 && !isInfoEnabled(log.level))) return
    if (status < 400 && sampleRate < 1 && Math.random() >= sampleRate) return
    const line = {
      method: request.method,
      route: route ?? request.url.split('?')[0],
      channel,
      status,
      events: request.eventCount,
      code: request.errorCode ?? undefined,
      ms: Math.round(ms * 10) / 10
    }
    if (status >= 500) log.warn(line, 'request failed')
    else log.info(line, 'request')
  }
}

/** The channel routes of every version (sending, dry run, schema), whose refusals the console lists. */
const CHANNEL_ROUTE = /^\/v\d+\/:channel/

const QUIET_LEVELS = new Set(['warn', 'error', 'fatal', 'silent'])

function isInfoEnabled (level: string): boolean {
  return !QUIET_LEVELS.has(level)
}
