import { readFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { dirname, resolve } from 'node:path'
import { Ajv, type ErrorObject } from 'ajv'
import { parse as parseYaml } from 'yaml'
import { ConfigError } from './config-error.js'
import { configFileSchema, FIX_HINTS } from './config-schema.js'
import { consoleSettings, type RawConsole } from './console-config.js'
import { channelFrontDoor, frontDoorSettings, type RawChannelFrontDoor, type RawFrontDoor } from './front-door-config.js'
import { DEFAULTS, KINESIS_MAX_RECORD_BYTES } from './limits.js'
import type { ChannelConfig, Deprecation, GatewayConfig, InputFormat, KinesisChooser, KinesisConfig, PartitionKeySource } from './types.js'

export type Env = Readonly<Record<string, string | undefined>>

interface RawChannel extends RawChannelFrontDoor {
  stream: string
  schema: string
  partitionKey?: string
  record?: 'envelope' | 'raw'
  format?: InputFormat
  maxEventsPerRequest?: number
  aggregate?: boolean | { maxBytes?: number, maxEvents?: number }
  ack?: 'delivered' | 'buffered' | 'spool'
  invalid?: 'reject' | 'partial'
  quarantine?: string
  version?: number
  path?: string
  deprecated?: boolean | { since?: string, sunset?: string, successor?: string }
  maxRecordBytes?: number
}

interface RawConfig extends RawFrontDoor {
  server?: {
    bodyLimitBytes?: number
    connectionTimeoutMs?: number
    requestTimeoutMs?: number
    keepAliveTimeoutMs?: number
    headersTimeoutMs?: number
    maxHeaderBytes?: number
    maxHeaders?: number
    maxPipelinedRequests?: number
    maxQueuedAnswerBytes?: number
    writeTimeoutMs?: number
    trustProxy?: boolean | string | string[]
    workers?: number | 'auto'
  }
  kinesis?: {
    region?: string
    endpoint?: string
    createStreams?: boolean
    shards?: number
    connectTimeoutMs?: number
    requestTimeoutMs?: number
    maxSockets?: number
  }
  delivery?: {
    lingerMs?: number
    maxInFlightPerStream?: number
    recordDeadlineMs?: number
    retryBaseMs?: number
    retryMaxMs?: number
    maxBufferedRecordsPerStream?: number
    maxBufferedBytesPerStream?: number
    shardAware?: boolean
    shardRecordsPerSecond?: number
    shardBytesPerSecond?: number
    shardRefreshMs?: number
  }
  spool?: { dir?: string, maxBytes?: number, segmentBytes?: number, checkpointIntervalMs?: number }
  shutdown?: { graceMs?: number, deadlineMs?: number }
  readinessRefreshMs?: number
  metrics?: { port?: number, host?: string, public?: boolean }
  console?: RawConsole
  logging?: { format?: 'json' | 'pretty' | 'auto', successSampleRate?: number }
  channels: Record<string, RawChannel>
  aliases?: Record<string, string>
}

const validateFile = new Ajv({ allErrors: true, strict: true }).compile<RawConfig>(configFileSchema)

/** The path of the configuration file: GATEWAY_CONFIG, or the default beside the working directory. */
export function configFilePath (env: Env = process.env, cwd = process.cwd()): string {
  return resolve(cwd, env.GATEWAY_CONFIG ?? DEFAULTS.configFile)
}

/**
 * The process environment with some variables replaced (undefined removes one): how the CLI applies
 * its flags (--endpoint, a config file argument) without reading process.env itself.
 */
export function envWith (overrides: Env, env: Env = process.env): Env {
  const out: Record<string, string | undefined> = { ...env }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete out[key]
    else out[key] = value
  }
  return out
}

/**
 * Switches off the AWS SDK's own multi-line Node-version notice (ops/node-support.ts says it in
 * one line instead), unless the user set the SDK's variable. The SDK reads the variable from
 * process.env when the first client is created, so the entries call this before creating any.
 * Returns whether the gateway took the notice over (and should say its one line).
 */
export function quietSdkNodeWarning (env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED !== undefined) return false
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  return true
}

/** Reads, validates and types the configuration. Throws ConfigError listing every problem. */
export async function loadConfig (env: Env = process.env, cwd = process.cwd()): Promise<GatewayConfig> {
  const file = configFilePath(env, cwd)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const how = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : `unreadable (${(err as Error).message})`
    throw new ConfigError([`${file}: ${how}. Fix: set GATEWAY_CONFIG to your configuration file, or run from the project folder that holds ${DEFAULTS.configFile}`])
  }
  return parseConfig(text, file, env)
}

