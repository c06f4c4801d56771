import Fastify, { type FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import type { MetricsConfig } from '../config/types.js'
import type { GatewayMetrics } from '../ops/metrics.js'

export const METRICS_PATH = '/metrics'

/** Where /metrics is served: on the public listener, or on a listener of its own. */
export interface MetricsEndpoint {
  /** "public" or the http://host:port of the separate listener once it listens. */
  readonly where: () => string
}

/**
 * GET /metrics (Prometheus text format). With `metrics.port` set (the default in production,
 * load-config.ts) it is served by a second, minimal Fastify instance on that port (started when
 * the gateway is ready, closed with it) and the public listener has no /metrics at all, so the
 * figures can stay on a private network.
 */
export function metricsRoutes (app: FastifyInstance, metrics: GatewayMetrics, config: MetricsConfig): MetricsEndpoint {
  // Requests that arrive while a rendering is under way share it (about 5 ms of CPU for the
  // default registry): a burst of scrapes, or of pipelined GET /metrics, costs one rendering.
  let rendering: Promise<string> | undefined
  const serve = async (): Promise<string> => {
    rendering ??= metrics.exposition().finally(() => { rendering = undefined })
    return await rendering
  }
  if (config.port === undefined) {
    app.get(METRICS_PATH, { logLevel: 'silent' }, async (_request, reply) => {
      reply.type(metrics.contentType)
      return await serve()
    })
    return { where: () => 'public' }
  }

  const port = config.port
  let server: FastifyInstance | undefined
  let address = ''
  app.addHook('onReady', async () => {
    server = Fastify({ logger: false })
    server.get(METRICS_PATH, async (_request, reply) => {
      reply.type(metrics.contentType)
      return await serve()
    })
    await server.listen({ port, host: config.host })
    const a = server.server.address() as AddressInfo
    address = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`
  })
  app.addHook('onClose', async () => { await server?.close() })
  return { where: () => address }
}
