import { open, type FileHandle } from 'node:fs/promises'
import type { OutgoingRecord } from '../stream-producer.js'
import { encodeRecords } from './spool-format.js'
import { segmentPath, syncDir } from './spool-files.js'

/** Thrown by append() when the spool's disk budget cannot take the records: the caller answers 503. */
export class SpoolFullError extends Error {
  constructor (stream: string) {
    super(`the disk spool of stream ${stream} is full`)
    this.name = 'SpoolFullError'
  }
}

export interface SpoolWriterOptions {
  readonly stream: string
  readonly dir: string
  /** The first segment this writer creates (one past the newest on disk). */
  readonly firstSegment: number
  /** Bytes of segments already on disk (not yet shipped and deleted). */
  readonly diskBytes: number
  /** Segment files already on disk. */
  readonly diskSegments?: number
  readonly maxBytes: number
  readonly segmentBytes: number
  /** Called after each fsync with the durable end of the active segment. */
  readonly onCommit: (segment: number, committed: number) => void
}

interface PendingAppend {
  readonly buf: Buffer
  readonly records: number
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}

/**
 * Appends records to the active segment with group commit: while one write + fdatasync is in
 * progress, new appends queue up, and the next write takes all of them at once, so many requests
 * share one fsync. append() resolves only once its records are durable.
 *
 * The writer never reopens an old segment: after a restart (or a failed write, which may leave a
 * torn record) it starts a new one, so a torn tail can only sit at the end of a sealed segment.
 */
export class SpoolWriter {
  private readonly opts: SpoolWriterOptions
  private fh: FileHandle | undefined
  private segmentId: number
  private segmentSize = 0
  private diskBytes: number
  private pendingBytes = 0
  private pending: PendingAppend[] = []
  private writing: Promise<void> | undefined
  private closed = false
  private segments: number
  /** Since start: records and bytes made durable (for metrics). */
  committedRecords = 0
  committedBytes = 0

  constructor (opts: SpoolWriterOptions) {
    this.opts = opts
    this.segmentId = opts.firstSegment - 1
    this.diskBytes = opts.diskBytes
    this.segments = opts.diskSegments ?? 0
  }

  /** Segment files on disk (the active one included). */
  get segmentFiles (): number {
    return this.segments
  }

  /** The segment being written, and its durable length. */
  get active (): { segment: number, committed: number } {
    return { segment: this.segmentId, committed: this.segmentSize }
  }

  get usedBytes (): number {
    return this.diskBytes + this.pendingBytes
  }

  async open (): Promise<void> {
    await this.rotate()
  }

  /** Resolves once the records are on disk and synced. Throws SpoolFullError at once when over budget. */
  append (records: readonly OutgoingRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`the spool of stream ${this.opts.stream} is closed`))
    const buf = encodeRecords(records)
    if (this.diskBytes + this.pendingBytes + buf.length > this.opts.maxBytes) throw new SpoolFullError(this.opts.stream)
    this.pendingBytes += buf.length
    return new Promise((resolve, reject) => {
      this.pending.push({ buf, records: records.length, resolve, reject })
      this.writing ??= this.writeLoop().finally(() => { this.writing = undefined })
    })
  }

  /** The shipper deleted a fully shipped segment of this many bytes. */
  release (bytes: number): void {
    this.diskBytes -= bytes
    this.segments--
  }

  private async writeLoop (): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending
      this.pending = []
      let bytes = 0
      for (const g of group) bytes += g.buf.length
      try {
        if (this.segmentSize >= this.opts.segmentBytes || this.fh === undefined) await this.rotate()
        const fh = this.fh as FileHandle
        const { bytesWritten } = await fh.writev(group.map((g) => g.buf))
        if (bytesWritten !== bytes) throw new Error(`short write to the spool (${bytesWritten} of ${bytes} bytes)`)
        await fh.datasync()
        this.segmentSize += bytes
        this.diskBytes += bytes
        this.pendingBytes -= bytes
        this.committedBytes += bytes
        for (const g of group) this.committedRecords += g.records
        this.opts.onCommit(this.segmentId, this.segmentSize)
        for (const g of group) g.resolve()
      } catch (err) {
        this.pendingBytes -= bytes
        for (const g of group) g.reject(err)
        // The segment may now end in a torn record: seal it and continue in a new one.
        await this.fh?.close().catch(() => {})
        this.fh = undefined
      }
    }
  }

  private async rotate (): Promise<void> {
    await this.fh?.close()
    this.fh = undefined
    this.segmentId++
    this.segmentSize = 0
    // 'wx': a segment is only ever created, never appended to after a restart.
    this.fh = await open(segmentPath(this.opts.dir, this.segmentId), 'wx')
    this.segments++
    await syncDir(this.opts.dir)
    this.opts.onCommit(this.segmentId, 0)
  }

  /** Waits for queued appends, then closes the segment. */
  async close (): Promise<void> {
    this.closed = true
    await this.writing
    await this.fh?.close()
    this.fh = undefined
  }
}
