import { open, unlink, type FileHandle } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { KINESIS_MAX_RECORDS_PER_PUT } from '../../config/limits.js'
import { BufferFullError, type DeliveryOutcome, type OutgoingRecord, type StreamProducer } from '../stream-producer.js'
import { decodeRecords } from './spool-format.js'
import { segmentPath, writeCheckpoint, type Checkpoint } from './spool-files.js'

/** What one read takes from a segment: several PutRecords calls' worth. */
const READ_BYTES = 4 * 1024 * 1024
/** Bytes read from the spool and not yet confirmed by Kinesis. */
const MAX_IN_FLIGHT_BYTES = 16 * 1024 * 1024
/** Pause before sending again records that failed with a non-retryable error (stream missing, access denied). */
const HARD_FAILURE_PAUSE_MS = 5_000
const BUFFER_FULL_PAUSE_MS = 50

export interface ShipperObserver {
  /** A torn or corrupt record ended a segment early; the rest of that segment is skipped. */
  corruptTail?: (stream: string, segment: number, offset: number, reason: string) => void
  /** Records Kinesis refused for good; they stay in the spool and are retried after a pause. */
  hardFailure?: (stream: string, count: number, errorCode: string, message: string) => void
  /** The writer: the disk refused a write (requests get 503 until it takes writes again), once per episode. */
  diskError?: (stream: string, code: string, message: string) => void
  diskRecovered?: (stream: string) => void
}

export interface SpoolShipperOptions {
  readonly stream: string
  readonly dir: string
  readonly producer: StreamProducer
  /** Where to resume: the last checkpoint, or the start of the oldest segment. */
  readonly start: Checkpoint
  /** The writer's active segment and its durable length (the shipper never reads past it). */
  readonly active: () => { segment: number, committed: number }
  /** A segment was shipped completely and deleted (or found gone). */
  readonly released: (segment: number, bytes: number) => void
  readonly checkpointIntervalMs: number
  readonly observer?: ShipperObserver
}

interface Chunk {
  /** Position after the chunk's last record: the checkpoint once it and all before it are written. */
  readonly end: Checkpoint
  readonly bytes: number
  done: boolean
}

/**
 * Ships the spool to Kinesis, oldest record first, through the stream's producer (records never
 * expire: they are retried until written). Chunks complete out of order, but the checkpoint only
 * moves past a chunk once every chunk before it is written, so after a crash delivery resumes
 * from the checkpoint: at least once, never lost. Records shipped after the last checkpoint write
 * are sent again after a crash (duplicates, bounded by checkpointIntervalMs of traffic).
 */
export class SpoolShipper {
  private readonly opts: SpoolShipperOptions
  private readPos: Checkpoint
  private confirmed: Checkpoint
  private saved: Checkpoint
  private readonly chunks: Chunk[] = []
  private inFlightBytes = 0
  private fh: FileHandle | undefined
  private fhSegment = -1
  private wake: (() => void) | undefined
  private stopped = false
  private loop: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private saving: Promise<void> = Promise.resolve()
  /** Sizes of segments fully read, waiting to be deleted once the checkpoint passes them. */
  private readonly finishedSegments = new Map<number, number>()
  private shippedRecords = 0
  /** Bytes confirmed by Kinesis, plus bytes skipped after a torn or corrupt record. */
  private doneBytes = 0
  private corrupt = 0

  constructor (opts: SpoolShipperOptions) {
    this.opts = opts
    this.readPos = opts.start
    this.confirmed = opts.start
    this.saved = opts.start
  }

  get shipped (): number {
    return this.shippedRecords
  }

  /** Torn or corrupt records met (each ended its segment early). */
  get corruptTails (): number {
    return this.corrupt
  }

  /** Spool bytes shipped (or skipped as a torn tail) since start. */
  get shippedBytes (): number {
    return this.doneBytes
  }

  /** Bytes read from the spool and waiting for Kinesis. */
  get pendingBytes (): number {
    return this.inFlightBytes
  }

  start (): void {
    this.loop = this.run()
    this.timer = setInterval(() => { this.saving = this.saving.then(() => this.persist()) }, this.opts.checkpointIntervalMs)
    this.timer.unref()
  }

  /** The writer made more data durable. */
  notify (): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  /** Stops reading; records already handed to the producer finish (or stay in the spool). */
  async stop (): Promise<void> {
    this.stopped = true
    this.notify()
    await this.loop
  }

  /** Writes the final checkpoint and closes files (after the producer has drained). */
  async close (): Promise<void> {
    await this.stop()
    clearInterval(this.timer)
    await this.saving
    await this.persist()
    await this.fh?.close()
    this.fh = undefined
  }

  private async waitForWork (): Promise<void> {
    if (this.stopped) return
    await new Promise<void>((resolve) => { this.wake = resolve })
  }

