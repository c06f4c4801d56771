/** JSON Schema of the configuration file; load-config.ts turns its errors into messages with a fix. */
export const CHANNEL_NAME = '^[a-z0-9][a-z0-9_-]{0,63}$'

const positiveInt = { type: 'integer', minimum: 1 } as const

/** A token bucket: steady requests per second and the burst allowed at once (default: half a second's worth). */
const rateLimitSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['perSecond'],
  properties: { perSecond: positiveInt, burst: positiveInt }
} as const

/** API key ids become client_id in records and logs. */
export const API_KEY_ID = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'

export const configFileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['channels'],
  properties: {
    server: {
      type: 'object',
      additionalProperties: false,
      properties: {
        bodyLimitBytes: positiveInt,
        connectionTimeoutMs: positiveInt,
        requestTimeoutMs: positiveInt,
        keepAliveTimeoutMs: positiveInt,
        headersTimeoutMs: positiveInt,
        maxHeaderBytes: { type: 'integer', minimum: 1024, maximum: 1048576 },
        maxHeaders: { type: 'integer', minimum: 10, maximum: 1000 },
        maxPipelinedRequests: { type: 'integer', minimum: 1, maximum: 1024 },
        maxQueuedAnswerBytes: { type: 'integer', minimum: 16384 },
        writeTimeoutMs: { type: 'integer', minimum: 100 },
        workers: { anyOf: [{ type: 'integer', minimum: 1, maximum: 256 }, { const: 'auto' }] },
        trustProxy: {
          anyOf: [
            { type: 'boolean' },
            { type: 'string', minLength: 1 },
            { type: 'array', items: { type: 'string', minLength: 1 } }
          ]
        }
      }
    },
    kinesis: {
      type: 'object',
      additionalProperties: false,
      properties: {
        region: { type: 'string', minLength: 1 },
        endpoint: { type: 'string', pattern: '^https?://' },
        createStreams: { type: 'boolean' },
        shards: positiveInt,
        connectTimeoutMs: positiveInt,
        requestTimeoutMs: positiveInt,
        maxSockets: positiveInt
      }
    },
    delivery: {
      type: 'object',
      additionalProperties: false,
      properties: {
        lingerMs: { type: 'integer', minimum: 0, maximum: 1000 },
        maxInFlightPerStream: { type: 'integer', minimum: 1, maximum: 256 },
        recordDeadlineMs: { type: 'integer', minimum: 100 },
        retryBaseMs: positiveInt,
        retryMaxMs: positiveInt,
        maxBufferedRecordsPerStream: positiveInt,
        maxBufferedBytesPerStream: { type: 'integer', minimum: 5 * 1024 * 1024 },
        shardAware: { type: 'boolean' },
        shardRecordsPerSecond: { type: 'integer', minimum: 1, maximum: 1000 },
        shardBytesPerSecond: { type: 'integer', minimum: 1024, maximum: 1024 * 1024 },
        shardRefreshMs: { type: 'integer', minimum: 1000 }
      }
    },
    spool: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dir: { type: 'string', minLength: 1 },
        maxBytes: { type: 'integer', minimum: 1024 * 1024 },
        segmentBytes: { type: 'integer', minimum: 64 * 1024 },
        checkpointIntervalMs: { type: 'integer', minimum: 10, maximum: 60_000 }
      }
    },
    shutdown: {
      type: 'object',
      additionalProperties: false,
      properties: {
        graceMs: { type: 'integer', minimum: 0, maximum: 600_000 },
        deadlineMs: { type: 'integer', minimum: 100, maximum: 600_000 }
      }
    },
    readinessRefreshMs: { type: 'integer', minimum: 100 },
    metrics: {
      type: 'object',
      additionalProperties: false,
      properties: {
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        host: { type: 'string', minLength: 1 },
        public: { type: 'boolean' }
      }
    },
    console: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        adminKeySha256: { type: 'string' }
      }
    },
    logging: {
      type: 'object',
      additionalProperties: false,
      properties: {
        format: { enum: ['json', 'pretty', 'auto'] },
        successSampleRate: { type: 'number', minimum: 0, maximum: 1 }
      }
    },
    rateLimit: rateLimitSchema,
    redis: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: { type: 'string', pattern: '^rediss?://' },
        keyPrefix: { type: 'string', maxLength: 64 },
        commandTimeoutMs: positiveInt
      }
    },
    idempotency: {
      type: 'object',
      additionalProperties: false,
      properties: {
        windowSeconds: positiveInt,
        maxEntriesInMemory: positiveInt
      }
    },
    apiKeys: {
      type: 'object',
      propertyNames: { pattern: API_KEY_ID },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['sha256'],
        properties: {
          sha256: { type: 'string' },
          channels: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          rateLimit: rateLimitSchema,
          dailyQuota: positiveInt
        }
      }
    },
    aliases: {
      type: 'object',
      propertyNames: { pattern: '^/[A-Za-z0-9._~!$&\'()*+,;=:@%/-]*$' },
      additionalProperties: { type: 'string', pattern: CHANNEL_NAME }
    },
    channels: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: CHANNEL_NAME },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['stream', 'schema'],
        properties: {
          stream: { type: 'string', pattern: '^[a-zA-Z0-9_.-]{1,128}$' },
          schema: { type: 'string', minLength: 1 },
          partitionKey: { type: 'string', minLength: 1 },
          record: { enum: ['envelope', 'raw'] },
          format: { enum: ['json', 'segment', 'otlp-logs'] },
          // JSON channels: at most 500 (load-config.ts); formats whose clients batch more: up to 100,000.
          maxEventsPerRequest: { type: 'integer', minimum: 1, maximum: 100_000 },
          access: { enum: ['open', 'api-key'] },
          rateLimit: rateLimitSchema,
          // An origin is scheme://host[:port] (apps: capacitor://localhost, chrome-extension://id), or "*".
          cors: { type: 'array', items: { type: 'string', pattern: '^(\\*|[A-Za-z][A-Za-z0-9+.-]*://[^/\\s]+/?)$' } },
          beacon: { type: 'boolean' },
          aggregate: {
            anyOf: [
              { type: 'boolean' },
              {
                type: 'object',
                additionalProperties: false,
                properties: {
                  maxBytes: { type: 'integer', minimum: 1024, maximum: 1048576 },
                  maxEvents: { type: 'integer', minimum: 2, maximum: 100000 }
                }
              }
            ]
          },
          ack: { enum: ['delivered', 'buffered', 'spool'] },
          invalid: { enum: ['reject', 'partial'] },
          version: { type: 'integer', minimum: 1, maximum: 99 },
          path: { type: 'string', pattern: CHANNEL_NAME },
          deprecated: {
            anyOf: [
              { type: 'boolean' },
              {
                type: 'object',
                additionalProperties: false,
                properties: {
                  since: { type: 'string', minLength: 1 },
                  sunset: { type: 'string', minLength: 1 },
                  successor: { type: 'string', pattern: '^/' }
                }
              }
            ]
          },
          maxRecordBytes: { type: 'integer', minimum: 1048576, maximum: 10485760 },
          quarantine: { type: 'string', pattern: '^[a-zA-Z0-9_.-]{1,128}$' }
        }
      }
    }
  }
} as const

