import { isAbsolute, relative, resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { targetReason, targetSummary } from '../config/kinesis-target.js'
import { DEFAULTS } from '../config/limits.js'
import type { KinesisConfig } from '../config/types.js'

/** The facts an operator wants in the first line: what runs, where it writes (and why there), and its limits. */
export function startLine (app: FastifyInstance, address: string): Record<string, unknown> {
  const { config, kinesis, registry, version, metricsEndpoint } = app.gateway
  const metricsWhere = metricsEndpoint.where()
  return {
    version,
    node: process.version,
    address,
    metrics: metricsWhere === 'public' ? `${address}/metrics` : `${metricsWhere}/metrics`,
    console: consoleAddress(app, address) ?? 'off',
    docs: `${address}/docs`,
    configFile: config.configFile,
    kinesis: {
      mode: kinesis.mode,
      endpoint: kinesis.endpoint ?? `AWS ${kinesis.region}`,
      region: kinesis.region,
      chosenBy: targetReason(kinesis),
      ...((kinesis.ignored ?? []).length > 0 ? { ignored: kinesis.ignored } : {}),
      createStreams: kinesis.createStreams
    },
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

/** The console's URL (on the gateway's port or on the metrics listener), or undefined when it is off. */
export function consoleAddress (app: FastifyInstance, address: string): string | undefined {
  const { config, metricsEndpoint } = app.gateway
  if (!config.console.enabled) return undefined
  return `${config.console.listener === 'metrics' ? metricsEndpoint.where() : address}/console`
}

/** The start line's message: version, address, and the Kinesis target with what chose it. */
export function startMessage (version: string, address: string, kinesis: KinesisConfig): string {
  return `kinesis-gateway ${version} started on ${address}, writing to ${targetSummary(kinesis)}`
}

export interface TryIt {
  readonly curl: string
  readonly tail: string
}

/** Single-quotes a value for a POSIX shell when it needs it. */
function shellWord (value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`
}

/**
 * The commands the development start prints, built so that they work as printed from the same
 * folder: the port the gateway really listens on, and for `tail` the settings by which it finds
 * this gateway's embedded server (a non-default KINESIS_LOCAL_PORT, GATEWAY_CONFIG, and
 * KINESIS_MODE=embedded when that is what kept this gateway off AWS).
 */
export function tryIt (opts: { kinesis: KinesisConfig, configFile: string, cwd: string, channel: string, host: string, port: number }): TryIt {
  const { kinesis, configFile, cwd, channel } = opts
  const local = ['0.0.0.0', '::', '127.0.0.1', '::1', 'localhost'].includes(opts.host)
  const host = local ? 'localhost' : opts.host.includes(':') ? `[${opts.host}]` : opts.host
  const curl = `curl -d '{"key1":"value1"}' -H 'Content-Type: application/json' http://${host}:${opts.port}/v1/${channel}`
  const env: string[] = []
  if (kinesis.chosenBy === 'KINESIS_MODE') env.push('KINESIS_MODE=embedded')
  const embeddedPort = kinesis.endpoint !== undefined ? Number(new URL(kinesis.endpoint).port) : kinesis.embeddedPort
  if (embeddedPort !== DEFAULTS.embeddedKinesisPort) env.push(`KINESIS_LOCAL_PORT=${embeddedPort}`)
  if (configFile !== resolve(cwd, DEFAULTS.configFile)) {
    const rel = relative(cwd, configFile)
    env.push(`GATEWAY_CONFIG=${shellWord(rel.startsWith('..') || isAbsolute(rel) ? configFile : rel)}`)
  }
  return { curl, tail: `${env.map((e) => e + ' ').join('')}npx kinesis-gateway tail ${channel}` }
}