  private async run (): Promise<void> {
    while (!this.stopped) {
      if (this.inFlightBytes >= MAX_IN_FLIGHT_BYTES) { await this.waitForWork(); continue }
      const active = this.opts.active()
      const pos = this.readPos
      if (pos.segment > active.segment) { await this.waitForWork(); continue }
      const sealed = pos.segment < active.segment
      const fh = await this.handleFor(pos.segment)
      if (fh === undefined) {
        // A sealed segment that is gone (removed with its folder, or an empty one the writer
        // removed) has nothing left to ship; the active one is not created yet: wait for it.
        if (sealed) this.nextSegment(0)
        else await this.waitForWork()
        continue
      }
      const limit = sealed ? (await fh.stat()).size : active.committed
      if (pos.offset >= limit) {
        if (sealed) this.nextSegment(limit)
        else await this.waitForWork()
        continue
      }
      const want = Math.min(READ_BYTES, limit - pos.offset)
      const buf = Buffer.allocUnsafe(want)
      const { bytesRead } = await fh.read(buf, 0, want, pos.offset)
      const atEnd = pos.offset + bytesRead >= limit
      const decoded = decodeRecords(buf.subarray(0, bytesRead), atEnd, Number.POSITIVE_INFINITY)
      if (decoded.records.length > 0) {
        this.ship(decoded.records, { segment: pos.segment, offset: pos.offset + decoded.consumed }, decoded.consumed)
        this.readPos = { segment: pos.segment, offset: pos.offset + decoded.consumed }
      }
      if (decoded.corrupt) {
        this.corrupt++
        this.opts.observer?.corruptTail?.(this.opts.stream, pos.segment, pos.offset + decoded.consumed, decoded.reason)
        if (sealed) {
          this.doneBytes += limit - this.readPos.offset
          this.nextSegment(limit)
        } else {
          // Cannot happen with a healthy disk (the writer seals a segment after a failed write);
          // wait for the writer to move on rather than read garbage again.
          await this.waitForWork()
        }
      }
    }
  }

  private async handleFor (segment: number): Promise<FileHandle | undefined> {
    if (this.fhSegment === segment && this.fh !== undefined) return this.fh
    await this.fh?.close()
    this.fh = undefined
    try {
      this.fh = await open(segmentPath(this.opts.dir, segment), 'r')
      this.fhSegment = segment
      return this.fh
    } catch {
      return undefined
    }
  }

  /** Done with the current segment: the checkpoint moves to the next one once everything before is written. */
  private nextSegment (size: number): void {
    const segment = this.readPos.segment
    this.finishedSegments.set(segment, size)
    this.readPos = { segment: segment + 1, offset: 0 }
    this.chunks.push({ end: this.readPos, bytes: 0, done: true })
    this.advance()
  }

  private ship (records: OutgoingRecord[], end: Checkpoint, bytes: number): void {
    const chunk: Chunk = { end, bytes, done: false }
    this.chunks.push(chunk)
    this.inFlightBytes += bytes
    void this.deliver(records).then(() => {
      chunk.done = true
      this.inFlightBytes -= bytes
      this.doneBytes += bytes
      this.shippedRecords += records.length
      this.advance()
      this.notify()
    })
  }

  /** Sends until every record is written. Never gives up: the records were acknowledged to clients. */
  private async deliver (records: OutgoingRecord[]): Promise<void> {
    let pending = records
    while (pending.length > 0) {
      const parts: Array<Promise<DeliveryOutcome[]>> = []
      try {
        for (let i = 0; i < pending.length; i += KINESIS_MAX_RECORDS_PER_PUT) {
          parts.push(this.opts.producer.send(pending.slice(i, i + KINESIS_MAX_RECORDS_PER_PUT), Number.POSITIVE_INFINITY))
        }
      } catch (err) {
        if (!(err instanceof BufferFullError)) throw err
        // The stream's buffer is full (shared with other channels): send the rest a moment later.
        const sentCount = parts.length * KINESIS_MAX_RECORDS_PER_PUT
        const failedEarlier = await this.unwritten(pending.slice(0, sentCount), parts)
        pending = failedEarlier.concat(pending.slice(sentCount))
        await sleep(BUFFER_FULL_PAUSE_MS)
        continue
      }
      pending = await this.unwritten(pending, parts)
      if (pending.length > 0) await sleep(HARD_FAILURE_PAUSE_MS)
    }
  }

  private async unwritten (records: OutgoingRecord[], parts: Array<Promise<DeliveryOutcome[]>>): Promise<OutgoingRecord[]> {
    const outcomes = (await Promise.all(parts)).flat()
    const failed: OutgoingRecord[] = []
    let code = ''
    let message = ''
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i] as DeliveryOutcome
      if (!o.ok) { failed.push(records[i] as OutgoingRecord); code = o.errorCode; message = o.errorMessage }
    }
    if (failed.length > 0) this.opts.observer?.hardFailure?.(this.opts.stream, failed.length, code, message)
    return failed
  }

  private advance (): void {
    while (this.chunks.length > 0 && (this.chunks[0] as Chunk).done) {
      this.confirmed = (this.chunks.shift() as Chunk).end
    }
  }

  /**
   * Saves the checkpoint, then deletes the segments it has passed. They are deleted even when the
   * checkpoint could not be written (a full disk): every record in them is confirmed by Kinesis,
   * and after a restart an older checkpoint pointing at a deleted segment means "start at the
   * oldest segment left", which is right. Freeing them is what lets a full disk take writes again.
   */
  private async persist (): Promise<void> {
    const cp = this.confirmed
    if (cp.segment !== this.saved.segment || cp.offset !== this.saved.offset) {
      try {
        await writeCheckpoint(this.opts.dir, cp)
        this.saved = cp
      } catch { /* full or read-only disk, folder removed: written at a later interval */ }
    }
    for (const [segment, size] of this.finishedSegments) {
      if (segment >= cp.segment) continue
      if (segment === this.fhSegment) { await this.fh?.close(); this.fh = undefined; this.fhSegment = -1 }
      try {
        await unlink(segmentPath(this.opts.dir, segment))
      } catch (err) {
        // Gone already (an empty one the writer removed, or the folder went) counts as freed;
        // any other failure (read-only disk) is retried at the next interval.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') continue
      }
      this.finishedSegments.delete(segment)
      this.opts.released(segment, size)
    }
  }
}
