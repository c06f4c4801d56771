/** The validated, typed configuration the whole gateway runs on. Built once by load-config.ts. */

export type PartitionKeySource =
  | { readonly kind: 'random' }
  /** RFC 6901 JSON pointer into the event, pre-split into unescaped tokens. */
  | { readonly kind: 'pointer', readonly pointer: string, readonly tokens: readonly string[] }
  /** Lower-cased request header name. */
  | { readonly kind: 'header', readonly header: string }

export type RecordFormat = 'envelope' | 'raw'

export interface ChannelConfig {
  readonly name: string
  readonly stream: string
  /** Absolute path of the channel's JSON Schema file. */
  readonly schemaFile: string
  readonly partitionKey: PartitionKeySource
  readonly record: RecordFormat
  readonly maxEventsPerRequest: number
  /** KPL aggregation of many events per Kinesis record (delivery/kpl-aggregator.ts); null = off. */
  readonly aggregate: AggregateConfig | null
}

export interface AggregateConfig {
  /** Most bytes of one aggregated Kinesis record (data plus partition key). */
  readonly maxBytes: number
  /** Most events in one aggregated Kinesis record. */
  readonly maxEvents: number
}

/**
 * Where records go.
 * - embedded: an in-process kinesalite (development only, refused when NODE_ENV=production);
 * - endpoint: any Kinesis-API URL (LocalStack, kinesis-local, a VPC endpoint);
 * - aws: the regional AWS endpoint with the standard credential chain.
 */
export type KinesisMode = 'embedded' | 'endpoint' | 'aws'

export interface KinesisConfig {
  readonly mode: KinesisMode
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
  readonly channels: ReadonlyMap<string, ChannelConfig>
}
