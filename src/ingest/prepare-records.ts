import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { ValidateFunction } from 'ajv'
import type { ChannelConfig } from '../config/types.js'
import { GatewayError, type EventError } from '../http/problems.js'
import type { OutgoingRecord } from '../kinesis/sink.js'
import { collectEventErrors, MAX_REPORTED_ERRORS } from '../validation/schema-registry.js'
import type { EventSpans } from './event-spans.js'
import { checkedKey, partitionKeyFor } from './partition-key.js'
import type { RecordEncoder, RequestFacts } from './record-encoder.js'

/**
 * The one record-preparing step: a parsed body in, records (or each event's problems) out.
 * The ingest route, the dry run, and every input format that decodes to events call this, so a
 * dry run can never judge an event differently from a real send. Nothing here knows Fastify.
 */

/** What a channel brings to preparation: its settings, compiled schema and record format. */
export interface PreparingChannel {
  readonly config: ChannelConfig
  readonly validate: ValidateFunction
  readonly encoder: RecordEncoder
  /** The sink's limit on one record (data plus partition key). */
  readonly maxRecordBytes: number
}

/** Why an event cannot become a record; the route turns the first kind present into its problem code. */
export type ProblemKind = 'schema' | 'partitionKey' | 'tooLarge' | 'malformed'

/** `Prepared.failed[i]`: 0 for an event that became a record, else its problem kind's code. */
export const KIND_CODES: Readonly<Record<ProblemKind, number>> = { schema: 1, partitionKey: 2, tooLarge: 3, malformed: 4 }
export const KIND_OF_CODE: readonly ProblemKind[] = ['schema', 'schema', 'partitionKey', 'tooLarge', 'malformed']

/**
 * An NDJSON line that is not JSON, on a channel that takes events one by one (`invalid: partial`):
 * the parser keeps its place in the batch instead of refusing the whole body.
 */
export class BrokenLine {
  readonly reason: string
  readonly text: string
  constructor (reason: string, text: string) {
    this.reason = reason
    this.text = text
  }
}

export interface Prepared {
  /** Events in the request. */
  readonly count: number
  /** One id per event (the envelope's event_id; also the fallback partition key). */
  readonly ids: string[]
  /** One record per event; holes where an event failed (only when `failing` > 0). */
  readonly records: OutgoingRecord[]
  /** Events that failed, whatever the kind. */
  readonly failing: number
  /** Which events failed, by index, as KIND_CODES (null when none did). */
  readonly failed: Uint8Array | null
  /** Problems in request order (capped at MAX_REPORTED_ERRORS), with the kinds present. */
  readonly errors: EventError[]
  readonly kinds: ReadonlySet<ProblemKind>
}

export interface PrepareOptions {
  readonly facts: RequestFacts
  readonly headers: IncomingHttpHeaders
  readonly spans: EventSpans | null
  /** Dry run: sizes only, no record data built. */
  readonly checkOnly?: boolean
  /** Per event, the key an input format chose (Segment: userId, else anonymousId); undefined = the channel's rule. */
  readonly partitionKeys?: ReadonlyArray<string | undefined>
  /** Per event, a problem an input format found (its own required fields): the event fails as 'schema'. */
  readonly formatProblems?: ReadonlyArray<EventError | undefined>
}

/** The events of a body: a single object, an array (JSON batch) or the lines of NDJSON. Throws GatewayError. */
export function eventsOf (body: unknown, config: ChannelConfig): unknown[] {
  if (!Array.isArray(body)) {
    // No Content-Type and no body: Fastify calls the handler without parsing anything.
    if (body === undefined) throw new GatewayError('GW_ERR_EMPTY_BODY', 'The request has no body; send a JSON object or an array of objects with Content-Type: application/json')
    if (body === null || typeof body !== 'object') {
      throw new GatewayError('GW_ERR_NOT_AN_OBJECT', `The body is JSON ${body === null ? 'null' : typeof body}; send a JSON object or an array of objects`)
    }
    return [body]
  }
  if (body.length === 0) throw new GatewayError('GW_ERR_EMPTY_BATCH', 'The batch is an empty array; send at least one event')
  const max = config.maxEventsPerRequest
  if (body.length > max) {
    throw new GatewayError('GW_ERR_TOO_MANY_EVENTS', `The request holds ${body.length} events; channel ${config.name} takes at most ${max} per request. Split the batch`)
  }
  return body
}

/**
 * Checks every event (object, schema, partition key, record size) and encodes the valid ones.
 * Every event is checked even after one fails, so the answer names all of them.
 */
