import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { SpoolConfig } from '../../config/types.js'
import type { OutgoingRecord, StreamProducer } from '../stream-producer.js'
import { listSegments, lockSpool, readCheckpoint, type Checkpoint } from './spool-files.js'
import { SpoolShipper, type ShipperObserver } from './spool-shipper.js'
import { SpoolWriter } from './spool-writer.js'

/** What a spool tells metrics (read at scrape time). */
export interface SpoolStats {
  /** Records shipped to Kinesis since start. */
  readonly shippedRecords: number
  /** Records appended (fsynced) since start. */
  readonly appendedRecords: number
  /** Durable bytes not yet confirmed by Kinesis (including what a previous process left). */
  readonly unshippedBytes: number
  /** Segment files on disk. */
  readonly segments: number
  readonly corruptTails: number
  /** Bytes on disk (segments not yet deleted) plus bytes being written: what counts against spool.maxBytes. */
  readonly usedBytes: number
  /** Bytes read from the spool and waiting for Kinesis. */
  readonly pendingBytes: number
}

/**
 * The disk spool of one stream: <spool.dir>/<stream>/, segment files plus a checkpoint.
 * Opening it recovers from whatever a crash left: the shipper resumes from the checkpoint
 * (or the oldest segment), and the writer starts a fresh segment after the newest one.
 */
export class StreamSpool {
  readonly stream: string
  readonly dir: string
  private readonly writer: SpoolWriter
  private readonly shipper: SpoolShipper
  private readonly unlock: () => Promise<void>
  /** Bytes left unshipped on disk by the previous process (from the checkpoint on). */
  private readonly backlogAtOpen: number

  private constructor (stream: string, dir: string, writer: SpoolWriter, shipper: SpoolShipper, unlock: () => Promise<void>, backlogAtOpen: number) {
    this.stream = stream
    this.dir = dir
    this.writer = writer
    this.shipper = shipper
    this.unlock = unlock
    this.backlogAtOpen = backlogAtOpen
  }

  static async open (stream: string, config: SpoolConfig, producer: StreamProducer, observer?: ShipperObserver): Promise<StreamSpool> {
    const dir = join(config.dir, stream)
    await mkdir(dir, { recursive: true })
    const unlock = await lockSpool(dir)
    const segments = await listSegments(dir)
    const newest = segments.at(-1)?.id ?? 0
    const oldest = segments[0]?.id ?? newest + 1
    let diskBytes = 0
    for (const s of segments) diskBytes += s.bytes
    const saved = await readCheckpoint(dir)
    const start: Checkpoint = saved !== undefined && saved.segment >= oldest ? saved : { segment: oldest, offset: 0 }
    let backlog = 0
    for (const s of segments) if (s.id >= start.segment) backlog += s.id === start.segment ? Math.max(0, s.bytes - start.offset) : s.bytes

    // Assigned once the writer exists; the writer's commit callback reaches it through this binding.
    // eslint-disable-next-line prefer-const
    let shipper: SpoolShipper | undefined
    const writer = new SpoolWriter({
      stream,
      dir,
      firstSegment: newest + 1,
      diskBytes,
      diskSegments: segments.length,
      maxBytes: config.maxBytes,
      segmentBytes: config.segmentBytes,
      onCommit: () => shipper?.notify(),
      onDiskError: (err) => observer?.diskError?.(stream, err.diskCode ?? 'EIO', err.message),
      onDiskRecovered: () => observer?.diskRecovered?.(stream)
    })
    try {
      await writer.open()
    } catch (err) {
      await unlock()
      throw err
    }
    shipper = new SpoolShipper({
      stream,
      dir,
      producer,
      start,
      active: () => writer.active,
      released: (segment, bytes) => { writer.release(segment, bytes) },
      checkpointIntervalMs: config.checkpointIntervalMs,
      ...(observer !== undefined ? { observer } : {})
    })
    shipper.start()
    return new StreamSpool(stream, dir, writer, shipper, unlock, backlog)
  }

  /** Resolves once the records are durable on disk. Throws SpoolFullError when over the disk budget. */
  append (records: readonly OutgoingRecord[]): Promise<void> {
    return this.writer.append(records)
  }

  /** For metrics and tests: records shipped since start, torn/corrupt tails skipped, bytes on disk. */
  stats (): SpoolStats {
    return {
      shippedRecords: this.shipper.shipped,
      appendedRecords: this.writer.committedRecords,
      unshippedBytes: this.backlogAtOpen + this.writer.committedBytes - this.shipper.shippedBytes,
      segments: this.writer.segmentFiles,
      corruptTails: this.shipper.corruptTails,
      usedBytes: this.writer.usedBytes,
      pendingBytes: this.shipper.pendingBytes
    }
  }

  /** Shutdown, step 1: stop taking appends and stop reading; what is unsent stays on disk. */
  async stop (): Promise<void> {
    await this.writer.close()
    await this.shipper.stop()
  }

  /** Shutdown, step 2 (after the producer drained): save the final checkpoint. */
  async close (): Promise<void> {
    await this.writer.close()
    await this.shipper.close()
    await this.unlock()
  }
}
