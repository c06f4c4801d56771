import { answerDraft, senderSink, setFailed, type AnswerDraft, type OutgoingRecord, type PutAnswer, type PutRecordsSender, type Sink } from '../kinesis/sink.js'
import { RecordQueue } from './record-queue.js'
import { classifyCallError, fullJitterDelay, isRetryableRecordError } from './retry-policy.js'

export type { OutgoingRecord, PutRecordsSender } from '../kinesis/sink.js'

export type DeliveryOutcome =
  | { readonly ok: true, readonly shardId: string, readonly sequenceNumber: string }
  | { readonly ok: false, readonly errorCode: string, readonly errorMessage: string }

/**
 * What became of the records of one submit(), slot by slot, as parallel arrays (the same shape
 * as a sink's answer): no object per record. `errorCodes` is null when all were stored.
 */
export type DeliveryReport = PutAnswer

/** What the producer reports, for metrics and logs. Every method is optional. */
export interface ProducerObserver {
  batchSent?: (stream: string, records: number, bytes: number, latencyMs: number) => void
  recordsRetried?: (stream: string, count: number, errorCode: string) => void
  recordsFailed?: (stream: string, count: number, errorCode: string) => void
  /** Records sent again after a call whose answer was lost: each may now exist twice in the stream. */
  possibleDuplicates?: (stream: string, count: number) => void
  callFailed?: (stream: string, errorCode: string, message: string, retryable: boolean) => void
}

/** Holds back records whose shard is at its write limit (shard-pacer.ts). */
export interface RecordPacer {
  /** True when the record may go now (its shard's allowance is taken). */
  admit (record: OutgoingRecord): boolean
  /** How long to wait before trying held-back records again. */
  retryInMs (): number
}

export interface StreamProducerOptions {
  readonly stream: string
  /** Where batches go; the producer takes its batch limits from it. */
  readonly sink?: Sink
  /** Instead of a sink, a PutRecords-shaped function (unit tests). */
  readonly send?: PutRecordsSender
  readonly lingerMs: number
  readonly maxInFlight: number
  readonly recordDeadlineMs: number
  readonly retryBaseMs: number
  readonly retryMaxMs: number
  /** Bytes of records held (queued, in flight or waiting to retry) before send() refuses more. */
  readonly maxBufferedBytes: number
  /** Records held (queued, in flight or waiting to retry) before send() refuses more. */
  readonly maxBufferedRecords?: number
  readonly pacer?: RecordPacer
  readonly observer?: ProducerObserver
  readonly now?: () => number
}

/** Thrown by send() when the buffer is full: the caller answers 503 with Retry-After. */
export class BufferFullError extends Error {
  constructor (stream: string) {
    super(`the send buffer of stream ${stream} is full`)
    this.name = 'BufferFullError'
  }
}

/** The records of one request; resolves once every record has an outcome. */
class Ticket {
  readonly report: AnswerDraft
  private remaining: number
  private readonly resolve: (report: DeliveryReport) => void

  constructor (count: number, resolve: (report: DeliveryReport) => void) {
    this.report = answerDraft(count)
    this.remaining = count
    this.resolve = resolve
  }

  stored (slot: number, shardId: string, sequenceNumber: string): void {
    this.report.shardIds[slot] = shardId
    this.report.sequenceNumbers[slot] = sequenceNumber
    if (--this.remaining === 0) this.resolve(this.report)
  }

  failed (slot: number, errorCode: string, errorMessage: string): void {
    setFailed(this.report, slot, errorCode, errorMessage)
    if (--this.remaining === 0) this.resolve(this.report)
  }
}

/** One outcome object per record: for callers that want them (spool shipper, tests), not the ingest route. */
export function outcomesOf (report: DeliveryReport): DeliveryOutcome[] {
  const n = report.shardIds.length
  const out = new Array<DeliveryOutcome>(n)
  for (let i = 0; i < n; i++) {
    const code = report.errorCodes?.[i] ?? ''
    out[i] = code === ''
      ? { ok: true, shardId: report.shardIds[i] as string, sequenceNumber: report.sequenceNumbers[i] as string }
      : { ok: false, errorCode: code, errorMessage: report.errorMessages?.[i] ?? code }
  }
  return out
}