/** What each schema keyword failure means for the person editing the file. */
export const FIX_HINTS: Record<string, string> = {
  'channels.*.stream': 'use a Kinesis stream name: 1-128 characters of letters, digits, "_", "." and "-"',
  'channels.*.record': 'use "envelope" (default: id, time, source and the event) or "raw" (the event as sent)',
  'channels.*.format': 'use "json" (default: our events, JSON or NDJSON), "segment" (the Segment HTTP tracking API) or "otlp-logs" (OTLP/HTTP log exports); see README',
  'channels.*.schema': 'give the path of a JSON Schema file, relative to the configuration file',
  'channels.*.aggregate': 'use true, false, or { maxBytes: 1024..1048576, maxEvents: 2.. } (KPL aggregation)',
  'channels.*.partitionKey': 'use "random", a JSON pointer such as "/user_id", or "header:<name>"',
  'server.workers': 'use a number of worker processes (1 = no cluster) or "auto" for one per CPU core',
  'channels.*.invalid': 'use "reject" (default: one invalid event rejects the whole request) or "partial" (valid events are written, the answer is 207 with one result per event)',
  'channels.*.quarantine': 'name a Kinesis stream (1-128 characters of letters, digits, "_", "." and "-") that keeps the events validation rejected',
  'server.maxHeaders': 'use a number of request header lines from 10 to 1000 (default 100; browsers send about 20)',
  'server.maxPipelinedRequests': 'use a number of requests one connection may have unanswered at once, from 1 to 1024 (default 16)',
  'server.maxQueuedAnswerBytes': 'give the bytes of unread answers one connection may queue, at least 16384 (default 262144)',
  'server.writeTimeoutMs': 'give the milliseconds a client may leave its answers unread before the connection is closed, at least 100 (default 30000)',
  'metrics.public': 'use true to serve /metrics on the public port (the development default), false to serve it only on metrics.port',
  'channels.*.version': 'use a whole number from 1 to 99: the channel is served at /v<version>/<path>',
  'channels.*.path': 'use the channel name of the URL (1-64 lower-case letters, digits, "_" or "-"); channels with the same path need different versions',
  'channels.*.deprecated': 'use true, or { since: <ISO date>, sunset: <ISO date>, successor: "/v2/<path>" }',
  'channels.*.maxRecordBytes': 'use a record size from 1048576 (1 MiB, the default) to 10485760 (10 MiB, Kinesis large records; raise the stream\'s own maximum record size first)',
  'channels.*.ack': 'use "delivered" (200 after Kinesis accepted), "buffered" (202 once in memory) or "spool" (202 once fsynced to the local spool); see docs/reliability.md',
  'delivery.maxBufferedBytesPerStream': 'use at least 5242880 (one full PutRecords call)',
  'spool.maxBytes': 'give the disk budget per stream in bytes, at least 1048576',
  'kinesis.endpoint': 'give a URL such as http://localhost:4566, or remove the key to use AWS',
  'metrics.port': 'use a port from 1 to 65535 for a separate metrics listener, or remove the key to serve /metrics on the main port',
  'console.enabled': 'use true to serve the operator console (/console), false to switch it off (production default: off)',
  'console.adminKeySha256': 'give the SHA-256 hex digest of an admin key (the key itself is never stored), or remove the key',
  'logging.successSampleRate': 'use a number from 0 (log no successful request) to 1 (log every request)',
  'channels.*.access': 'use "open" (anyone may write, e.g. apps) or "api-key" (an x-api-key listed under apiKeys is required)',
  'channels.*.cors': 'list allowed browser origins as scheme://host[:port] without a path, such as ["https://shop.example.com"], or ["*"] for any origin',
  'channels.*.rateLimit': 'use { perSecond: <requests per second>, burst: <requests at once> }',
  rateLimit: 'use { perSecond: <requests per second>, burst: <requests at once> }',
  'redis.url': 'give a URL such as redis://127.0.0.1:6379 (or rediss:// for TLS), or remove the key to keep limits per instance',
  channels: 'add at least one channel, e.g. channels: { events: { stream: events, schema: schemas/events.json } }'
}
