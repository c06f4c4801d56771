import Fastify, { type FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import type { MetricsConfig } from '../config/types.js'
import type { GatewayView } from '../ops/gateway-view.js'
import { errorHandler, notFoundHandler } from './error-handler.js'
import { GatewayError } from './problems.js'

export const METRICS_PATH = '/metrics'

/** Where /metrics is served: on the public listener, or on a listener of its own. */
export interface MetricsEndpoint {
  /** "public" or the http://host:port of the separate listener once it listens. */
  readonly where: () => string
}

/**
 * GET /metrics (Prometheus text format), the whole gateway's (in a cluster: every worker's,
 * aggregated; ops/gateway-view.ts). With `metrics.port` set (the default in production,
 * load-config.ts) it is served by a second, minimal Fastify instance on that port (started when
 * the gateway is ready, closed with it) and the public listener has no /metrics at all, so the
 * figures can stay on a private network. `admin` adds routes to that listener (the console).
 */
export function metricsRoutes (app: FastifyInstance, view: GatewayView, contentType: string, config: MetricsConfig,
  admin?: (server: FastifyInstance) => Promise<void>): MetricsEndpoint {
  // Requests that arrive while a rendering is under way share it (about 5 ms of CPU for the
  // default registry): a burst of scrapes, or of pipelined GET /metrics, costs one rendering.
  let rendering: Promise<string> | undefined
  const serve = async (): Promise<string> => {
    rendering ??= view.exposition().finally(() => { rendering = undefined })
    try {
      return await rendering
    } catch (err) {
      throw new GatewayError('GW_ERR_UNAVAILABLE', `The gateway's metrics are not available just now (${(err as Error).message}). Retry in a second`, { retryAfterSeconds: 1 })
    }
  }
  if (config.port === undefined) {
    app.get(METRICS_PATH, { logLevel: 'silent' }, async (_request, reply) => {
      const text = await serve()
      return await reply.type(contentType).send(text)
    })
    return { where: () => 'public' }
  }

  const port = config.port
  let server: FastifyInstance | undefined
  let address = ''
  app.addHook('onReady', async () => {
    server = Fastify({ logger: false })
    // The same problem+json answers as the public listener.
    server.decorateRequest('errorCode', null)
    server.decorateRequest('eventErrors', null)
    server.setErrorHandler(errorHandler)
    server.setNotFoundHandler(notFoundHandler(() => []))
    server.get(METRICS_PATH, async (_request, reply) => {
      const text = await serve()
      return await reply.type(contentType).send(text)
    })
    if (admin !== undefined) await admin(server)
    await server.listen({ port, host: config.host })
    const a = server.server.address() as AddressInfo
    address = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`
  })
  app.addHook('onClose', async () => { await server?.close() })
  return { where: () => address }
}