/** `deprecated: true | { since, sunset, successor }`: dates must parse; the headers' values are made here. */
function deprecationOf (raw: RawChannel['deprecated'], where: string, problems: string[]): Deprecation | null {
  if (raw === undefined || raw === false) return null
  const spec = raw === true ? {} : raw
  const dateOf = (value: string | undefined, key: string): number | undefined => {
    if (value === undefined) return undefined
    const ms = Date.parse(value)
    if (Number.isNaN(ms)) {
      problems.push(`${where}.${key}: "${value}" is not a date. Fix: use an ISO 8601 date such as 2027-06-30 or 2027-06-30T00:00:00Z`)
      return undefined
    }
    return ms
  }
  const since = dateOf(spec.since, 'since') ?? Date.now()
  const sunset = dateOf(spec.sunset, 'sunset')
  return { since: Math.floor(since / 1000), sunset: sunset === undefined ? undefined : new Date(sunset).toUTCString(), successor: spec.successor }
}

/** Paths an alias may not take: the gateway's own routes. */
const RESERVED_PATH = /^\/(v\d+(\/|$)|healthz\/?$|readyz\/?$|metrics\/?$|console(\/|$)|docs(\/|$)|openapi\.(json|yaml)$|$)/

/** Validates configuration text (YAML or JSON) read from `file`, with environment overrides. */
export function parseConfig (text: string, file: string, env: Env = process.env): GatewayConfig {
  let raw: unknown
  try {
    raw = parseYaml(text)
  } catch (err) {
    throw new ConfigError([`${file}: not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}. Fix: correct the syntax at that line`])
  }
  if (!validateFile(raw)) {
    // ajv reports a bad channel name twice: the inner `pattern` failure and the `propertyNames` one; keep the latter.
    throw new ConfigError((validateFile.errors ?? []).filter((e) => !e.schemaPath.includes('/propertyNames/'))
      .map((e) => describeSchemaError(file, e)))
  }

  const problems: string[] = []
  const production = env.NODE_ENV === 'production'
  const kinesis = kinesisSettings(raw, env, production, file, problems)
  const port = portFrom(env.PORT, 'PORT', DEFAULTS.port, problems)
  const metricsPort = metricsPortOf(raw, env, production, file, problems)
  const consoleConfig = consoleSettings(raw.console, production, metricsPort, file, problems,
    production ? metricsPort : metricsPortOf(raw, env, true, file, []))
  const logFormat = env.LOG_FORMAT ?? raw.logging?.format ?? 'auto'
  if (logFormat !== 'json' && logFormat !== 'pretty' && logFormat !== 'auto') {
    problems.push(`LOG_FORMAT: "${logFormat}". Fix: use json, pretty or auto (pretty on a terminal, else json)`)
  }
  const channels = new Map<string, ChannelConfig>()
  const baseDir = dirname(file)
  const anyApiKeys = Object.keys(raw.apiKeys ?? {}).length > 0
  for (const [name, ch] of Object.entries(raw.channels)) {
    const format = ch.format ?? 'json'
    // Segment messages carry their user: by default they are keyed by it, so one user's events stay in order.
    const partitionKey = ch.partitionKey === undefined && format === 'segment' ? { kind: 'format' } as const : parsePartitionKey(ch.partitionKey ?? 'random')
    if (typeof partitionKey === 'string') {
      problems.push(`${file}: channels.${name}.partitionKey: ${partitionKey}. Fix: ${FIX_HINTS['channels.*.partitionKey']}`)
      continue
    }
    if (format !== 'json' && ch.invalid !== undefined) {
      problems.push(`${file}: channels.${name}.invalid: does not apply to a format: ${format} channel, whose events are always taken one by one ` +
        '(valid ones written, invalid ones counted in the answer, as its protocol defines). Fix: remove it (see docs/formats.md)')
      continue
    }
    if (format === 'json' && ch.maxEventsPerRequest !== undefined && ch.maxEventsPerRequest > DEFAULTS.maxEventsPerRequest) {
      problems.push(`${file}: channels.${name}.maxEventsPerRequest: must be <= ${DEFAULTS.maxEventsPerRequest} on a JSON channel. ` +
        'Fix: lower it (one request is at most one PutRecords call\'s worth of events); format: segment and otlp-logs channels take more')
      continue
    }
    channels.set(name, {
      name,
      stream: ch.stream,
      schemaFile: resolve(baseDir, ch.schema),
      partitionKey,
      record: ch.record ?? 'envelope',
      format,
      maxEventsPerRequest: ch.maxEventsPerRequest ?? (format === 'segment'
        ? DEFAULTS.segmentMaxEventsPerRequest
        : format === 'otlp-logs' ? DEFAULTS.otlpMaxEventsPerRequest : DEFAULTS.maxEventsPerRequest),
      aggregate: ch.aggregate === undefined || ch.aggregate === false
        ? null
        : {
            maxBytes: (ch.aggregate === true ? undefined : ch.aggregate.maxBytes) ?? DEFAULTS.aggregateMaxBytes,
            maxEvents: (ch.aggregate === true ? undefined : ch.aggregate.maxEvents) ?? DEFAULTS.aggregateMaxEvents
          },
      ack: ch.ack ?? 'delivered',
      // Format channels take events one by one, as their protocols define (docs/formats.md).
      invalid: format === 'json' ? (ch.invalid ?? 'reject') : 'partial',
      quarantine: ch.quarantine,
      version: ch.version ?? 1,
      path: ch.path ?? name,
      versioned: ch.version !== undefined,
      deprecated: deprecationOf(ch.deprecated, `${file}: channels.${name}.deprecated`, problems),
      maxRecordBytes: ch.maxRecordBytes ?? KINESIS_MAX_RECORD_BYTES,
      ...channelFrontDoor(ch, anyApiKeys)
    })
  }
  const frontDoor = frontDoorSettings(raw, raw.channels, env, file, problems)
  const routes = new Map<string, string>()
  for (const c of channels.values()) {
    const route = `/v${c.version}/${c.path}`
    const other = routes.get(route)
    if (other !== undefined) {
      problems.push(`${file}: channels.${c.name}: channel ${other} is served at ${route} already. Fix: give one of them another version or path`)
    }
    routes.set(route, c.name)
  }
  const aliases = new Map<string, string>()
  for (const [path, channel] of Object.entries(raw.aliases ?? {})) {
    if (!channels.has(channel)) {
      problems.push(`${file}: aliases.${path}: channel "${channel}" is not configured. Fix: name one of ${[...channels.keys()].join(', ')}`)
    } else if (RESERVED_PATH.test(path)) {
      problems.push(`${file}: aliases.${path}: the gateway's own routes use this path. Fix: choose a path outside /v1/, /healthz, /readyz, /metrics, /console, /docs and /openapi.* (e.g. /prod/v1)`)
    } else {
      aliases.set(path.length > 1 ? path.replace(/\/+$/, '') : path, channel)
    }
  }
  // Only whole (sealed) segments are deleted once shipped: the budget must hold several of them.
  const segmentBytes = raw.spool?.segmentBytes ?? DEFAULTS.spoolSegmentBytes
  const spoolMaxBytes = raw.spool?.maxBytes ?? DEFAULTS.spoolMaxBytes
  if (segmentBytes * 4 > spoolMaxBytes) {
    problems.push(`${file}: spool.segmentBytes: ${segmentBytes} is more than a quarter of spool.maxBytes (${spoolMaxBytes}). ` +
      'Fix: lower spool.segmentBytes or raise spool.maxBytes (shipped space is freed a whole segment at a time)')
  }
  const delivery = raw.delivery ?? {}
  const server = raw.server ?? {}
  const workers = workerCount(env.WORKERS ?? server.workers, production, kinesis.mode, file, problems)
  if (problems.length > 0) throw new ConfigError(problems)
  return {
    configFile: file,
    production,
    logLevel: env.LOG_LEVEL ?? 'info',
    server: {
      host: env.HOST ?? DEFAULTS.host,
      port,
      bodyLimitBytes: server.bodyLimitBytes ?? DEFAULTS.bodyLimitBytes,
      connectionTimeoutMs: server.connectionTimeoutMs ?? DEFAULTS.connectionTimeoutMs,
      requestTimeoutMs: server.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      keepAliveTimeoutMs: server.keepAliveTimeoutMs ?? DEFAULTS.keepAliveTimeoutMs,
      trustProxy: server.trustProxy ?? false,
      headersTimeoutMs: server.headersTimeoutMs ?? DEFAULTS.headersTimeoutMs,
      maxHeaderBytes: server.maxHeaderBytes ?? DEFAULTS.maxHeaderBytes,
      maxHeaders: server.maxHeaders ?? DEFAULTS.maxHeaders,
      maxPipelinedRequests: server.maxPipelinedRequests ?? DEFAULTS.maxPipelinedRequests,
      maxQueuedAnswerBytes: server.maxQueuedAnswerBytes ?? DEFAULTS.maxQueuedAnswerBytes,
      writeTimeoutMs: server.writeTimeoutMs ?? DEFAULTS.writeTimeoutMs,
      workers
    },
    kinesis,
    delivery: {
      lingerMs: delivery.lingerMs ?? DEFAULTS.lingerMs,
      maxInFlightPerStream: delivery.maxInFlightPerStream ?? DEFAULTS.maxInFlightPerStream,
      recordDeadlineMs: delivery.recordDeadlineMs ?? DEFAULTS.recordDeadlineMs,
      retryBaseMs: delivery.retryBaseMs ?? DEFAULTS.retryBaseMs,
      retryMaxMs: delivery.retryMaxMs ?? DEFAULTS.retryMaxMs,
      maxBufferedRecordsPerStream: delivery.maxBufferedRecordsPerStream ?? DEFAULTS.maxBufferedRecordsPerStream,
      maxBufferedBytesPerStream: delivery.maxBufferedBytesPerStream ?? DEFAULTS.maxBufferedBytesPerStream,
      shardAware: delivery.shardAware ?? DEFAULTS.shardAware,
      shardRecordsPerSecond: delivery.shardRecordsPerSecond ?? DEFAULTS.shardRecordsPerSecond,
      shardBytesPerSecond: delivery.shardBytesPerSecond ?? DEFAULTS.shardBytesPerSecond,
      shardRefreshMs: delivery.shardRefreshMs ?? DEFAULTS.shardRefreshMs
    },
    readinessRefreshMs: raw.readinessRefreshMs ?? DEFAULTS.readinessRefreshMs,
    spool: {
      dir: resolve(baseDir, raw.spool?.dir ?? DEFAULTS.spoolDir),
      maxBytes: raw.spool?.maxBytes ?? DEFAULTS.spoolMaxBytes,
      segmentBytes: raw.spool?.segmentBytes ?? DEFAULTS.spoolSegmentBytes,
      checkpointIntervalMs: raw.spool?.checkpointIntervalMs ?? DEFAULTS.spoolCheckpointIntervalMs
    },
    shutdown: {
      graceMs: raw.shutdown?.graceMs ?? DEFAULTS.shutdownGraceMs,
      deadlineMs: raw.shutdown?.deadlineMs ?? DEFAULTS.shutdownDeadlineMs
    },
    metrics: { port: metricsPort, host: raw.metrics?.host ?? env.HOST ?? DEFAULTS.host },
    console: consoleConfig,
    logging: {
      format: logFormat as GatewayConfig['logging']['format'],
      successSampleRate: raw.logging?.successSampleRate ?? DEFAULTS.logSuccessSampleRate
    },
    channels,
    aliases,
    frontDoor
  }
}