interface QueuedRecord {
  readonly record: OutgoingRecord
  readonly ticket: Ticket
  readonly slot: number
  readonly deadline: number
  attempts: number
}

/**
 * Batches the records of one stream into PutRecords calls.
 *
 * A batch goes out when it is full (500 records or 5 MiB, the PutRecords limits), when the linger
 * time has passed, or as soon as a call in flight returns. Records that Kinesis rejects with a
 * retryable error are sent again after a full-jitter backoff, until their deadline; only then are
 * they reported as not written. Nothing here knows about HTTP.
 */
export class StreamProducer {
  readonly stream: string
  private readonly opts: StreamProducerOptions
  private readonly sink: Sink
  private readonly maxRecords: number
  private maxBytes: number
  private readonly now: () => number
  private readonly queue = new RecordQueue<QueuedRecord>()
  /** Records back from a failed attempt: sent before `queue` (they are older), kept apart so a
   * retry never copies the whole queue (which can hold 100,000 records during an outage). */
  private readonly retryQueue = new RecordQueue<QueuedRecord>()
  private queuedBytes = 0
  /** Bytes of every record not yet settled: queued, in flight and waiting to retry. */
  private heldBytes = 0
  private heldRecords = 0
  private inFlight = 0
  private retriesWaiting = 0
  private lingerTimer: NodeJS.Timeout | undefined
  private paceTimer: NodeJS.Timeout | undefined
  /** The last takeBatch() held records back for pacing. */
  private paced = false
  private draining = false
  private idleWaiters: Array<() => void> = []

  constructor (opts: StreamProducerOptions) {
    this.stream = opts.stream
    this.opts = opts
    const sink = opts.sink ?? (opts.send === undefined ? undefined : senderSink(opts.send))
    if (sink === undefined) throw new Error('StreamProducer needs a sink (or a send function)')
    this.sink = sink
    this.maxRecords = sink.limits.maxRecordsPerCall
    this.maxBytes = sink.limits.maxBytesPerCall
    this.now = opts.now ?? Date.now
  }

  /**
   * A stream with large records (Kinesis takes up to 10 MiB per record once the stream allows it):
   * a call may carry as many bytes as one such record, past the usual 5 MiB.
   */
  allowRecordsOf (maxRecordBytes: number): void {
    if (maxRecordBytes > this.maxBytes) this.maxBytes = maxRecordBytes
  }

  /** Records held and not yet settled, in bytes (for back-pressure and metrics). */
  get bufferedBytes (): number {
    return this.heldBytes
  }

  /** Records held and not yet settled. */
  get bufferedRecords (): number {
    return this.heldRecords
  }

  get queuedRecords (): number {
    return this.queue.length + this.retryQueue.length
  }

  /**
   * Queues the records of one request and resolves with one outcome per record, in order.
   * Throws BufferFullError (before queueing any of them) when the buffer cannot take them all.
   * `deadlineMs` overrides the record deadline (Infinity: retry retryable failures until written,
   * as the buffered and spool acknowledgement modes do).
   */
  send (records: readonly OutgoingRecord[], deadlineMs: number = this.opts.recordDeadlineMs): Promise<DeliveryOutcome[]> {
    return this.submit(records, deadlineMs).then(outcomesOf)
  }

  /** As send(), answered as one report for the request instead of an object per record. */
  submit (records: readonly OutgoingRecord[], deadlineMs: number = this.opts.recordDeadlineMs): Promise<DeliveryReport> {
    if (records.length === 0) return Promise.resolve({ failed: 0, shardIds: [], sequenceNumbers: [], errorCodes: null, errorMessages: null })
    let bytes = 0
    for (const r of records) bytes += r.size
    if (this.heldRecords > 0 && (this.heldBytes + bytes > this.opts.maxBufferedBytes ||
        this.heldRecords + records.length > (this.opts.maxBufferedRecords ?? Number.POSITIVE_INFINITY))) {
      throw new BufferFullError(this.stream)
    }
    this.heldRecords += records.length
    return new Promise((resolve) => {
      const ticket = new Ticket(records.length, resolve)
      const deadline = this.now() + deadlineMs
      for (let i = 0; i < records.length; i++) {
        this.queue.push({ record: records[i] as OutgoingRecord, ticket, slot: i, deadline, attempts: 0 })
      }
      this.queuedBytes += bytes
      this.heldBytes += bytes
      this.pump(false)
    })
  }

