import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RequestPayload } from 'fastify'
import type { Channel, ChannelRegistry } from '../channels/channel-registry.js'
import type { AckDispatcher, Acknowledgement } from '../delivery/ack-modes.js'
import type { FrontDoorHooks } from '../front-door/front-door.js'
import type { MessageDedup } from '../front-door/message-dedup.js'
import { SpoolFullError } from '../delivery/spool/spool-writer.js'
import { BufferFullError, type DeliveryReport } from '../delivery/stream-producer.js'
import type { InputFormatCodec } from '../ingest/formats/format.js'
import { codecOf } from '../ingest/formats/input-formats.js'
import { errorsByEvent, eventsOf, prepareRecords, rejectionOf, type Prepared } from '../ingest/prepare-records.js'
import type { OutgoingRecord } from '../kinesis/sink.js'
import { decodeContentEncoding, PROTOBUF_TYPES, registerBodyParsers } from './body-parsers.js'
import { errorHandler } from './error-handler.js'
import { GatewayError } from './problems.js'
import { requestFacts } from './request-facts.js'

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
export function ingestRoutes (app: FastifyInstance, registry: ChannelRegistry, acks: AckDispatcher, frontDoor: FrontDoorHooks,
  versions: readonly number[], aliases: ReadonlyMap<string, string>): void {
  registerBodyParsers(app)

  const options = {
    schema: { response: { 200: acceptedSchema, 202: queuedSchema } },
    // The route's whole path, in order: front door (before the body), parse, idempotency, handler.
    onRequest: frontDoor.onRequest,
    preHandler: frontDoor.preHandler,
    onSend: frontDoor.onSend,
    // Errors in the body the channel's clients read (OTLP: google.rpc.Status); problem+json otherwise.
    errorHandler: (err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
      const codec = request.channel === null ? undefined : codecOf(request.channel.config.format)
      const render = codec?.problem
      if (render === undefined) return errorHandler(err, request, reply)
      const binary = isProtobuf(request)
      return errorHandler(err, request, reply, (p) => {
        const a = render({ status: p.status, code: p.body.code as string, detail: p.body.detail as string }, binary)
        return { contentType: a.contentType, body: asBuffer(a.body) }
      })
    },
    // Unknown channels are refused before a byte of the body is read (the front door's onRequest
    // has looked the channel up already; this holds without it). Callback-style: no promise per request.
    preParsing: (request: FastifyRequest, _reply: FastifyReply, payload: RequestPayload, done: (err: Error | null, body?: RequestPayload) => void) => {
      try {
        request.channel ??= channelOf(registry, request)
        done(null, decodeContentEncoding(request, payload) as RequestPayload)
      } catch (err) {
        done(err as Error)
      }
    }
  }
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => await handleIngest(request, reply, acks, frontDoor.messages)
  for (const version of versions) app.post(`/v${version}/:channel`, { ...options, config: { ingest: true, version } }, handler)
  // API Gateway stage paths (aliases: { "/prod/v1": events }): the same route, on a fixed channel.
  for (const [path, channel] of aliases) app.post(path, { ...options, config: { ingest: true, channel } }, handler)
}

/**
 * The channel a request names, looked up once per request: the one an alias route stands for, or
 * what /v<version>/:channel serves. Throws 404 GW_ERR_UNKNOWN_CHANNEL.
 */
export function channelOf (registry: ChannelRegistry, request: FastifyRequest): Channel {
  const config = request.routeOptions.config
  const name = config.channel ?? (request.params as { channel?: string }).channel ?? ''
  const version = config.version ?? 1
  const channel = config.channel !== undefined ? registry.get(name) : registry.resolve(version, name)
  if (channel === undefined) {
    throw new GatewayError('GW_ERR_UNKNOWN_CHANNEL', `There is no channel named ${JSON.stringify(name)}${version === 1 ? '' : ` in version v${version}`}. Channels: ${registry.routeNames().join(', ')}`)
  }
  return channel
}

