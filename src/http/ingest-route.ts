import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Channel, ChannelRegistry } from '../channels/channel-registry.js'
import { KINESIS_MAX_RECORD_BYTES } from '../config/limits.js'
import type { ChannelConfig } from '../config/types.js'
import type { AckDispatcher } from '../delivery/ack-modes.js'
import { partitionKeyFor } from '../delivery/partition-key.js'
import { SpoolFullError } from '../delivery/spool/spool-writer.js'
import { encodeRecord, envelopeMiddle } from '../delivery/record-encoder.js'
import { BufferFullError, type DeliveryOutcome, type OutgoingRecord } from '../delivery/stream-producer.js'
import { collectEventErrors } from '../validation/schema-registry.js'
import { decodeContentEncoding, registerBodyParsers } from './body-parsers.js'
import type { EventSpans } from './event-spans.js'
import { GatewayError, type EventError } from './problems.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The channel of an ingest request, looked up before the body is read. */
    channel: Channel | null
  }
}

/** Seconds a client should wait before retrying events the gateway could not deliver. */
const RETRY_AFTER_SECONDS = 1

const acceptedSchema = {
  type: 'object',
  required: ['accepted', 'events'],
  properties: {
    accepted: { type: 'integer' },
    events: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'shardId', 'sequenceNumber'],
        properties: { id: { type: 'string' }, shardId: { type: 'string' }, sequenceNumber: { type: 'string' } }
      }
    }
  }
} as const

interface AcceptedEvent { id: string, shardId: string, sequenceNumber: string }

/** ack: buffered | spool answer 202 before Kinesis has the events: ids only. */
const queuedSchema = {
  type: 'object',
  required: ['accepted', 'ack', 'events'],
  properties: {
    accepted: { type: 'integer' },
    ack: { enum: ['buffered', 'spool'] },
    events: { type: 'array', items: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } }
  }
} as const

interface QueuedAnswer { accepted: number, ack: 'buffered' | 'spool', events: Array<{ id: string }> }

/** POST /v1/:channel — validate, encode and deliver one event, a JSON array of events, or NDJSON. */
export function ingestRoutes (app: FastifyInstance, registry: ChannelRegistry, acks: AckDispatcher): void {
  registerBodyParsers(app)
  app.decorateRequest('channel', null)

  app.post<{ Params: { channel: string } }>('/v1/:channel', {
    schema: { response: { 200: acceptedSchema, 202: queuedSchema } },
    // Unknown channels are refused before a byte of the body is read (the front door's onRequest
    // has looked the channel up already; this holds without it). Callback-style: no promise per request.
    preParsing: (request, _reply, payload, done) => {
      try {
        if (request.channel === null) {
          const name = request.params.channel
          const channel = registry.get(name)
          if (channel === undefined) {
            throw new GatewayError('GW_ERR_UNKNOWN_CHANNEL', `There is no channel named ${JSON.stringify(name)}. Channels: ${registry.names().join(', ')}`)
          }
          request.channel = channel
        }
        done(null, decodeContentEncoding(request, payload) as typeof payload)
      } catch (err) {
        done(err as Error)
      }
    }
  }, (request, reply) => handleIngest(request, reply, acks))
}

async function handleIngest (request: FastifyRequest, reply: FastifyReply, acks: AckDispatcher): Promise<{ accepted: number, events: AcceptedEvent[] } | QueuedAnswer> {
  const channel = request.channel as Channel
  request.eventCount = Array.isArray(request.body) ? request.body.length : 1
  const events = eventsOf(request.body, channel)
  validateEvents(events, channel)

  const config = channel.config
  const count = events.length
  const ids = new Array<string>(count)
  const records = new Array<OutgoingRecord>(count)
  const middle = envelopeMiddleOf(request, config)
  let problems: EventError[] | undefined
  let tooLarge = false
  // The events' bytes in the body, copied into records instead of re-serialized (event-spans.ts).
  const spans = request.eventSpans
  const offsets = spans !== null && spans.offsets.length === 2 * count ? spans.offsets : undefined
  for (let i = 0; i < count; i++) {
    const event = events[i]
    const id = randomUUID()
    ids[i] = id
    const start = offsets === undefined ? -1 : offsets[2 * i] as number
    const data = encodeRecord(id, middle, event, start < 0 ? undefined : { body: (spans as EventSpans).body, start, end: offsets?.[2 * i + 1] as number })
    const partitionKey = partitionKeyFor(config.partitionKey, event, request.headers, id)
    if (typeof partitionKey !== 'string') {
      const where = config.partitionKey.kind === 'pointer' ? config.partitionKey.pointer : ''
      ;(problems ??= []).push({ index: i, pointer: where, reason: `partition key ${partitionKey.invalid}` })
      continue
    }
    const size = data.length + Buffer.byteLength(partitionKey)
    if (size > KINESIS_MAX_RECORD_BYTES) {
      tooLarge = true
      ;(problems ??= []).push({ index: i, pointer: '', reason: `is ${size} bytes as a Kinesis record (data plus partition key); the limit is ${KINESIS_MAX_RECORD_BYTES}` })
      continue
    }
    records[i] = { data, partitionKey, size }
  }
  if (problems !== undefined) {
    throw tooLarge
      ? new GatewayError('GW_ERR_EVENT_TOO_LARGE', `${problems.length} event(s) cannot be stored as one Kinesis record each; nothing was written`, { errors: problems })
      : new GatewayError('GW_ERR_INVALID_PARTITION_KEY', `${problems.length} event(s) have an unusable partition key; nothing was written`, { errors: problems })
  }

  let outcomes: DeliveryOutcome[]
  try {
    const ack = await acks.accept(config.ack, channel.producer, records)
    if (ack.mode !== 'delivered') {
      request.eventsWritten = count
      void reply.code(202)
      return { accepted: count, ack: ack.mode, events: ids.map((id) => ({ id })) }
    }
    outcomes = ack.outcomes
  } catch (err) {
    if (err instanceof SpoolFullError) {
      throw new GatewayError('GW_ERR_SPOOL_FULL', 'The gateway is saturated: its disk spool for this stream is full. Retry later; nothing was written',
        { retryAfterSeconds: RETRY_AFTER_SECONDS })
    }
    if (err instanceof BufferFullError) {
      throw new GatewayError('GW_ERR_UNAVAILABLE', 'The gateway is saturated: its send buffer for this stream is full. Retry later; nothing was written',
        { retryAfterSeconds: RETRY_AFTER_SECONDS })
    }
    throw err
  }
  return answer(ids, outcomes, reply)
}