const KINESIS_MODES = ['auto', 'embedded', 'endpoint', 'aws'] as const

/**
 * Which Kinesis the gateway and the CLI talk to, and what chose it. KINESIS_MODE, when set, decides
 * alone (settings of the other targets are then reported as ignored); otherwise, in this order: an
 * endpoint (KINESIS_ENDPOINT, kinesis.endpoint), a region (AWS_REGION, AWS_DEFAULT_REGION,
 * kinesis.region), else the embedded development server (refused in production). AWS_PROFILE and
 * credentials never choose: they only sign the calls once AWS is chosen.
 */
function kinesisSettings (raw: RawConfig, env: Env, production: boolean, file: string, problems: string[]): KinesisConfig {
  const k = raw.kinesis ?? {}
  const endpointFrom: KinesisChooser | undefined = env.KINESIS_ENDPOINT !== undefined ? 'KINESIS_ENDPOINT' : k.endpoint !== undefined ? 'kinesis.endpoint' : undefined
  const endpoint = env.KINESIS_ENDPOINT ?? k.endpoint
  const regionFrom: KinesisChooser | undefined = env.AWS_REGION !== undefined
    ? 'AWS_REGION'
    : env.AWS_DEFAULT_REGION !== undefined ? 'AWS_DEFAULT_REGION' : k.region !== undefined ? 'kinesis.region' : undefined
  const explicitRegion = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? k.region
  const embeddedPort = portFrom(env.KINESIS_LOCAL_PORT, 'KINESIS_LOCAL_PORT', DEFAULTS.embeddedKinesisPort, problems)
  if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint)) {
    problems.push(`KINESIS_ENDPOINT: "${endpoint}" is not an http(s) URL. Fix: ${FIX_HINTS['kinesis.endpoint']}`)
  }
  const requested = env.KINESIS_MODE === undefined || env.KINESIS_MODE === '' ? 'auto' : env.KINESIS_MODE
  if (!(KINESIS_MODES as readonly string[]).includes(requested)) {
    problems.push(`KINESIS_MODE: "${requested}". Fix: use embedded, endpoint, aws, or auto (the default: KINESIS_ENDPOINT, else an AWS region, else embedded)`)
  }

  let mode: KinesisConfig['mode']
  let chosenBy: KinesisChooser
  const ignored: string[] = []
  if (requested === 'embedded' || requested === 'endpoint' || requested === 'aws') {
    mode = requested
    chosenBy = 'KINESIS_MODE'
    if (mode !== 'endpoint' && endpointFrom !== undefined) ignored.push(endpointFrom)
    if (mode === 'embedded' && regionFrom !== undefined) ignored.push(regionFrom)
    if (mode === 'endpoint' && endpoint === undefined) {
      problems.push('KINESIS_MODE: "endpoint" without an endpoint. Fix: set KINESIS_ENDPOINT (or kinesis.endpoint) to the Kinesis-API URL')
    }
    if (mode === 'aws' && explicitRegion === undefined) {
      problems.push('KINESIS_MODE: "aws" without a region. Fix: set AWS_REGION (or kinesis.region), e.g. AWS_REGION=eu-west-1')
    }
    if (mode === 'embedded' && production) {
      problems.push('KINESIS_MODE: "embedded" while NODE_ENV=production. Fix: set KINESIS_ENDPOINT or AWS_REGION; the embedded development server is never used in production')
    }
  } else if (endpointFrom !== undefined) {
    mode = 'endpoint'
    chosenBy = endpointFrom
  } else if (regionFrom !== undefined) {
    mode = 'aws'
    chosenBy = regionFrom
  } else if (production) {
    problems.push(`${file}: kinesis: no Kinesis target while NODE_ENV=production. ` +
      'Fix: set AWS_REGION (with the usual AWS credentials) or KINESIS_ENDPOINT; the embedded development server is never used in production')
    mode = 'aws'
    chosenBy = 'default'
  } else {
    mode = 'embedded'
    chosenBy = 'default'
  }

  const createStreamsEnv = env.KINESIS_CREATE_STREAMS
  if (createStreamsEnv !== undefined && createStreamsEnv !== 'true' && createStreamsEnv !== 'false') {
    problems.push(`KINESIS_CREATE_STREAMS: "${createStreamsEnv}". Fix: use true or false`)
  }
  return {
    mode,
    chosenBy,
    ignored,
    region: explicitRegion ?? DEFAULTS.region,
    endpoint: mode === 'embedded' ? `http://127.0.0.1:${embeddedPort}` : mode === 'endpoint' ? endpoint : undefined,
    embeddedPort,
    localCredentials: mode === 'embedded' || (mode === 'endpoint' && endpoint !== undefined && isLoopback(endpoint) &&
      env.AWS_ACCESS_KEY_ID === undefined && env.AWS_PROFILE === undefined),
    createStreams: mode === 'embedded' || (createStreamsEnv !== undefined ? createStreamsEnv === 'true' : (k.createStreams ?? false)),
    createdStreamShards: k.shards ?? DEFAULTS.createdStreamShards,
    connectTimeoutMs: k.connectTimeoutMs ?? DEFAULTS.kinesisConnectTimeoutMs,
    requestTimeoutMs: k.requestTimeoutMs ?? DEFAULTS.kinesisRequestTimeoutMs,
    maxSockets: k.maxSockets ?? DEFAULTS.kinesisMaxSockets
  }
}

