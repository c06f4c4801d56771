import type { FastifyInstance } from 'fastify'
import type { Readiness } from '../ops/readiness.js'

/** Load-balancer probes: cheap, answered from memory, never logged per call. */
export function healthRoutes (app: FastifyInstance, readiness: Readiness): void {
  app.get('/healthz', { logLevel: 'silent' }, async () => ({ status: 'ok' }))

  app.get('/readyz', { logLevel: 'silent' }, async (_request, reply) => {
    const report = readiness.report()
    return reply.code(report.ready ? 200 : 503).send({ status: report.ready ? 'ready' : 'not ready', ...report })
  })
}
