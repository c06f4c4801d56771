import { createHash } from 'node:crypto'
import { GatewayError, type EventError } from '../../http/problems.js'
import type { Decoded, DecodeContext, FormatAnswer, InputFormatCodec, Outcome } from './format.js'

/**
 * The Segment HTTP tracking API (also spoken by RudderStack and Jitsu clients): a batch
 * `{"batch":[...],"context":..,"integrations":..,"sentAt":..,"writeKey":..}` or one call with its
 * `type`. Each message becomes one event, validated by the spec's required fields per type
 * (segment.com/docs/connections/spec/common), then by the channel's own schema.
 *
 * What lands in the stream is the message as the client sent it, with the batch's `context` and
 * `integrations` merged in (the message's own keys win) and the batch's `sentAt` copied when the
 * message has none (a consumer corrects clock skew as Segment does: timestamp = receivedAt -
 * (sentAt - originalTimestamp)). `writeKey` never lands: it is a credential.
 */

/** The calls of the Segment spec. */
const CALLS = new Set(['identify', 'track', 'page', 'screen', 'group', 'alias'])
const CALL_LIST = [...CALLS].join(', ')

/** Longer messageIds are hashed for the de-duplication store (Segment asks for fewer than 100 characters). */
const MAX_RAW_MESSAGE_ID = 100

type Message = Record<string, unknown>

function isObject (v: unknown): v is Message {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function isId (v: unknown): v is string | number {
  return (typeof v === 'string' && v !== '') || (typeof v === 'number' && Number.isFinite(v))
}

/** Why a message breaks the Segment spec, or undefined. */
function specProblem (m: Message, index: number): EventError | undefined {
  const type = m.type
  if (typeof type !== 'string' || !CALLS.has(type)) {
    return { index, pointer: '/type', reason: `must be one of ${CALL_LIST} (the Segment call)` }
  }
  if (type === 'alias') {
    if (!isId(m.userId)) return { index, pointer: '/userId', reason: 'an alias call needs a userId' }
    if (!isId(m.previousId)) return { index, pointer: '/previousId', reason: 'an alias call needs a previousId' }
  } else if (!isId(m.userId) && !isId(m.anonymousId)) {
    return { index, pointer: '', reason: 'needs a userId or an anonymousId (Segment: no_user_anon_id)' }
  }
  if (type === 'track' && (typeof m.event !== 'string' || m.event === '')) {
    return { index, pointer: '/event', reason: 'a track call needs an event name' }
  }
  if (type === 'group' && !isId(m.groupId)) return { index, pointer: '/groupId', reason: 'a group call needs a groupId' }
  if (m.messageId !== undefined && (typeof m.messageId !== 'string' || m.messageId === '')) {
    return { index, pointer: '/messageId', reason: 'must be a non-empty string' }
  }
  for (const key of ['properties', 'traits', 'context', 'integrations'] as const) {
    if (m[key] !== undefined && !isObject(m[key])) return { index, pointer: `/${key}`, reason: 'must be an object' }
  }
  for (const key of ['timestamp', 'originalTimestamp', 'sentAt'] as const) {
    const t = m[key]
    if (t !== undefined && (typeof t !== 'string' || Number.isNaN(Date.parse(t)))) {
      return { index, pointer: `/${key}`, reason: 'must be an ISO-8601 date' }
    }
  }
  return undefined
}

/** The write key of a body (a batch or a single call), for authentication when no header carries one. */
export function bodyWriteKey (body: unknown): string | undefined {
  return isObject(body) && typeof body.writeKey === 'string' && body.writeKey !== '' ? body.writeKey : undefined
}

function decode (body: unknown, { config }: DecodeContext): Decoded {
  if (body === undefined) throw new GatewayError('GW_ERR_EMPTY_BODY', 'The request has no body; send a Segment batch {"batch":[...]} or one call, as application/json')
  if (!isObject(body)) {
    throw new GatewayError('GW_ERR_NOT_AN_OBJECT', `Channel ${config.name} takes the Segment HTTP API: a JSON object, either a batch {"batch":[...]} or one call with its "type"`)
  }
  let messages: unknown[]
  let shared: Message | undefined
  if (body.batch !== undefined) {
    if (!Array.isArray(body.batch)) throw new GatewayError('GW_ERR_BAD_REQUEST', '"batch" must be an array of Segment calls')
    if (body.batch.length === 0) throw new GatewayError('GW_ERR_EMPTY_BATCH', 'The batch is empty; send at least one call')
    messages = body.batch
    shared = body
  } else {
    messages = [body]
  }
  const max = config.maxEventsPerRequest
  if (messages.length > max) {
    throw new GatewayError('GW_ERR_TOO_MANY_EVENTS', `The batch holds ${messages.length} calls; channel ${config.name} takes at most ${max} per request. Lower the SDK's flushAt`)
  }
  const ownKey = config.partitionKey.kind === 'format'
  const count = messages.length
  const events = new Array<unknown>(count)
  const problems = new Array<EventError | undefined>(count)
  const keys = new Array<string | undefined>(count)
  const dedupIds = new Array<string | undefined>(count)
  for (let i = 0; i < count; i++) {
    const m = messages[i]
    if (!isObject(m)) {
      events[i] = m // prepareRecords refuses it: not an object
      continue
    }
    const event: Message = { ...m }
    delete event.writeKey
    if (shared !== undefined) {
      for (const key of ['context', 'integrations'] as const) {
        const outer = shared[key]
        if (isObject(outer)) event[key] = isObject(m[key]) ? { ...outer, ...m[key] } : (m[key] ?? outer)
      }
      if (event.sentAt === undefined && shared.sentAt !== undefined) event.sentAt = shared.sentAt
    }
    events[i] = event
    problems[i] = specProblem(event, i)
    if (ownKey) {
      const who = isId(event.userId) ? event.userId : event.anonymousId
      keys[i] = isId(who) ? String(who) : undefined
    }
    const id = event.messageId
    if (typeof id === 'string' && id !== '') {
      dedupIds[i] = id.length <= MAX_RAW_MESSAGE_ID ? id : createHash('sha256').update(id).digest('base64url')
    }
  }
  return { events, problems, partitionKeys: keys, dedupIds }
}

/**
 * 200 whenever something was taken, as Segment answers (its SDKs give up on other 4xx, so a 400
 * for one bad message would drop the good ones with it); the counts say what happened.
 */
function answer (o: Outcome): FormatAnswer {
  return {
    status: 200,
    contentType: 'application/json; charset=utf-8',
    body: JSON.stringify({
      success: true, accepted: o.accepted, duplicates: o.duplicates, rejected: o.rejected, ...(o.quarantined > 0 ? { quarantined: o.quarantined } : {}), errors: o.errors
    })
  }
}

export const segmentFormat: InputFormatCodec = { name: 'segment', decode, answer }
