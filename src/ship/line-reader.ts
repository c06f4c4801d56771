import type { FileHandle } from 'node:fs/promises'

/** One line of a followed file, located by byte offsets so it can be checkpointed and read again. */
export interface Line {
  /** Offset of its first byte. */
  readonly start: number
  /** Offset after its newline (or the end of the file, for the last line of a released file). */
  readonly end: number
  /** Its bytes without the newline (and a CR before it), cut to at most the line limit. */
  readonly bytes: Buffer
  /** The line was longer than the limit: `bytes` holds its start only. */
  readonly truncated: boolean
}

const NEWLINE = 0x0a
const CR = 0x0d
const CHUNK_BYTES = 64 * 1024

/**
 * Reads whole lines at given offsets, with a bounded buffer: a line longer than `maxLineBytes` is
 * scanned to its newline in chunks and only its start is kept, so a 1 GiB line costs 64 KiB of
 * memory, not 1 GiB. An unfinished last line (no newline yet) is not a line: the writer may be in
 * the middle of it.
 */
export class LineReader {
  private buf: Buffer = Buffer.alloc(0)
  /** File offset of buf[0]. */
  private bufStart = 0
  /** A long line being scanned: its start, its kept head, and how far the newline search has got. */
  private long: { start: number, head: Buffer, scanned: number } | undefined

  constructor (private readonly fh: FileHandle, private readonly maxLineBytes: number) {}

  /** Forgets what was read (after the file was truncated). */
  reset (): void {
    this.buf = Buffer.alloc(0)
    this.bufStart = 0
    this.long = undefined
  }

  /**
   * The line that starts at `pos`, or undefined if it has no newline yet. With `final` (the file
   * will not grow again) the end of the file ends the last line.
   */
  async lineAt (pos: number, final = false): Promise<Line | undefined> {
    if (this.long !== undefined && this.long.start === pos) return await this.scanLong(final)
    if (pos < this.bufStart || pos > this.bufStart + this.buf.length) {
      this.buf = Buffer.alloc(0)
      this.bufStart = pos
    } else if (pos > this.bufStart) {
      this.buf = this.buf.subarray(pos - this.bufStart)
      this.bufStart = pos
    }
    let searchFrom = 0
    for (;;) {
      const nl = this.buf.indexOf(NEWLINE, searchFrom)
      if (nl !== -1) {
        if (nl <= this.maxLineBytes) return this.line(pos, nl, nl + 1, false)
        return { start: pos, end: pos + nl + 1, bytes: Buffer.from(cut(this.buf, this.maxLineBytes)), truncated: true }
      }
      if (this.buf.length > this.maxLineBytes) {
        this.long = { start: pos, head: Buffer.from(cut(this.buf, this.maxLineBytes)), scanned: pos + this.buf.length }
        this.buf = Buffer.alloc(0)
        this.bufStart = pos
        return await this.scanLong(final)
      }
      searchFrom = this.buf.length
      const read = await this.fill()
      if (read === 0) return final && this.buf.length > 0 ? this.line(pos, this.buf.length, this.buf.length, false) : undefined
    }
  }

  private line (pos: number, contentEnd: number, length: number, truncated: boolean): Line {
    let end = contentEnd
    if (end > 0 && this.buf[end - 1] === CR) end--
    const bytes = this.buf.subarray(0, end)
    return { start: pos, end: pos + length, bytes, truncated }
  }

  /** Reads on from where the newline search of a long line stopped, keeping nothing but its head. */
  private async scanLong (final: boolean): Promise<Line | undefined> {
    const long = this.long as { start: number, head: Buffer, scanned: number }
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES)
    for (;;) {
      const { bytesRead } = await this.fh.read(chunk, 0, CHUNK_BYTES, long.scanned)
      if (bytesRead === 0) {
        if (!final) return undefined
        this.long = undefined
        return { start: long.start, end: long.scanned, bytes: long.head, truncated: true }
      }
      const nl = chunk.subarray(0, bytesRead).indexOf(NEWLINE)
      if (nl === -1) {
        long.scanned += bytesRead
        continue
      }
      this.long = undefined
      const end = long.scanned + nl + 1
      // What follows the newline is the next line's start: keep it.
      this.buf = Buffer.from(chunk.subarray(nl + 1, bytesRead))
      this.bufStart = end
      return { start: long.start, end, bytes: long.head, truncated: true }
    }
  }

  private async fill (): Promise<number> {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES)
    const { bytesRead } = await this.fh.read(chunk, 0, CHUNK_BYTES, this.bufStart + this.buf.length)
    if (bytesRead > 0) this.buf = Buffer.concat([this.buf, chunk.subarray(0, bytesRead)])
    return bytesRead
  }
}

/** The first `max` bytes, moved back to a UTF-8 character boundary so the cut adds no broken character. */
function cut (buf: Buffer, max: number): Buffer {
  if (buf.length <= max) return buf
  let end = max
  // Continuation bytes are 10xxxxxx; step back over at most three of them to the character's lead byte.
  for (let back = 0; back < 3 && end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80; back++) end--
  return buf.subarray(0, end)
}