/**
 * The port of the separate /metrics listener, or undefined for the public one. /metrics is the
 * largest answer a client can make the gateway produce and it shows the gateway's internals, so
 * in production it is not on the public port unless asked for (docs/operations.md); in
 * development (`npm start`) it stays there, one curl away.
 */
function metricsPortOf (raw: RawConfig, env: Env, production: boolean, file: string, problems: string[]): number | undefined {
  const port = env.METRICS_PORT !== undefined && env.METRICS_PORT !== ''
    ? portFrom(env.METRICS_PORT, 'METRICS_PORT', 0, problems)
    : raw.metrics?.port
  const onPublic = raw.metrics?.public
  if (onPublic === true && port !== undefined) {
    problems.push(`${file}: metrics.public: true, but metrics.port / METRICS_PORT (${port}) moves /metrics to a listener of its own. ` +
      'Fix: remove metrics.public to serve /metrics only on that port, or remove the port to serve it on the public one')
  }
  if (port !== undefined || (onPublic ?? !production)) return port
  return DEFAULTS.metricsPortProduction
}

/** WORKERS / server.workers: a count, or "auto" for one worker per core (os.availableParallelism). */
function workerCount (value: number | string | undefined, production: boolean, mode: KinesisConfig['mode'], file: string, problems: string[]): number {
  const spec = value ?? (production ? DEFAULTS.workersProduction : DEFAULTS.workersDevelopment)
  const n = spec === 'auto' ? availableParallelism() : Number(spec)
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    problems.push(`WORKERS: "${String(value)}". Fix: ${FIX_HINTS['server.workers'] ?? ''}`)
    return 1
  }
  if (mode === 'embedded' && n > 1) {
    if (value === undefined || spec === 'auto') return 1
    problems.push(`${file}: server.workers / WORKERS: ${n} workers cannot share the embedded Kinesis server (it lives in one process). ` +
      'Fix: set WORKERS=1, or point KINESIS_ENDPOINT at a Kinesis server')
    return 1
  }
  return n
}

