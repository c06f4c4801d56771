/**
 * Turns events into Kinesis record data: one JSON line ending in "\n", so that Firehose's S3
 * objects are newline-delimited JSON that Athena, Glue and Spark read as they are.
 *
 * The envelope (snake_case, because Glue and Athena lower-case column names):
 *   {"event_id":"<uuid>","received_at":"<ISO-8601>","channel":"<name>",
 *    "source_ip":"<client ip>","user_agent":"<UA or null>"[,"client_id":"<key id>"],"data":<the event as sent>}
 * A channel whose configuration names its `version` adds `"schema_version":<n>` after "channel":
 * the version of the schema the event was validated against.
 *
 * What is fixed per channel (its name, the field names) is serialized once, when the channel is
 * built; what is fixed per request (time, address, agent, client) once per request, as bytes;
 * per event only the id and the event's own bytes are copied.
 */

/** What every envelope of one request shares. */
export interface RequestFacts {
  readonly receivedAt: string
  /** Undefined when the socket closed before the request was read (request.ip then is). */
  readonly sourceIp: string | undefined
  readonly userAgent: string | undefined
  /** Added by API-key authentication: the key's id, never the key. */
  readonly clientId?: string | undefined
}

/** Where the event's JSON text lies in the request body, when it can be copied as it is (event-spans.ts). */
export interface EventBytes {
  readonly body: Buffer
  readonly start: number
  readonly end: number
}

const ENVELOPE_HEAD = Buffer.from('{"event_id":"')
const TAIL_BYTES = 2 // }\n

/** One request's share of its envelopes: the bytes between the event id and the event. */
export interface RequestEnvelope {
  readonly middle: Buffer | null
}

const RAW: RequestEnvelope = { middle: null }

/** A channel's record format, made once per channel. */
export class RecordEncoder {
  readonly raw: boolean
  /** `"channel":"orders"`, and `,"schema_version":2` on versioned channels: made once. */
  private readonly channelPart: string

  constructor (channel: string, record: 'envelope' | 'raw', schemaVersion?: number) {
    this.raw = record === 'raw'
    this.channelPart = JSON.stringify(channel) + (schemaVersion === undefined ? '' : ',"schema_version":' + String(schemaVersion))
  }

  /** The part of every envelope of one request that lies between the event id and the event. */
  forRequest (facts: RequestFacts): RequestEnvelope {
    if (this.raw) return RAW
    const middle = '","received_at":"' + facts.receivedAt +
      '","channel":' + this.channelPart +
      ',"source_ip":' + (facts.sourceIp === undefined ? 'null' : JSON.stringify(facts.sourceIp)) +
      ',"user_agent":' + (facts.userAgent === undefined ? 'null' : JSON.stringify(facts.userAgent)) +
      (facts.clientId === undefined ? '' : ',"client_id":' + JSON.stringify(facts.clientId)) +
      ',"data":'
    return { middle: Buffer.from(middle) }
  }

  /** Bytes of the record data of one event, without building it (the dry run). */
  sizeOf (envelope: RequestEnvelope, eventId: string, event: unknown, bytes: EventBytes | undefined): number {
    const eventBytes = bytes === undefined ? Buffer.byteLength(JSON.stringify(event)) : bytes.end - bytes.start
    const middle = envelope.middle
    return middle === null ? eventBytes + 1 : ENVELOPE_HEAD.length + eventId.length + middle.length + eventBytes + TAIL_BYTES
  }

  /**
   * The record data of one event: the envelope (or the raw line) around the event's bytes as
   * the client sent them, copied from the body, or, without them, around its JSON.stringify text.
   */
  encode (envelope: RequestEnvelope, eventId: string, event: unknown, bytes: EventBytes | undefined): Buffer {
    let body: Buffer
    let start: number
    let end: number
    if (bytes === undefined) {
      body = Buffer.from(JSON.stringify(event))
      start = 0
      end = body.length
    } else {
      ({ body, start, end } = bytes)
    }
    const length = end - start
    const middle = envelope.middle
    if (middle === null) {
      const out = Buffer.allocUnsafe(length + 1)
      body.copy(out, 0, start, end)
      out[length] = 0x0a // \n
      return out
    }
    // Event ids are ASCII (UUIDs): one byte per character.
    const out = Buffer.allocUnsafe(ENVELOPE_HEAD.length + eventId.length + middle.length + length + TAIL_BYTES)
    let at = ENVELOPE_HEAD.copy(out, 0)
    at += out.write(eventId, at, 'latin1')
    at += middle.copy(out, at)
    at += body.copy(out, at, start, end)
    out[at++] = 0x7d // }
    out[at] = 0x0a // \n
    return out
  }
}