  /** Sends everything held now and resolves when every record has an outcome. */
  drain (): Promise<void> {
    this.draining = true
    this.pump(true)
    if (this.isIdle()) return Promise.resolve()
    return new Promise((resolve) => { this.idleWaiters.push(resolve) })
  }

  private isIdle (): boolean {
    return this.queuedRecords === 0 && this.inFlight === 0 && this.retriesWaiting === 0
  }

  private pump (force: boolean): void {
    const { maxInFlight } = this.opts
    while (this.inFlight < maxInFlight && this.queuedRecords > 0) {
      const full = this.queuedRecords >= this.maxRecords || this.queuedBytes >= this.maxBytes
      if (!full && !force && !this.draining) break
      const batch = this.takeBatch()
      if (batch.length > 0) {
        this.sendBatch(batch).catch(this.onBug)
      } else if (this.paced) {
        // Every shard with queued records is at its limit: try again when they have room.
        this.paceTimer ??= setTimeout(this.onPace, this.opts.pacer?.retryInMs() ?? 1)
        break
      }
    }
    // While held back by pacing, the pacing timer (not the linger) decides when to look again.
    if (this.queuedRecords > 0 && this.lingerTimer === undefined && this.paceTimer === undefined && this.inFlight < maxInFlight) {
      this.lingerTimer = setTimeout(this.onLinger, this.opts.lingerMs)
    }
    if (this.isIdle()) this.notifyIdle()
  }

  /** sendBatch settles every record itself; reaching this is a bug, which must not pass silently. */
  private readonly onBug = (err: unknown): void => {
    process.emitWarning(`kinesis-gateway producer for ${this.stream}: ${String(err)}`)
  }

  private readonly onPace = (): void => {
    this.paceTimer = undefined
    this.pump(true)
  }

  private readonly onLinger = (): void => {
    this.lingerTimer = undefined
    this.pump(true)
  }

  /** Takes up to one PutRecords call's worth of records; records past their deadline fail here. */
  private takeBatch (): QueuedRecord[] {
    const now = this.now()
    let count = 0
    let bytes = 0
    let end = 0
    const expired: QueuedRecord[] = []
    const batch: QueuedRecord[] = []
    const held: QueuedRecord[] = []
    const pacer = this.opts.pacer
    const source = this.retryQueue.length > 0 ? this.retryQueue : this.queue
    // Held-back records are scanned past, but only so far: a hot shard must not make every
    // batch walk the whole queue.
    const maxRecords = this.maxRecords
    for (; end < source.length && count < maxRecords && held.length < maxRecords; end++) {
      const q = source.at(end) as QueuedRecord
      if (q.deadline <= now) {
        expired.push(q)
        continue
      }
      if (bytes + q.record.size > this.maxBytes) break
      if (pacer !== undefined && !pacer.admit(q.record)) {
        held.push(q)
        continue
      }
      bytes += q.record.size
      count++
      batch.push(q)
    }
    source.dropFront(end)
    // Held-back records keep their place at the front.
    source.putBackFront(held)
    this.paced = held.length > 0
    let taken = 0
    for (const q of batch) taken += q.record.size
    for (const q of expired) taken += q.record.size
    this.queuedBytes -= taken
    if (expired.length > 0) this.fail(expired, 'DeadlineExceeded', 'not accepted by Kinesis before the record deadline')
    return batch
  }

