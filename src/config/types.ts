/** The validated, typed configuration the whole gateway runs on. Built once by load-config.ts. */

export type PartitionKeySource =
  | { readonly kind: 'random' }
  /** RFC 6901 JSON pointer into the event, pre-split into unescaped tokens. */
  | { readonly kind: 'pointer', readonly pointer: string, readonly tokens: readonly string[] }
  /** Lower-cased request header name. */
  | { readonly kind: 'header', readonly header: string }
  /** The input format's own key per event (Segment: userId, else anonymousId); the event id without one. */
  | { readonly kind: 'format' }

export type RecordFormat = 'envelope' | 'raw'

/**
 * What a channel's POST body is (src/ingest/formats/): our own JSON/NDJSON events, the Segment
 * HTTP tracking API, or OTLP/HTTP log exports. A format only decodes; the pipeline is the same.
 */
export type InputFormat = 'json' | 'segment' | 'otlp-logs'

export interface ChannelConfig {
  readonly name: string
  readonly stream: string
  /** Absolute path of the channel's JSON Schema file. */
  readonly schemaFile: string
  readonly partitionKey: PartitionKeySource
  readonly record: RecordFormat
  readonly format: InputFormat
  readonly maxEventsPerRequest: number
  readonly ack: AckMode
  /** KPL aggregation of many events per Kinesis record (delivery/kpl-aggregator.ts); null = off. */
  readonly aggregate: AggregateConfig | null
  /** Who may write: 'open' (no key needed) or 'api-key' (front-door.ts). */
  readonly access: ChannelAccess
  /** Per-channel throttle, shared by all clients of the channel; undefined = only the global limit. */
  readonly rateLimit: RateLimit | undefined
  /** Browser origins allowed to call this channel (CORS); empty = no CORS headers. '*' allows any. */
  readonly corsOrigins: readonly string[]
  /** Accept navigator.sendBeacon bodies: text/plain holding JSON. */
  readonly beacon: boolean
  /** reject: one invalid event rejects the request (all or nothing); partial: valid events are written, 207. */
  readonly invalid: InvalidMode
  /** Stream that keeps events rejected by validation (and bodies that are not JSON); undefined = none. */
  readonly quarantine: string | undefined
  /** The URL is /v{version}/{path}: several schema versions of one channel are served side by side. */
  readonly version: number
  readonly path: string
  /** Set when the channel's version was given in the configuration: the envelope then names it. */
  readonly versioned: boolean
  /** A deprecated version answers with Deprecation, Sunset and Link headers; null = current. */
  readonly deprecated: Deprecation | null
  /** Largest record (data plus partition key), up to Kinesis' 10 MiB for streams with large records. */
  readonly maxRecordBytes: number
}

export interface Deprecation {
  /** Unix seconds since when the version is deprecated (RFC 9745), or when the configuration was loaded. */
  readonly since: number
  /** When it stops answering (RFC 8594), as an HTTP-date; undefined = not announced. */
  readonly sunset: string | undefined
  /** The path of the version to move to, e.g. /v2/orders. */
  readonly successor: string | undefined
}

export type InvalidMode = 'reject' | 'partial'

export interface AggregateConfig {
  /** Most bytes of one aggregated Kinesis record (data plus partition key). */
  readonly maxBytes: number
  /** Most events in one aggregated Kinesis record. */
  readonly maxEvents: number
}

export type ChannelAccess = 'open' | 'api-key'

/** A token bucket: `perSecond` tokens refill continuously, up to `burst` can be spent at once. */
export interface RateLimit {
  readonly perSecond: number
  readonly burst: number
}

/** One client or partner allowed to write with an x-api-key header. */
export interface ApiKeyConfig {
  /** The key's id: goes into logs and records as client_id; the key itself never does. */
  readonly id: string
  /** SHA-256 of the key, 32 bytes. */
  readonly sha256: Buffer
  /** Channels this key may write; '*' = every channel. */
  readonly channels: readonly string[] | '*'
  readonly rateLimit: RateLimit | undefined
  /** Requests per UTC day; undefined = unlimited. */
  readonly dailyQuota: number | undefined
}

