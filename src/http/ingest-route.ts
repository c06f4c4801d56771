import type { FastifyInstance, FastifyReply, FastifyRequest, RequestPayload } from 'fastify'
import type { Channel, ChannelRegistry } from '../channels/channel-registry.js'
import type { AckDispatcher } from '../delivery/ack-modes.js'
import type { FrontDoorHooks } from '../front-door/front-door.js'
import { SpoolFullError } from '../delivery/spool/spool-writer.js'
import { BufferFullError, type DeliveryReport } from '../delivery/stream-producer.js'
import { eventsOf, prepareRecords, rejectionOf, type Prepared } from '../ingest/prepare-records.js'
import { decodeContentEncoding, registerBodyParsers } from './body-parsers.js'
import { GatewayError } from './problems.js'
import { requestFacts } from './request-facts.js'

declare module 'fastify' {
  /** Route config of the ingest routes (read by the front door too). */
  interface FastifyContextConfig {
    /** POST routes that write events (spend daily quota). */
    ingest?: boolean
    /** Set on alias routes: the channel the path stands for. */
    channel?: string
  }
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

/** POST /v1/:channel — validate, encode and deliver one event, a JSON array of events, or NDJSON. */
export function ingestRoutes (app: FastifyInstance, registry: ChannelRegistry, acks: AckDispatcher, frontDoor: FrontDoorHooks, aliases: ReadonlyMap<string, string>): void {
  registerBodyParsers(app)
  app.decorateRequest('channel', null)

  const options = {
    schema: { response: { 200: acceptedSchema, 202: queuedSchema } },
    // The route's whole path, in order: front door (before the body), parse, idempotency, handler.
    onRequest: frontDoor.onRequest,
    preHandler: frontDoor.preHandler,
    onSend: frontDoor.onSend,
    // Unknown channels are refused before a byte of the body is read (the front door's onRequest
    // has looked the channel up already; this holds without it). Callback-style: no promise per request.
    preParsing: (request: FastifyRequest, _reply: FastifyReply, payload: RequestPayload, done: (err: Error | null, body?: RequestPayload) => void) => {
      try {
        if (request.channel === null) {
          const name = channelNameOf(request)
          const channel = registry.get(name)
          if (channel === undefined) {
            throw new GatewayError('GW_ERR_UNKNOWN_CHANNEL', `There is no channel named ${JSON.stringify(name)}. Channels: ${registry.names().join(', ')}`)
          }
          request.channel = channel
        }
        done(null, decodeContentEncoding(request, payload) as RequestPayload)
      } catch (err) {
        done(err as Error)
      }
    }
  }
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => await handleIngest(request, reply, acks)
  app.post('/v1/:channel', { ...options, config: { ingest: true } }, handler)
  // API Gateway stage paths (aliases: { "/prod/v1": events }): the same route, on a fixed channel.
  for (const [path, channel] of aliases) app.post(path, { ...options, config: { ingest: true, channel } }, handler)
}

/** The channel a request names: the :channel of /v1/:channel, or the one an alias route stands for. */
export function channelNameOf (request: FastifyRequest): string {
  return (request.params as { channel?: string }).channel ?? request.routeOptions.config.channel ?? ''
}

async function handleIngest (request: FastifyRequest, reply: FastifyReply, acks: AckDispatcher): Promise<FastifyReply> {
  const channel = request.channel as Channel
  const config = channel.config
  request.eventCount = Array.isArray(request.body) ? request.body.length : 1
  const events = eventsOf(request.body, config)
  const facts = requestFacts(request)
  const prepared = prepareRecords(channel, events, { facts, headers: request.headers, spans: request.eventSpans })
  const partial = config.invalid === 'partial'
  let records = prepared.records
  if (prepared.failing > 0) {
    request.eventErrors = prepared.errors // for the console's ring of rejections (refused events only)
    const quarantined = channel.quarantine?.events(prepared, events, request.eventSpans, facts) ?? 0
    if (!partial || prepared.failing === prepared.count) {
      const rejection = rejectionOf(prepared, config.name) as GatewayError
      throw quarantined === 0 ? rejection : rejection.with({ quarantined })
    }
    records = records.filter((r) => r !== undefined)
  }

  const { ids } = prepared
  let report: DeliveryReport
  let mode: 'delivered' | 'buffered' | 'spool'
  try {
    const ack = await acks.accept(config.ack, channel.producer, records)
    mode = ack.mode
    report = ack.mode === 'delivered' ? ack.report : NONE_FAILED
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
  request.eventsWritten = records.length - report.failed
  if (prepared.failing > 0 || (partial && report.failed > 0)) {
    return reply.code(207).type(JSON_TYPE).send(multiStatus(prepared, mode, report, channel.quarantine !== null))
  }
  if (mode !== 'delivered') return reply.code(202).type(JSON_TYPE).send(queuedAnswer(ids, mode))
  if (report.failed > 0) throw notDelivered(ids, report)
  return reply.type(JSON_TYPE).send(deliveredAnswer(ids, report))
}

/** What buffered and spool acknowledgements report: nothing has failed (yet). */
const NONE_FAILED: DeliveryReport = { failed: 0, shardIds: [], sequenceNumbers: [], errorCodes: null, errorMessages: null }

/**
 * 207 Multi-Status (`invalid: partial`): one result per event, in request order, each with the
 * status that event alone would have had: 200 delivered, 202 buffered/spooled, 400 invalid,
 * 503 not delivered. Delivered slots of `report` follow the valid events only.
 */
function multiStatus (prepared: Prepared, mode: 'delivered' | 'buffered' | 'spool', report: DeliveryReport, quarantine: boolean): string {
  const { count, ids, failed, errors } = prepared
  const byIndex = new Map<number, Array<{ pointer: string, reason: string }>>()
  for (const e of errors) {
    let list = byIndex.get(e.index)
    if (list === undefined) byIndex.set(e.index, list = [])
    list.push({ pointer: e.pointer, reason: e.reason })
  }
  const results = new Array<Record<string, unknown>>(count)
  let accepted = 0
  let slot = 0
  for (let i = 0; i < count; i++) {
    if (failed !== null && failed[i] !== 0) {
      results[i] = { index: i, status: 400, errors: byIndex.get(i) ?? [{ pointer: '', reason: 'is invalid (more errors than reported)' }], ...(quarantine ? { quarantined: true } : {}) }
      continue
    }
    const at = slot++
    if (mode !== 'delivered') {
      accepted++
      results[i] = { index: i, status: 202, event_id: ids[i] }
      continue
    }
    const code = report.errorCodes?.[at] ?? ''
    if (code === '') {
      accepted++
      results[i] = { index: i, status: 200, event_id: ids[i], shard_id: report.shardIds[at], sequence_number: report.sequenceNumbers[at] }
    } else {
      results[i] = { index: i, status: 503, event_id: ids[i], errors: [{ pointer: '', reason: `not written to Kinesis before its deadline (${code}: ${report.errorMessages?.[at] ?? code}); resend it` }] }
    }
  }
  return JSON.stringify({ accepted, rejected: count - accepted, ...(quarantine ? { quarantined: prepared.failing } : {}), results })
}

const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * {"accepted":N,"events":[{"id":"..","shardId":"..","sequenceNumber":".."},...]}, written as text:
 * no object per event, no serializer walk (the shape is the 200 response schema above).
 * Ids are our UUIDs; shard ids and sequence numbers are quoted by JSON.stringify.
 */
function deliveredAnswer (ids: readonly string[], report: DeliveryReport): string {
  let out = '{"accepted":' + String(ids.length) + ',"events":['
  for (let i = 0; i < ids.length; i++) {
    out += (i === 0 ? '{"id":"' : ',{"id":"') + (ids[i] as string) +
      '","shardId":' + JSON.stringify(report.shardIds[i]) + ',"sequenceNumber":' + JSON.stringify(report.sequenceNumbers[i]) + '}'
  }
  return out + ']}'
}

/** {"accepted":N,"ack":"buffered","events":[{"id":".."},...]} (the 202 response schema above). */
function queuedAnswer (ids: readonly string[], mode: 'buffered' | 'spool'): string {
  let out = '{"accepted":' + String(ids.length) + ',"ack":"' + mode + '","events":['
  for (let i = 0; i < ids.length; i++) out += (i === 0 ? '{"id":"' : ',{"id":"') + (ids[i] as string) + '"}'
  return out + ']}'
}

/** Partial (or total) failure: say exactly which events were written, so a client resends only the rest. */
function notDelivered (ids: readonly string[], report: DeliveryReport): GatewayError {
  const failed = report.failed
  const results = ids.map((id, i) => {
    const code = report.errorCodes?.[i] ?? ''
    return code === ''
      ? { index: i, id, written: true, shardId: report.shardIds[i], sequenceNumber: report.sequenceNumbers[i] }
      : { index: i, id, written: false, errorCode: code, reason: report.errorMessages?.[i] ?? code }
  })
  return new GatewayError('GW_ERR_NOT_DELIVERED',
    `${failed} of ${ids.length} event(s) were not written to Kinesis before their deadline; resend only those with written=false`,
    { extra: { written: ids.length - failed, notWritten: failed, events: results }, retryAfterSeconds: RETRY_AFTER_SECONDS })
}
