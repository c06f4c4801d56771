import type { FastifyInstance } from 'fastify'

/** The facts an operator wants in the first line: what runs, where it writes, and its limits. */
export function startLine (app: FastifyInstance, address: string): Record<string, unknown> {
  const { config, kinesis, registry, version, metricsEndpoint } = app.gateway
  const metricsWhere = metricsEndpoint.where()
  return {
    version,
    node: process.version,
    address,
    metrics: metricsWhere === 'public' ? `${address}/metrics` : `${metricsWhere}/metrics`,
    configFile: config.configFile,
    kinesis: { mode: kinesis.mode, endpoint: kinesis.endpoint ?? `AWS ${kinesis.region}`, region: kinesis.region, createStreams: kinesis.createStreams },
    channels: Object.fromEntries(registry.names().map((name) => {
      const c = registry.get(name)?.config
      return [name, c === undefined ? null : { stream: c.stream, record: c.record, maxEventsPerRequest: c.maxEventsPerRequest }]
    })),
    streams: registry.streams(),
    limits: {
      bodyLimitBytes: config.server.bodyLimitBytes,
      requestTimeoutMs: config.server.requestTimeoutMs,
      lingerMs: config.delivery.lingerMs,
      maxInFlightPerStream: config.delivery.maxInFlightPerStream,
      recordDeadlineMs: config.delivery.recordDeadlineMs
    },
    logging: { level: config.logLevel, format: config.logging.format, successSampleRate: config.logging.successSampleRate }
  }
}