/** The shared middle of this request's envelopes ("" for raw records): serialized once per request. */
export function envelopeMiddleOf (request: FastifyRequest, config: ChannelConfig): string {
  return config.record === 'envelope'
    ? envelopeMiddle({
      receivedAt: new Date().toISOString(),
      channel: config.name,
      sourceIp: request.ip,
      userAgent: request.headers['user-agent'],
      clientId: request.apiClient?.id
    })
    : ''
}

/** The events of a body: a single object, an array (JSON batch) or the lines of NDJSON. */
function eventsOf (body: unknown, channel: Channel): unknown[] {
  if (!Array.isArray(body)) {
    // No Content-Type and no body: Fastify calls the handler without parsing anything.
    if (body === undefined) throw new GatewayError('GW_ERR_EMPTY_BODY', 'The request has no body; send a JSON object or an array of objects with Content-Type: application/json')
    if (body === null || typeof body !== 'object') {
      throw new GatewayError('GW_ERR_NOT_AN_OBJECT', `The body is JSON ${body === null ? 'null' : typeof body}; send a JSON object or an array of objects`)
    }
    return [body]
  }
  if (body.length === 0) throw new GatewayError('GW_ERR_EMPTY_BATCH', 'The batch is an empty array; send at least one event')
  const max = channel.config.maxEventsPerRequest
  if (body.length > max) {
    throw new GatewayError('GW_ERR_TOO_MANY_EVENTS', `The request holds ${body.length} events; channel ${channel.config.name} takes at most ${max} per request. Split the batch`)
  }
  return body
}

/** A batch is atomic: every event is checked, and any failure rejects all of them. */
function validateEvents (events: unknown[], channel: Channel): void {
  const validate = channel.validate
  let errors: EventError[] | undefined
  for (let i = 0; i < events.length; i++) {
    const event = events[i]
    if (event === null || typeof event !== 'object' || Array.isArray(event)) {
      (errors ??= []).push({ index: i, pointer: '', reason: 'must be a JSON object' })
    } else if (!validate(event)) {
      collectEventErrors(i, validate.errors, errors ??= [])
    }
  }
  if (errors !== undefined) {
    const failing = new Set(errors.map((e) => e.index)).size
    throw new GatewayError('GW_ERR_INVALID_EVENTS',
      `${failing} of ${events.length} event(s) do not match the schema of channel ${channel.config.name}; nothing was written`, { errors })
  }
}

function answer (ids: string[], outcomes: DeliveryOutcome[], _reply: FastifyReply): { accepted: number, events: AcceptedEvent[] } {
  const events = new Array<AcceptedEvent>(ids.length)
  let failed = 0
  for (let i = 0; i < ids.length; i++) {
    const o = outcomes[i] as DeliveryOutcome
    if (!o.ok) { failed++; continue }
    events[i] = { id: ids[i] as string, shardId: o.shardId, sequenceNumber: o.sequenceNumber }
  }
  _reply.request.eventsWritten = ids.length - failed
  if (failed === 0) return { accepted: ids.length, events }

  // Partial (or total) failure: say exactly which events were written, so a client resends only the rest.
  const results = ids.map((id, i) => {
    const o = outcomes[i] as DeliveryOutcome
    return o.ok
      ? { index: i, id, written: true, shardId: o.shardId, sequenceNumber: o.sequenceNumber }
      : { index: i, id, written: false, errorCode: o.errorCode, reason: o.errorMessage }
  })
  throw new GatewayError('GW_ERR_NOT_DELIVERED',
    `${failed} of ${ids.length} event(s) were not written to Kinesis before their deadline; resend only those with written=false`,
    { extra: { written: ids.length - failed, notWritten: failed, events: results }, retryAfterSeconds: RETRY_AFTER_SECONDS })
}