export interface FrontDoorConfig {
  /** The global throttle of the whole gateway (of all instances together when Redis is configured). */
  readonly rateLimit: RateLimit
  readonly redis: RedisConfig | undefined
  readonly apiKeys: readonly ApiKeyConfig[]
  readonly idempotency: IdempotencyConfig
}

export interface RedisConfig {
  readonly url: string
  readonly keyPrefix: string
  /** A Redis call slower than this counts as Redis being down (local limits are used). */
  readonly commandTimeoutMs: number
}

export interface IdempotencyConfig {
  /** How long a first answer is kept and replayed. */
  readonly windowSeconds: number
  /** Cap of the answers each instance keeps in memory (with or without Redis); the oldest go first. */
  readonly maxEntriesInMemory: number
}

/**
 * Where records go.
 * - embedded: an in-process kinesalite (development only, refused when NODE_ENV=production);
 * - endpoint: any Kinesis-API URL (LocalStack, kinesis-local, a VPC endpoint);
 * - aws: the regional AWS endpoint with the standard credential chain.
 */
export type KinesisMode = 'embedded' | 'endpoint' | 'aws'

/**
 * The setting that chose the mode, named as the user wrote it (an environment variable or a key
 * of the file); "default" when nothing did (development: the embedded server).
 */
export type KinesisChooser = 'KINESIS_MODE' | 'KINESIS_ENDPOINT' | 'kinesis.endpoint' | 'AWS_REGION' | 'AWS_DEFAULT_REGION' | 'kinesis.region' | 'default'

export interface KinesisConfig {
  readonly mode: KinesisMode
  /**
   * What chose `mode` (reported by the start line and every CLI command). Optional so that
   * configurations built by hand (tests, benchmarks) stay valid; load-config.ts always sets it.
   */
  readonly chosenBy?: KinesisChooser
  /** Settings present but not used because KINESIS_MODE chose another target (e.g. "AWS_REGION"). */
  readonly ignored?: readonly string[]
  readonly region: string
  /** Set for embedded and endpoint modes. */
  readonly endpoint: string | undefined
  readonly embeddedPort: number
  /** A loopback endpoint with no AWS credentials in the environment: sign with fixed local ones. */
  readonly localCredentials: boolean
  /** Create missing streams at start (always true in embedded mode). */
  readonly createStreams: boolean
  readonly createdStreamShards: number
  readonly connectTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly maxSockets: number
}

export interface DeliveryConfig {
  readonly lingerMs: number
  readonly maxInFlightPerStream: number
  readonly recordDeadlineMs: number
  readonly retryBaseMs: number
  readonly retryMaxMs: number
  /** Records and bytes held per stream (queued, in flight, retrying); beyond them requests get 503. */
  readonly maxBufferedRecordsPerStream: number
  readonly maxBufferedBytesPerStream: number
  /** Pace records per shard (ListShards + MD5 of the partition key) to stay under the shard limits. */
  readonly shardAware: boolean
  readonly shardRecordsPerSecond: number
  readonly shardBytesPerSecond: number
  readonly shardRefreshMs: number
}

/**
 * When a request is answered (docs/reliability.md):
 * - delivered: after Kinesis accepted every record (200), or 503 saying which were not written;
 * - buffered: 202 once in the bounded in-memory buffer (a crash loses what is buffered);
 * - spool: 202 once appended to the local disk spool and fsynced (survives kill -9).
 */
export type AckMode = 'delivered' | 'buffered' | 'spool'

