/**
 * Every default and hard limit of the gateway, in one place.
 *
 * Kinesis service limits are quoted from the Kinesis Data Streams developer guide,
 * "Quotas and limits" and the PutRecords API reference.
 */

/** PutRecords: at most 500 records per call. */
export const KINESIS_MAX_RECORDS_PER_PUT = 500
/** PutRecords: at most 5 MiB per call, counting data and partition keys. */
export const KINESIS_MAX_BYTES_PER_PUT = 5 * 1024 * 1024
/** A record's data blob plus its partition key is at most 1 MiB. */
export const KINESIS_MAX_RECORD_BYTES = 1024 * 1024
/** Partition keys are Unicode strings of 1 to 256 characters. */
export const KINESIS_MAX_PARTITION_KEY_CHARS = 256
/** Stream names: 1-128 characters of [a-zA-Z0-9_.-]. */
export const KINESIS_STREAM_NAME = /^[a-zA-Z0-9_.-]{1,128}$/

export const DEFAULTS = {
  port: 8080,
  host: '0.0.0.0',
  configFile: 'kinesis-gateway.yaml',
  region: 'us-east-1',
  /** kinesalite's own default port; the `tail` command finds the embedded server here. */
  embeddedKinesisPort: 4567,
  /** Shards of a stream the gateway creates itself (embedded server, `streams create`). */
  createdStreamShards: 1,
  /** API Gateway's default payload limit is 10 MB; 5 MiB is what one PutRecords call carries. */
  bodyLimitBytes: 5 * 1024 * 1024,
  /** Same as one PutRecords call, so a request never needs more than one call's worth of records. */
  maxEventsPerRequest: 500,
  /** Segment's batch endpoint takes up to 2,500 calls (its SDKs send far fewer: flushAt, 500 KB). */
  segmentMaxEventsPerRequest: 2_500,
  /**
   * OTLP exporters batch more than 500 records (the SDK's BatchLogRecordProcessor 512, the
   * Collector's batch processor 8,192) and drop an export refused with 413: room for both.
   */
  otlpMaxEventsPerRequest: 10_000,
  /**
   * KPL aggregation: Kinesis bills 25 KB PUT payload units per record, so an aggregate of at most
   * 25,000 bytes (data plus key) costs exactly one unit, whether KB means 1,000 or 1,024 bytes.
   */
  aggregateMaxBytes: 25_000,
  aggregateMaxEvents: 1_000,
  /** Time a partly filled PutRecords batch waits for more records before it is sent. */
  lingerMs: 5,
  /** PutRecords calls in flight per stream. */
  maxInFlightPerStream: 8,
  /** A record not accepted by Kinesis within this time is reported back as not written. */
  recordDeadlineMs: 10_000,
  /** Full-jitter exponential backoff between retries of failed records. */
  retryBaseMs: 50,
  retryMaxMs: 2_000,
  /** Per-stream buffer bounds: beyond them new requests get 503 with Retry-After (memory stays flat in an outage). */
  maxBufferedRecordsPerStream: 100_000,
  maxBufferedBytesPerStream: 64 * 1024 * 1024,
  /** Shard-aware sending: a shard takes 1,000 records/s and 1 MiB/s of writes (Kinesis quotas). */
  shardAware: true,
  shardRecordsPerSecond: 1000,
  shardBytesPerSecond: 1024 * 1024,
  /** How often each stream's shard list is read again, to follow resharding. */
  shardRefreshMs: 30_000,
  /** Spool (ack: spool): folder, disk budget per stream, segment size, checkpoint interval. */
  spoolDir: 'spool-data',
  spoolMaxBytes: 1024 * 1024 * 1024,
  spoolSegmentBytes: 64 * 1024 * 1024,
  spoolCheckpointIntervalMs: 200,
  /** SIGTERM: serve this long with /readyz = 503 (0 in development; 15-30 s behind a load balancer). */
  shutdownGraceMs: 0,
  /** Then finish requests and flush buffers within this time. */
  shutdownDeadlineMs: 15_000,
  /** Socket-level limits of the Kinesis client. */
  kinesisConnectTimeoutMs: 3_000,
  kinesisRequestTimeoutMs: 5_000,
  kinesisMaxSockets: 64,
  /** /readyz reads a cached stream status; this is how often it is refreshed. */
  readinessRefreshMs: 5_000,
  /** Slow-client protection for the HTTP server (slowloris). */
  connectionTimeoutMs: 30_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 72_000,
  /**
   * /metrics in production: on a listener of its own, not the public port (9464 is the port of
   * OpenTelemetry's Prometheus exporter). In development it is on the public port.
   */
  metricsPortProduction: 9464,
  /** Share of successful requests that get a log line (errors always do). */
  logSuccessSampleRate: 1,
  /** File changes closer together than this trigger one configuration reload. */
  configReloadDebounceMs: 250,
  /** Node's default request-header limit (16 KiB); larger headers get 431. */
  maxHeaderBytes: 16 * 1024,
  /** Time to send the request headers; slow-header (slowloris) clients are cut off after it. */
  headersTimeoutMs: 10_000,
  /**
   * Request header lines; a request with more is answered 431. Node would keep the first 1,000
   * and drop the rest silently (an API key or Idempotency-Key sent late would vanish). 100 is
   * Envoy's default (max_headers_count); browsers send about 20.
   */
  maxHeaders: 100,
  /**
   * Slow readers (http/connection-bounds.ts). Requests of one connection held unanswered at once
   * (pipelining, RFC 9112 section 9.3.2): one more and the connection is closed once those are
   * answered, the rest never processed. Clients other than pipelining ones hold one at a time.
   */
  maxPipelinedRequests: 16,
  /**
   * Answer bytes queued in the process for one connection whose client does not read them: past
   * this, no further request of the connection is started until the client reads.
   */
  maxQueuedAnswerBytes: 256 * 1024,
  /** A connection whose queued answers the client has not taken for this long is closed. */
  writeTimeoutMs: 30_000,
  /** API Gateway's account default: 10,000 requests/s steady with a 5,000 request burst. */
  rateLimitPerSecond: 10_000,
  rateLimitBurst: 5_000,
  /** Prefix of every Redis key the gateway writes. */
  redisKeyPrefix: 'kgw:',
  /** A slower Redis reply counts as Redis being unreachable: local limits take over. */
  redisCommandTimeoutMs: 250,
  /** A first answer to an Idempotency-Key is replayed for this long (Stripe keeps 24 h). */
  idempotencyWindowSeconds: 86_400,
  /** Remembered answers on one instance without Redis; the oldest are forgotten first. */
  idempotencyMaxEntriesInMemory: 10_000,
  /**
   * Every instance also keeps its own answers in memory (a retry reaching it is a replay even when
   * Redis lost them); besides maxEntriesInMemory, their bytes are bounded by this.
   */
  idempotencyMaxBytesInMemory: 64 * 1024 * 1024,
  /** A claimed Idempotency-Key whose request never finished (crash) is free again after this. */
  idempotencyPendingMs: 60_000,
  /**
   * Worker processes (node:cluster) behind one port: "auto" (one per core) in production,
   * 1 in development, where the embedded Kinesis server lives inside the single process.
   */
  workersProduction: 'auto',
  workersDevelopment: 1
} as const
