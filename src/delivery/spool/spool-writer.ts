import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises'
import type { OutgoingRecord } from '../stream-producer.js'
import { encodeRecords } from './spool-format.js'
import { lockSpool, segmentPath, syncDir } from './spool-files.js'

/**
 * Thrown by append() when the spool cannot take the records: its disk budget is used up, or the
 * disk refused the write (no space left, read-only, folder removed, a short write). Nothing of
 * the request was acknowledged; the caller answers 503 with Retry-After.
 */
export class SpoolFullError extends Error {
  /** The errno code of the refused write (ENOSPC, EROFS, ...), or undefined when the budget is full. */
  readonly diskCode: string | undefined

  constructor (stream: string, cause?: unknown) {
    const code = cause === undefined ? undefined : (cause as NodeJS.ErrnoException).code ?? 'EIO'
    super(cause === undefined
      ? `the disk spool of stream ${stream} is full`
      : `the disk spool of stream ${stream} could not be written (${code}: ${(cause as Error).message})`, cause === undefined ? undefined : { cause })
    this.name = 'SpoolFullError'
    this.diskCode = code
  }
}

/** A write that made no progress: the disk took none of the remaining bytes (treated as full). */
function shortWrite (written: number, wanted: number): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`short write to the spool (${written} of ${wanted} bytes)`)
  err.code = 'ENOSPC'
  return err
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
  /** Called after each fsync with the durable end of the active segment, and when a segment is sealed. */
  readonly onCommit: (segment: number, committed: number) => void
  /** The disk refused a write (once per episode, not per request), and took writes again. */
  readonly onDiskError?: (err: SpoolFullError) => void
  readonly onDiskRecovered?: () => void
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
 * The writer never reopens an old segment: after a restart it starts a new one. A failed write
 * (no space, read-only disk, folder removed, short write) is cut off again (truncated to the
 * last fsynced byte), its segment sealed so the shipper can finish and free it (an empty one stays
 * the active segment instead), and the records refused with SpoolFullError: however many writes
 * fail, they leave no segment files behind. The next append tries again: the spool takes records again on
 * its own once the disk does.
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
  private failing = false
  /** Segments below this one belonged to a spool folder that was removed (see create). */
  private countedFrom = 0
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
    this.segmentId++
    await this.create()
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

  /** The shipper deleted a fully shipped segment of this many bytes (or found it gone). */
  release (segment: number, bytes: number): void {
    // Segments of a folder that was removed and made again were already taken off the counts.
    if (segment < this.countedFrom) return
    this.diskBytes = Math.max(0, this.diskBytes - bytes)
    this.segments--
  }

  private async writeLoop (): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending
      this.pending = []
      let bytes = 0
      for (const g of group) bytes += g.buf.length
      try {
        if (this.fh !== undefined && this.segmentSize >= this.opts.segmentBytes) await this.seal()
        const fh = this.fh ?? await this.create()
        await this.writeAt(fh, group.map((g) => g.buf), bytes)
        await fh.datasync()
        // Written into a file nobody can find again (the folder was removed): not durable, refuse it.
        if ((await fh.stat()).nlink === 0) {
          throw Object.assign(new Error(`segment ${this.segmentId} was deleted while in use (was the spool folder removed?)`), { code: 'ENOENT' })
        }
        this.segmentSize += bytes
        this.diskBytes += bytes
        this.pendingBytes -= bytes
        this.committedBytes += bytes
        for (const g of group) this.committedRecords += g.records
        this.opts.onCommit(this.segmentId, this.segmentSize)
        if (this.failing) { this.failing = false; this.opts.onDiskRecovered?.() }
        for (const g of group) g.resolve()
      } catch (err) {
        this.pendingBytes -= bytes
        // Cut off first, so that when the client hears 503 the failed write has left nothing behind.
        await this.cutOff()
        const refused = new SpoolFullError(this.opts.stream, err)
        if (!this.failing) { this.failing = true; this.opts.onDiskError?.(refused) }
        for (const g of group) g.reject(refused)
      }
    }
  }

  /** Writes all of `bufs` at the durable end of the segment; a short write goes on with the rest. */
  private async writeAt (fh: FileHandle, bufs: Buffer[], bytes: number): Promise<void> {
    let done = (await fh.writev(bufs, this.segmentSize)).bytesWritten
    if (done === bytes) return
    const all = Buffer.concat(bufs)
    while (done < bytes) {
      const { bytesWritten } = await fh.write(all, done, bytes - done, this.segmentSize + done)
      if (bytesWritten === 0) throw shortWrite(done, bytes)
      done += bytesWritten
    }
  }

  /**
   * After a failed write: drop what it left past the last fsynced byte. A segment holding records
   * is sealed (the next append starts a new one), so the shipper can finish and free it. An empty
   * one stays the active segment and the next attempt writes into it: failures pile up no files.
   */
  private async cutOff (): Promise<void> {
    const fh = this.fh
    if (fh === undefined) return // the segment could not even be created: nothing on disk
    const durable = this.segmentSize
    let clean = true
    try {
      await fh.truncate(durable)
    } catch {
      // The torn tail stays (the shipper skips it as a torn record); count its bytes as used.
      clean = false
      const size = await fh.stat().then((st) => st.size, () => durable)
      this.diskBytes += Math.max(0, size - durable)
    }
    // Kept only if still reachable by name (a removed folder takes the segment with it).
    if (durable === 0 && clean && await fh.stat().then((st) => st.nlink > 0, () => false)) return
    this.fh = undefined
    await fh.close().catch(() => {})
    // An empty segment is removed; the shipper frees it from the counts when it passes it.
    if (durable === 0) await unlink(segmentPath(this.opts.dir, this.segmentId)).catch(() => {})
    // Never reused: the shipper may hold the old file open. It now sees the segment as sealed.
    this.segmentId++
    this.segmentSize = 0
    this.opts.onCommit(this.segmentId, 0)
  }

  private async seal (): Promise<void> {
    await this.fh?.close()
    this.fh = undefined
    this.segmentId++
    this.segmentSize = 0
    // Told now, not when the next segment exists: if it cannot be created (full disk), the shipper
    // must still finish and free this one, or the disk would never get space back.
    this.opts.onCommit(this.segmentId, 0)
  }

  /** Creates the active segment ('wx': a segment is only ever created, never appended to after a restart). */
  private async create (): Promise<FileHandle> {
    const path = segmentPath(this.opts.dir, this.segmentId)
    let fh: FileHandle
    try {
      fh = await open(path, 'wx')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      // The stream's folder was removed while running: make it again (not its parents: a missing
      // spool.dir, e.g. an unmounted volume, stays an error) and take its lock again.
      await mkdir(this.opts.dir)
      await lockSpool(this.opts.dir)
      fh = await open(path, 'wx')
      // What the folder held went with it: the budget starts again from an empty folder.
      this.countedFrom = this.segmentId
      this.diskBytes = 0
      this.segments = 0
    }
    this.fh = fh
    this.segments++
    this.segmentSize = 0
    await syncDir(this.opts.dir)
    this.opts.onCommit(this.segmentId, 0)
    return fh
  }

  /** Waits for queued appends, then closes the segment. */
  async close (): Promise<void> {
    this.closed = true
    await this.writing
    await this.fh?.close()
    this.fh = undefined
  }
}
