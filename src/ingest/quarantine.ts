import { randomUUID } from 'node:crypto'
import type { StreamProducer } from '../delivery/stream-producer.js'
import type { OutgoingRecord } from '../kinesis/sink.js'
import type { EventSpans } from './event-spans.js'
import { BrokenLine, errorsByEvent, KIND_OF_CODE, type Prepared, type ProblemKind } from './prepare-records.js'
import type { RequestFacts } from './record-encoder.js'

/**
 * A channel's quarantine stream: every event that validation rejected (in `partial` and in
 * `reject` mode), and every body that is not JSON at all, kept as one JSON line per event:
 *
 *   {"channel":"orders","received_at":"...","event_id":"...","client_id":null,"reason":"schema",
 *    "errors":[{"pointer":"/total","reason":"must be number"}],"event":<the event as sent>}
 *
 * "event" holds the event's own bytes when they are JSON (as the client sent them, spacing
 * included); a line or body that is not JSON is kept as a string in "text", with the parse error.
 * Nothing a client sent vanishes without a trace (Tinybird's quarantine, PostHog's dead letters).
 *
 * Writes never hold the request: they are queued like buffered records (retried until written,
 * no deadline), and a full quarantine buffer drops and counts rather than refusing valid events.
 */
export interface QuarantineObserver {
  /** Events handed to the quarantine stream, by channel and reason (problem kind). */
  quarantined: (channel: string, reason: ProblemKind, count: number) => void
  /** Quarantine records that could not be queued (buffer full) or that Kinesis refused for good. */
  lost: (channel: string, count: number, errorCode: string) => void
}

/** Bytes of a quarantined event's text kept when the whole record would pass the record limit. */
const TRUNCATED_TEXT_BYTES = 256 * 1024

export class Quarantine {
  readonly stream: string
  private readonly producer: StreamProducer
  private readonly channel: string
  private readonly channelJson: string
  private readonly maxRecordBytes: number
  private readonly observer: QuarantineObserver

  constructor (channel: string, producer: StreamProducer, maxRecordBytes: number, observer: QuarantineObserver) {
    this.stream = producer.stream
    this.producer = producer
    this.channel = channel
    this.channelJson = JSON.stringify(channel)
    this.maxRecordBytes = maxRecordBytes
    this.observer = observer
  }

  /** Quarantines the failed events of a prepared request; returns how many were handed over. */
  events (prepared: Prepared, events: readonly unknown[], spans: EventSpans | null, facts: RequestFacts): number {
    const failed = prepared.failed
    if (failed === null) return 0
    const offsets = spans !== null && spans.offsets.length === 2 * prepared.count ? spans.offsets : undefined
    const byIndex = errorsByEvent(prepared)
    const records: OutgoingRecord[] = []
    const reasons = new Map<ProblemKind, number>()
    for (let i = 0; i < failed.length; i++) {
      const code = failed[i] as number
      if (code === 0) continue
      const kind = KIND_OF_CODE[code] as ProblemKind
      reasons.set(kind, (reasons.get(kind) ?? 0) + 1)
      const event = events[i]
      let payload: string
      if (event instanceof BrokenLine) {
        payload = '"text":' + JSON.stringify(event.text)
      } else {
        const start = offsets?.[2 * i] ?? -1
        const text = spans !== null && start >= 0 ? spans.body.toString('utf8', start, offsets?.[2 * i + 1]) : JSON.stringify(event)
        payload = '"event":' + text
      }
      records.push(this.record(prepared.ids[i] as string, kind, byIndex.get(i) ?? [], payload, facts))
    }
    this.send(records, reasons)
    return records.length
  }

  /** Quarantines a whole body that could not be parsed (kept as text, with the parse error). */
  body (body: Buffer, reason: string, facts: RequestFacts): void {
    const text = body.toString('utf8')
    const record = this.record(randomUUID(), 'malformed', [{ pointer: '', reason }], '"text":' + JSON.stringify(text), facts)
    this.send([record], new Map([['malformed', 1]]))
  }

  private record (eventId: string, kind: ProblemKind, errors: ReadonlyArray<{ readonly pointer: string, readonly reason: string }>, payload: string, facts: RequestFacts): OutgoingRecord {
    const head = '{"channel":' + this.channelJson +
      ',"received_at":"' + facts.receivedAt +
      '","event_id":"' + eventId +
      '","client_id":' + (facts.clientId === undefined ? 'null' : JSON.stringify(facts.clientId)) +
      ',"source_ip":' + (facts.sourceIp === undefined ? 'null' : JSON.stringify(facts.sourceIp)) +
      ',"reason":"' + kind +
      '","errors":' + JSON.stringify(errors) + ','
    let data = Buffer.from(head + payload + '}\n')
    if (data.length + eventId.length > this.maxRecordBytes) {
      // Too large to keep whole (an event over the record limit): keep its beginning.
      const excerpt = Buffer.from(payload).toString('utf8', 0, TRUNCATED_TEXT_BYTES)
      data = Buffer.from(head + '"truncated":true,"text":' + JSON.stringify(excerpt) + '}\n')
    }
    return { data, partitionKey: eventId, size: data.length + eventId.length, routable: true, explicitHashKey: undefined }
  }

  private send (records: OutgoingRecord[], reasons: ReadonlyMap<ProblemKind, number>): void {
    for (const [kind, n] of reasons) this.observer.quarantined(this.channel, kind, n)
    let pending
    try {
      pending = this.producer.submit(records, Number.POSITIVE_INFINITY)
    } catch (err) {
      // The quarantine's buffer is full: valid events must not wait on it.
      this.observer.lost(this.channel, records.length, (err as Error).name)
      return
    }
    void pending.then((report) => {
      if (report.failed > 0) this.observer.lost(this.channel, report.failed, report.errorCodes?.find((c) => c !== '') ?? 'Unknown')
    })
  }
}
