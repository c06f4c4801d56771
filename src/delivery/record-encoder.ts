/**
 * Turns events into Kinesis record data: one JSON line ending in "\n", so that Firehose's S3
 * objects are newline-delimited JSON that Athena, Glue and Spark read as they are.
 *
 * The envelope (snake_case, because Glue and Athena lower-case column names):
 *   {"event_id":"<uuid>","received_at":"<ISO-8601>","channel":"<name>",
 *    "source_ip":"<client ip>","user_agent":"<UA or null>","data":<the event as sent>}
 *
 * Everything but the id and the event is the same for every event of a request, so it is
 * serialized once per request (envelopeMiddle) and shared by the batch.
 */

export interface RequestFacts {
  readonly receivedAt: string
  readonly channel: string
  /** Undefined when the client's socket closed before the record was made (Fastify's request.ip). */
  readonly sourceIp: string | undefined
  readonly userAgent: string | undefined
  /** Added by API-key authentication: the key's id, never the key. */
  readonly clientId?: string | undefined
}

/** The part of every envelope of one request that lies between the event id and the event. */
export function envelopeMiddle (facts: RequestFacts): string {
  return '","received_at":"' + facts.receivedAt +
    '","channel":' + JSON.stringify(facts.channel) +
    ',"source_ip":' + (facts.sourceIp === undefined ? 'null' : JSON.stringify(facts.sourceIp)) +
    ',"user_agent":' + (facts.userAgent === undefined ? 'null' : JSON.stringify(facts.userAgent)) +
    (facts.clientId === undefined ? '' : ',"client_id":' + JSON.stringify(facts.clientId)) +
    ',"data":'
}

export function encodeEnvelope (eventId: string, middle: string, eventJson: string): string {
  return '{"event_id":"' + eventId + middle + eventJson + '}\n'
}

export function encodeRaw (eventJson: string): string {
  return eventJson + '\n'
}

/** Where the event's JSON text lies in the request body, when it can be copied as it is (http/event-spans.ts). */
export interface EventBytes {
  readonly body: Buffer
  readonly start: number
  readonly end: number
}

const ENVELOPE_HEAD = Buffer.from('{"event_id":"')
let cachedMiddle = ''
let cachedMiddleBytes = Buffer.alloc(0)

/**
 * The record data of one event: the envelope (or the raw line) around the event's bytes as the
 * client sent them, copied from the body, or, without them, around its JSON.stringify text.
 * Copying skips re-serializing every event and encoding it to UTF-8 a second time.
 */
export function encodeRecord (eventId: string, middle: string, event: unknown, bytes: EventBytes | undefined): Buffer {
  if (bytes === undefined) {
    const json = JSON.stringify(event)
    return Buffer.from(middle === '' ? encodeRaw(json) : encodeEnvelope(eventId, middle, json))
  }
  const { body, start, end } = bytes
  const length = end - start
  if (middle === '') {
    const out = Buffer.allocUnsafe(length + 1)
    body.copy(out, 0, start, end)
    out[length] = 0x0a // \n
    return out
  }
  // The middle is the same for every event of a request: encode it once.
  if (middle !== cachedMiddle) {
    cachedMiddle = middle
    cachedMiddleBytes = Buffer.from(middle)
  }
  const idLength = Buffer.byteLength(eventId)
  const out = Buffer.allocUnsafe(ENVELOPE_HEAD.length + idLength + cachedMiddleBytes.length + length + 2)
  let at = ENVELOPE_HEAD.copy(out, 0)
  at += out.write(eventId, at, 'utf8')
  at += cachedMiddleBytes.copy(out, at)
  at += body.copy(out, at, start, end)
  out[at++] = 0x7d // }
  out[at] = 0x0a // \n
  return out
}
