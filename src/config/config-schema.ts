/** JSON Schema of the configuration file; load-config.ts turns its errors into messages with a fix. */
export const CHANNEL_NAME = '^[a-z0-9][a-z0-9_-]{0,63}$'

const positiveInt = { type: 'integer', minimum: 1 } as const

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
          maxEventsPerRequest: { type: 'integer', minimum: 1, maximum: 500 },
          ack: { enum: ['delivered', 'buffered', 'spool'] }
        }
      }
    }
  }
} as const

/** What each schema keyword failure means for the person editing the file. */
export const FIX_HINTS: Record<string, string> = {
  'channels.*.stream': 'use a Kinesis stream name: 1-128 characters of letters, digits, "_", "." and "-"',
  'channels.*.record': 'use "envelope" (default: id, time, source and the event) or "raw" (the event as sent)',
  'channels.*.schema': 'give the path of a JSON Schema file, relative to the configuration file',
  'channels.*.partitionKey': 'use "random", a JSON pointer such as "/user_id", or "header:<name>"',
  'channels.*.ack': 'use "delivered" (200 after Kinesis accepted), "buffered" (202 once in memory) or "spool" (202 once fsynced to the local spool); see docs/reliability.md',
  'delivery.maxBufferedBytesPerStream': 'use at least 5242880 (one full PutRecords call)',
  'spool.maxBytes': 'give the disk budget per stream in bytes, at least 1048576',
  'kinesis.endpoint': 'give a URL such as http://localhost:4566, or remove the key to use AWS',
  channels: 'add at least one channel, e.g. channels: { events: { stream: events, schema: schemas/events.json } }'
}