export interface SpoolConfig {
  /** Folder of the spool (one sub-folder per stream). */
  readonly dir: string
  /** Disk budget per stream: appends beyond it get 503 with Retry-After. */
  readonly maxBytes: number
  /** Size at which a segment file is closed and a new one started. */
  readonly segmentBytes: number
  /** How often the shipper's checkpoint is written (records shipped since may be sent again after a crash). */
  readonly checkpointIntervalMs: number
}

export interface ShutdownConfig {
  /** After SIGTERM, /readyz answers 503 but requests are still served this long (load balancer deregistration). */
  readonly graceMs: number
  /** Then: time allowed to finish requests and flush buffered records before the process exits anyway. */
  readonly deadlineMs: number
}

export interface ServerConfig {
  readonly host: string
  readonly port: number
  readonly bodyLimitBytes: number
  readonly connectionTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly keepAliveTimeoutMs: number
  /** Honour X-Forwarded-For from these proxies (Fastify trustProxy); false = use the socket address. */
  readonly trustProxy: boolean | string | string[]
  /** Worker processes behind the port (node:cluster); 1 runs the gateway in this process. */
  readonly workers: number
  /** Time a client has to send the complete request headers (slowloris). */
  readonly headersTimeoutMs: number
  /** Larger request headers are answered 431 (Node's maxHeaderSize). */
  readonly maxHeaderBytes: number
  /** Requests with more header lines are answered 431 (GW_ERR_TOO_MANY_HEADERS). */
  readonly maxHeaders: number
  /** Requests of one connection held unanswered at once (pipelining); beyond, the connection is closed. */
  readonly maxPipelinedRequests: number
  /** Unread answer bytes queued for one connection past which none of its requests is started. */
  readonly maxQueuedAnswerBytes: number
  /** A connection whose queued answers are not read for this long is closed. */
  readonly writeTimeoutMs: number
}

/**
 * Where GET /metrics is served: on the public listener (`port` undefined) or on a listener of its
 * own. The public listener serves it only in development or with `metrics.public: true`.
 */
export interface MetricsConfig {
  readonly port: number | undefined
  readonly host: string
}

/**
 * The operator console (/console, docs/console.md). Open on the gateway's port in development;
 * in production off unless `console.enabled: true`, and then served on the metrics listener, or
 * on the public port only behind an admin key.
 */
export interface ConsoleConfig {
  readonly enabled: boolean
  /** "public": the gateway's own port; "metrics": the separate metrics listener (metrics.port). */
  readonly listener: 'public' | 'metrics'
  /** SHA-256 of the admin key (x-admin-key, or the password of the browser's login prompt); undefined = no key asked. */
  readonly adminKeySha256: Buffer | undefined
  /** Why the console is where it is (or off): what check-config prints. */
  readonly reason: string
  /** The same for NODE_ENV=production with this file (check-config runs without NODE_ENV), with what would be refused. */
  readonly inProduction: string
}

export interface LoggingConfig {
  /** json: one JSON object per line; pretty: pino-pretty; auto: pretty when stdout is a terminal. */
  readonly format: 'json' | 'pretty' | 'auto'
  /** Share of successful (< 400) requests that get a log line; errors are always logged. */
  readonly successSampleRate: number
}

export interface GatewayConfig {
  /** Absolute path of the file this was read from (used in messages). */
  readonly configFile: string
  readonly production: boolean
  readonly logLevel: string
  readonly server: ServerConfig
  readonly kinesis: KinesisConfig
  readonly delivery: DeliveryConfig
  readonly readinessRefreshMs: number
  readonly metrics: MetricsConfig
  readonly console: ConsoleConfig
  readonly logging: LoggingConfig
  readonly spool: SpoolConfig
  readonly shutdown: ShutdownConfig
  readonly channels: ReadonlyMap<string, ChannelConfig>
  /** Extra paths that POST to a channel (an API Gateway stage path such as /prod/v1), path -> channel. */
  readonly aliases: ReadonlyMap<string, string>
  /** Throttling, API keys, idempotency (docs/front-door.md). */
  readonly frontDoor: FrontDoorConfig
}
