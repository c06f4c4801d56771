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
        retryMaxMs: positiveInt
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
          }
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
  'channels.*.aggregate': 'use true, false, or { maxBytes: 1024..1048576, maxEvents: 2.. } (KPL aggregation)',
  'channels.*.partitionKey': 'use "random", a JSON pointer such as "/user_id", or "header:<name>"',
  'server.workers': 'use a number of worker processes (1 = no cluster) or "auto" for one per CPU core',
  'kinesis.endpoint': 'give a URL such as http://localhost:4566, or remove the key to use AWS',
  channels: 'add at least one channel, e.g. channels: { events: { stream: events, schema: schemas/events.json } }'
}