export function prepareRecords (channel: PreparingChannel, events: readonly unknown[], opts: PrepareOptions): Prepared {
  const { config, validate, encoder } = channel
  const maxRecordBytes = channel.maxRecordBytes
  const count = events.length
  const ids = new Array<string>(count)
  const records = new Array<OutgoingRecord>(count)
  const envelope = encoder.forRequest(opts.facts)
  const spans = opts.spans
  // The events' bytes in the body, copied into records instead of re-serialized (event-spans.ts).
  const offsets = spans !== null && spans.offsets.length === 2 * count ? spans.offsets : undefined
  const routable = config.partitionKey.kind === 'random'
  const errors: EventError[] = []
  let kinds: Set<ProblemKind> | undefined
  let failed: Uint8Array | null = null
  let failing = 0
  const fail = (i: number, kind: ProblemKind, problem: EventError | undefined): void => {
    if (problem !== undefined && errors.length < MAX_REPORTED_ERRORS) errors.push(problem)
    ;(kinds ??= new Set()).add(kind)
    ;(failed ??= new Uint8Array(count))[i] = KIND_CODES[kind]
    failing++
  }
  for (let i = 0; i < count; i++) {
    const event = events[i]
    const id = randomUUID()
    ids[i] = id
    if (event === null || typeof event !== 'object' || Array.isArray(event)) {
      fail(i, 'schema', { index: i, pointer: '', reason: 'must be a JSON object' })
      continue
    }
    if (event instanceof BrokenLine) {
      fail(i, 'malformed', { index: i, pointer: '', reason: `is not valid JSON: ${event.reason}` })
      continue
    }
    const refused = opts.formatProblems?.[i]
    if (refused !== undefined) {
      fail(i, 'schema', refused)
      continue
    }
    if (!validate(event)) {
      collectEventErrors(i, validate.errors, errors)
      fail(i, 'schema', undefined)
      continue
    }
    const own = opts.partitionKeys?.[i]
    const partitionKey = routable ? id : own !== undefined ? checkedKey(own) : partitionKeyFor(config.partitionKey, event, opts.headers, id)
    if (typeof partitionKey !== 'string') {
      const where = config.partitionKey.kind === 'pointer' ? config.partitionKey.pointer : ''
      fail(i, 'partitionKey', { index: i, pointer: where, reason: `partition key ${partitionKey.invalid}` })
      continue
    }
    const start = offsets === undefined ? -1 : offsets[2 * i] as number
    const bytes = start < 0 ? undefined : { body: (spans as EventSpans).body, start, end: offsets?.[2 * i + 1] as number }
    // Ids are ASCII UUIDs: their byte length is their length.
    const keyBytes = routable ? partitionKey.length : Buffer.byteLength(partitionKey)
    if (opts.checkOnly === true) {
      const size = encoder.sizeOf(envelope, id, event, bytes) + keyBytes
      if (size > maxRecordBytes) fail(i, 'tooLarge', tooLarge(i, size, maxRecordBytes))
      continue
    }
    const data = encoder.encode(envelope, id, event, bytes)
    const size = data.length + keyBytes
    if (size > maxRecordBytes) {
      fail(i, 'tooLarge', tooLarge(i, size, maxRecordBytes))
      continue
    }
    records[i] = routable ? { data, partitionKey, size, routable, explicitHashKey: undefined } : { data, partitionKey, size }
  }
  return { count, ids, records, failing, failed, errors, kinds: kinds ?? NO_KINDS }
}

const NO_KINDS: ReadonlySet<ProblemKind> = new Set()

/** A prepared request's problems grouped by event (pointer and reason), for per-event answers and the quarantine. */
export function errorsByEvent (prepared: Prepared): Map<number, Array<{ pointer: string, reason: string }>> {
  const byIndex = new Map<number, Array<{ pointer: string, reason: string }>>()
  for (const e of prepared.errors) {
    let list = byIndex.get(e.index)
    if (list === undefined) byIndex.set(e.index, list = [])
    list.push({ pointer: e.pointer, reason: e.reason })
  }
  return byIndex
}

function tooLarge (index: number, size: number, limit: number): EventError {
  return { index, pointer: '', reason: `is ${size} bytes as a Kinesis record (data plus partition key); the limit is ${limit}` }
}

/**
 * The all-or-nothing rule of `invalid: reject` channels: any failing event rejects the request,
 * with the problem of the first kind present (schema before partition key before size).
 */
export function rejectionOf (prepared: Prepared, channelName: string): GatewayError | undefined {
  if (prepared.failing === 0) return undefined
  const { errors, kinds, failing, count } = prepared
  if (kinds.has('malformed')) {
    return new GatewayError('GW_ERR_MALFORMED_BODY', `${failing} of ${count} line(s) are not valid JSON or do not match the schema of channel ${channelName}; nothing was written`, { errors })
  }
  if (kinds.has('schema')) {
    return new GatewayError('GW_ERR_INVALID_EVENTS',
      `${failing} of ${count} event(s) do not match the schema of channel ${channelName}; nothing was written`, { errors })
  }
  if (kinds.has('tooLarge')) {
    return new GatewayError('GW_ERR_EVENT_TOO_LARGE', `${failing} event(s) cannot be stored as one Kinesis record each; nothing was written`, { errors })
  }
  return new GatewayError('GW_ERR_INVALID_PARTITION_KEY', `${failing} event(s) have an unusable partition key; nothing was written`, { errors })
}