function isLoopback (endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname
    return host === 'localhost' || host === '[::1]' || host.startsWith('127.')
  } catch {
    return false
  }
}

function portFrom (value: string | undefined, name: string, fallback: number, problems: string[]): number {
  if (value === undefined || value === '') return fallback
  const port = Number(value)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    problems.push(`${name}: "${value}" is not a port. Fix: use a number from 0 to 65535`)
    return fallback
  }
  return port
}

/** "random" | "/json/pointer" | "header:<name>"; returns a reason string when invalid. */
export function parsePartitionKey (spec: string): PartitionKeySource | string {
  if (spec === 'random') return { kind: 'random' }
  if (spec.startsWith('header:')) {
    const header = spec.slice('header:'.length).trim().toLowerCase()
    if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(header)) return `"${spec}" does not name a valid HTTP header`
    return { kind: 'header', header }
  }
  if (spec.startsWith('/')) {
    if (/~[^01]|~$/.test(spec)) return `"${spec}" is not a valid JSON pointer (RFC 6901: "~" must be followed by 0 or 1)`
    const tokens = spec.slice(1).split('/').map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'))
    return { kind: 'pointer', pointer: spec, tokens }
  }
  return `"${spec}" is not a partition key source`
}

function describeSchemaError (file: string, e: ErrorObject): string {
  const key = e.instancePath.slice(1).replaceAll('/', '.') || '(top level)'
  const hintKey = key.replace(/^channels\.[^.]+\./, 'channels.*.').replace(/^apiKeys\.[^.]+\./, 'apiKeys.*.').replace(/\.\d+$/, '')
  let what = e.message ?? 'is invalid'
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty
    return `${file}: ${key === '(top level)' ? '' : key + '.'}${extra}: unknown key. Fix: remove it or check its spelling`
  }
  if (e.keyword === 'propertyNames' && key === 'apiKeys') {
    return `${file}: apiKeys: key id "${(e.params as { propertyName: string }).propertyName}" is not allowed. ` +
      'Fix: use 1-64 letters, digits, "_", "." or "-" (it is recorded as client_id)'
  }
  if (e.keyword === 'propertyNames') {
    return `${file}: ${key}: channel name "${(e.params as { propertyName: string }).propertyName}" is not allowed. ` +
      'Fix: use 1-64 lower-case letters, digits, "_" or "-", starting with a letter or digit (it becomes the URL /v1/<name>)'
  }
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty
    const path = key === '(top level)' ? missing : `${key}.${missing}`
    const missingHint = FIX_HINTS[path.replace(/^channels\.[^.]+\./, 'channels.*.')] ?? `add ${path}`
    return `${file}: ${path}: missing. Fix: ${missingHint}`
  }
  if (key === '(top level)' && e.keyword === 'type') {
    return `${file}: the file is empty or not a YAML mapping. Fix: ${FIX_HINTS.channels ?? 'add channels'}`
  }
  if (e.keyword === 'enum') what = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`
  const hint = FIX_HINTS[hintKey] ?? `change ${key}: it ${what}`
  return `${file}: ${key}: ${what}. Fix: ${hint}`
}