async function handleIngest (request: FastifyRequest, reply: FastifyReply, acks: AckDispatcher, messages: MessageDedup): Promise<FastifyReply> {
  const channel = request.channel as Channel
  const config = channel.config
  const codec = codecOf(config.format)
  if (codec !== undefined) return await ingestDecoded(request, reply, channel, codec, acks, messages)
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
  const ack = await deliver(acks, channel, records)
  const mode = ack.mode
  const report = ack.mode === 'delivered' ? ack.report : NONE_FAILED
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

/** Hands records over per the channel's ack mode; a full buffer or spool is a retryable 503 (nothing written). */
async function deliver (acks: AckDispatcher, channel: Channel, records: readonly OutgoingRecord[]): Promise<Acknowledgement> {
  try {
    return await acks.accept(channel.config.ack, channel.producer, records)
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
}

/**
 * A channel with an input format (ingest/formats/): the same steps, the format's decoder in front
 * and its answer behind. Events are taken one by one, as Segment and OTLP's partial_success define
 * (the rule `invalid: partial` gives JSON channels): valid ones are written, invalid ones counted
 * as rejected in the answer; only a request with no valid event is refused whole. Events whose
 * de-duplication id (Segment messageId) was taken by an earlier try are not written again.
 */
async function ingestDecoded (request: FastifyRequest, reply: FastifyReply, channel: Channel, codec: InputFormatCodec,
  acks: AckDispatcher, messages: MessageDedup): Promise<FastifyReply> {
  const config = channel.config
  const decoded = codec.decode(request.body, { config })
  const facts = requestFacts(request)
  const prepared = prepareRecords(channel, decoded.events, {
    facts, headers: request.headers, spans: null, partitionKeys: decoded.partitionKeys, formatProblems: decoded.problems
  })
  const { count, failing, failed } = prepared
  request.eventCount = count
  // Refused events go to the channel's quarantine stream, as decoded (a Segment message without its writeKey).
  const quarantined = failing > 0 ? channel.quarantine?.events(prepared, decoded.events, null, facts) ?? 0 : 0
  const rejection = failing === count ? rejectionOf(prepared, config.name) : undefined
  if (rejection !== undefined) throw quarantined === 0 ? rejection : rejection.with({ quarantined })
  const claim = decoded.dedupIds === undefined ? null : await messages.claim(`${request.apiClient?.id ?? '-'}|${config.name}`, decoded.dedupIds, failed)
  const sent: number[] = []
  const records: OutgoingRecord[] = []
  for (let i = 0; i < count; i++) {
    if ((failed?.[i] ?? 0) !== 0 || claim?.skip[i] === 1) continue
    sent.push(i)
    records.push(prepared.records[i] as OutgoingRecord)
  }
  let report: DeliveryReport | undefined
  try {
    if (records.length > 0) {
      const ack = await deliver(acks, channel, records)
      if (ack.mode === 'delivered') report = ack.report
    }
  } catch (err) {
    if (claim !== null) await messages.settle(claim, () => false)
    throw err
  }
  const notWritten = report?.failed ?? 0
  if (claim !== null) {
    const written = new Uint8Array(count)
    sent.forEach((i, j) => { if ((report?.errorCodes?.[j] ?? '') === '') written[i] = 1 })
    await messages.settle(claim, (i) => written[i] === 1)
  }
  request.eventsWritten = records.length - notWritten
  if (report !== undefined && notWritten > 0) {
    throw notDelivered(sent.map((i) => prepared.ids[i] as string), report, sent, claim === null
      ? 'retry the request (its clients resend it whole)'
      : 'retry the request: messages already written are recognised by their messageId and not written again')
  }
  const answer = codec.answer({
    count, accepted: count - failing, duplicates: claim?.duplicates ?? 0, rejected: failing, quarantined, errors: prepared.errors, binary: decoded.binary === true
  })
  return reply.code(answer.status).type(answer.contentType).send(asBuffer(answer.body))
}

function isProtobuf (request: FastifyRequest): boolean {
  const type = request.headers['content-type']
  return type !== undefined && PROTOBUF_TYPES.some((t) => type.toLowerCase().startsWith(t))
}

function asBuffer (body: string | Uint8Array): string | Buffer {
  return typeof body === 'string' || Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
}

/**
 * 207 Multi-Status (`invalid: partial`): one result per event, in request order, each with the
 * status that event alone would have had: 200 delivered, 202 buffered/spooled, 400 invalid,
 * 503 not delivered. Delivered slots of `report` follow the valid events only.
 */
function multiStatus (prepared: Prepared, mode: 'delivered' | 'buffered' | 'spool', report: DeliveryReport, quarantine: boolean): string {
  const { count, ids, failed } = prepared
  const byIndex = errorsByEvent(prepared)
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

/**
 * Partial (or total) failure: say exactly which events were written, so a client resends only the rest.
 * `indexes`: the request positions of the events sent, when not all of them were (input formats).
 */
function notDelivered (ids: readonly string[], report: DeliveryReport, indexes?: readonly number[],
  advice = 'resend only those with written=false'): GatewayError {
  const failed = report.failed
  const results = ids.map((id, i) => {
    const code = report.errorCodes?.[i] ?? ''
    const index = indexes?.[i] ?? i
    return code === ''
      ? { index, id, written: true, shardId: report.shardIds[i], sequenceNumber: report.sequenceNumbers[i] }
      : { index, id, written: false, errorCode: code, reason: report.errorMessages?.[i] ?? code }
  })
  return new GatewayError('GW_ERR_NOT_DELIVERED',
    `${failed} of ${ids.length} event(s) were not written to Kinesis before their deadline; ${advice}`,
    { extra: { written: ids.length - failed, notWritten: failed, events: results }, retryAfterSeconds: RETRY_AFTER_SECONDS })
}