  private async sendBatch (batch: QueuedRecord[]): Promise<void> {
    this.inFlight++
    const started = this.now()
    const observer = this.opts.observer
    let bytes = 0
    // The call may take until the earliest deadline of its records, and no longer (a hung
    // endpoint must not hold a request past its deadline: its 503 is due then).
    let earliest = Number.POSITIVE_INFINITY
    const records = new Array<OutgoingRecord>(batch.length)
    for (let i = 0; i < batch.length; i++) {
      const q = batch[i] as QueuedRecord
      bytes += q.record.size
      if (q.deadline < earliest) earliest = q.deadline
      records[i] = q.record
    }
    try {
      const answer = await this.sink.put(this.stream, records, earliest === Number.POSITIVE_INFINITY ? undefined : earliest - started)
      observer?.batchSent?.(this.stream, batch.length, bytes, this.now() - started)
      const codes = answer.errorCodes
      const { shardIds, sequenceNumbers } = answer
      if (codes === null) {
        for (let i = 0; i < batch.length; i++) {
          const q = batch[i] as QueuedRecord
          this.heldBytes -= q.record.size
          q.ticket.stored(q.slot, shardIds[i] as string, sequenceNumbers[i] as string)
        }
        this.heldRecords -= batch.length
        return
      }
      const retry: QueuedRecord[] = []
      let retryCode = ''
      let retryMessage = ''
      for (let i = 0; i < batch.length; i++) {
        const q = batch[i] as QueuedRecord
        const code = codes[i] ?? 'MissingResult'
        if (code === '') {
          this.heldBytes -= q.record.size
          this.heldRecords--
          q.ticket.stored(q.slot, shardIds[i] as string, sequenceNumbers[i] as string)
        } else if (code === 'MissingResult' || isRetryableRecordError(code)) {
          retry.push(q)
          retryCode = code
          retryMessage = answer.errorMessages?.[i] ?? code
        } else {
          this.fail([q], code, answer.errorMessages?.[i] ?? code)
        }
      }
      if (retry.length > 0) this.scheduleRetry(retry, retryCode, retryMessage)
    } catch (err) {
      const failure = classifyCallError(err)
      observer?.callFailed?.(this.stream, failure.code, failure.message, failure.retryable)
      if (failure.retryable) {
        if (failure.maybeWritten) observer?.possibleDuplicates?.(this.stream, batch.length)
        this.scheduleRetry(batch, failure.code, failure.message)
      } else {
        this.fail(batch, failure.code, failure.message)
      }
    } finally {
      this.inFlight--
      // A client waits on records with a deadline (ack: delivered): when no other call is in
      // flight, what is queued goes at once. While others are, a partial batch waits for the
      // linger: each call returning would otherwise send the few records that came in meanwhile,
      // and a call's fixed cost (~0.3 ms of CPU) would weigh on every request.
      // Nobody waits on the others (buffered, spool): a partial batch waits for the linger, so
      // calls carry more records (measured: p99 at 10k req/s buffered 23 -> 18 ms, docs/performance.md).
      const head = this.queue.at(0)
      this.pump(this.inFlight === 0 && head !== undefined && head.deadline !== Number.POSITIVE_INFINITY)
    }
  }

  private scheduleRetry (records: QueuedRecord[], code: string, message: string): void {
    const now = this.now()
    let attempt = 0
    for (const q of records) attempt = Math.max(attempt, ++q.attempts)
    const delay = fullJitterDelay(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs)
    const keep: QueuedRecord[] = []
    const give: QueuedRecord[] = []
    for (const q of records) (now + delay < q.deadline ? keep : give).push(q)
    if (give.length > 0) this.fail(give, code, message)
    if (keep.length === 0) return
    this.opts.observer?.recordsRetried?.(this.stream, keep.length, code)
    this.retriesWaiting++
    setTimeout(() => {
      this.retriesWaiting--
      let bytes = 0
      for (const q of keep) bytes += q.record.size
      // Retried records go first: they are the oldest.
      for (const q of keep) this.retryQueue.push(q)
      this.queuedBytes += bytes
      this.pump(true)
    }, delay)
  }

  private fail (records: QueuedRecord[], errorCode: string, errorMessage: string): void {
    this.opts.observer?.recordsFailed?.(this.stream, records.length, errorCode)
    for (const q of records) {
      this.heldBytes -= q.record.size
      this.heldRecords--
      q.ticket.failed(q.slot, errorCode, errorMessage)
    }
  }

  private notifyIdle (): void {
    if (this.idleWaiters.length === 0) return
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const w of waiters) w()
  }
}
