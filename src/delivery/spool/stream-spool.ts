import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { SpoolConfig } from '../../config/types.js'
import type { OutgoingRecord, StreamProducer } from '../stream-producer.js'
import { listSegments, lockSpool, readCheckpoint, type Checkpoint } from './spool-files.js'
import { SpoolShipper, type ShipperObserver } from './spool-shipper.js'
import { SpoolWriter } from './spool-writer.js'

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

  private constructor (stream: string, dir: string, writer: SpoolWriter, shipper: SpoolShipper, unlock: () => Promise<void>) {
    this.stream = stream
    this.dir = dir
    this.writer = writer
    this.shipper = shipper
    this.unlock = unlock
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

    // Assigned once the writer exists; the writer's commit callback reaches it through this binding.
    // eslint-disable-next-line prefer-const
    let shipper: SpoolShipper | undefined
    const writer = new SpoolWriter({
      stream,
      dir,
      firstSegment: newest + 1,
      diskBytes,
      maxBytes: config.maxBytes,
      segmentBytes: config.segmentBytes,
      onCommit: () => shipper?.notify()
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
      released: (bytes) => writer.release(bytes),
      checkpointIntervalMs: config.checkpointIntervalMs,
      ...(observer !== undefined ? { observer } : {})
    })
    shipper.start()
    return new StreamSpool(stream, dir, writer, shipper, unlock)
  }

  /** Resolves once the records are durable on disk. Throws SpoolFullError when over the disk budget. */
  append (records: readonly OutgoingRecord[]): Promise<void> {
    return this.writer.append(records)
  }

  /** For metrics and tests: records shipped since start, torn/corrupt tails skipped, bytes on disk. */
  stats (): { shippedRecords: number, corruptTails: number, usedBytes: number, pendingBytes: number } {
    return {
      shippedRecords: this.shipper.shipped,
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
