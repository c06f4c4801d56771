import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Channel, ChannelRegistry } from '../channels/channel-registry.js'
import { KINESIS_MAX_RECORD_BYTES } from '../config/limits.js'
import { partitionKeyFor } from '../delivery/partition-key.js'
import { encodeEnvelope, encodeRaw } from '../delivery/record-encoder.js'
import { collectEventErrors } from '../validation/schema-registry.js'
import { decodeContentEncoding } from './body-parsers.js'
import { envelopeMiddleOf } from './ingest-route.js'
import { GatewayError, type EventError } from './problems.js'

interface DryRunAnswer {
  valid: boolean
  events: number
  passed: number
  failed: number
  errors: EventError[]
}

const dryRunSchema = {
  type: 'object',
  required: ['valid', 'events', 'passed', 'failed', 'errors'],
  properties: {
    valid: { type: 'boolean' },
    events: { type: 'integer' },
    passed: { type: 'integer' },
    failed: { type: 'integer' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: { index: { type: 'integer' }, pointer: { type: 'string' }, reason: { type: 'string' } }
      }
    }
  }
} as const

/**
 * POST /v1/:channel/validate — the dry run a partner uses before sending for real. The same body
 * formats, the same key, limits and checks as POST /v1/:channel (schema, partition key, record size),
 * but nothing is written and no daily quota is spent. Answers 200 with every event's problems;
 * a body that POST /v1/:channel could not even parse gets the same 4xx problem.
 */
export function validateRoute (app: FastifyInstance, registry: ChannelRegistry): void {
  app.post<{ Params: { channel: string } }>('/v1/:channel/validate', {
    schema: { response: { 200: dryRunSchema } },
    preParsing: async (request, _reply, payload) => {
      const channel = registry.get(request.params.channel)
      if (channel === undefined) {
        throw new GatewayError('GW_ERR_UNKNOWN_CHANNEL', `There is no channel named ${JSON.stringify(request.params.channel)}. Channels: ${registry.names().join(', ')}`)
      }
      request.channel = channel
      return decodeContentEncoding(request, payload)
    }
  }, async (request) => dryRun(request, request.channel as Channel))
}

function dryRun (request: FastifyRequest, channel: Channel): DryRunAnswer {
  const body = request.body
  const config = channel.config
  let events: unknown[]
  if (Array.isArray(body)) {
    if (body.length === 0) throw new GatewayError('GW_ERR_EMPTY_BATCH', 'The batch is an empty array; send at least one event')
    if (body.length > config.maxEventsPerRequest) {
      throw new GatewayError('GW_ERR_TOO_MANY_EVENTS', `The request holds ${body.length} events; channel ${config.name} takes at most ${config.maxEventsPerRequest} per request. Split the batch`)
    }
    events = body
  } else events = [body]

  const middle = envelopeMiddleOf(request, config)
  const errors: EventError[] = []
  const failing = new Set<number>()
  for (let i = 0; i < events.length; i++) {
    const problem = checkEvent(request, channel, middle, events[i], i, errors)
    if (problem) failing.add(i)
  }
  return { valid: failing.size === 0, events: events.length, passed: events.length - failing.size, failed: failing.size, errors }
}

/** Adds the event's problems to `errors` (which caps how many it keeps); true when the event would be refused. */
function checkEvent (request: FastifyRequest, channel: Channel, middle: string, event: unknown, i: number, errors: EventError[]): boolean {
  const config = channel.config
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    errors.push({ index: i, pointer: '', reason: 'must be a JSON object' })
    return true
  }
  if (!channel.validate(event)) {
    collectEventErrors(i, channel.validate.errors, errors)
    return true
  }
  const id = randomUUID()
  const key = partitionKeyFor(config.partitionKey, event, request.headers, id)
  if (typeof key !== 'string') {
    errors.push({ index: i, pointer: config.partitionKey.kind === 'pointer' ? config.partitionKey.pointer : '', reason: `partition key ${key.invalid}` })
    return true
  }
  const json = JSON.stringify(event)
  const size = Buffer.byteLength(middle === '' ? encodeRaw(json) : encodeEnvelope(id, middle, json)) + Buffer.byteLength(key)
  if (size > KINESIS_MAX_RECORD_BYTES) {
    errors.push({ index: i, pointer: '', reason: `is ${size} bytes as a Kinesis record (data plus partition key); the limit is ${KINESIS_MAX_RECORD_BYTES}` })
    return true
  }
  return false
}
