import { createHash } from 'node:crypto'
import { open, type FileHandle } from 'node:fs/promises'
import { LineReader } from './line-reader.js'
import type { FileCheckpoint } from './state-file.js'

export function fileId (dev: number, ino: number): string {
  return `${dev}:${ino}`
}

/**
 * A file being followed, by identity (device + inode), not by name: it keeps its open handle when it
 * is renamed or deleted, so a rotated file is read to its end before it is let go.
 */
export class FollowedFile {
  readonly id: string
  readonly reader: LineReader
  /** Every line before this offset was acknowledged by the gateway (what the state file says). */
  acked: number
  /** Every line before this offset is in a batch (in flight) or acknowledged. */
  readPos: number
  /** Bumped when the file is truncated, so an answer for lines read before does not move `acked`. */
  generation = 0
  size: number
  fingerprint: string
  fingerprintBytes: number
  /** When its path stopped naming it (renamed away by a rotation, or deleted). */
  rotatedAt: number | undefined
  /** When it last grew: a rotated file is released after rotateWaitMs without growth. */
  grewAt: number
  invalidUtf8Reported = false

  private constructor (
    public path: string,
    readonly fh: FileHandle,
    readonly dev: number,
    readonly ino: number,
    size: number,
    fp: { fingerprint: string, fingerprintBytes: number },
    offset: number,
    maxLineBytes: number,
    now: number
  ) {
    this.id = fileId(dev, ino)
    this.reader = new LineReader(fh, maxLineBytes)
    this.size = size
    this.fingerprint = fp.fingerprint
    this.fingerprintBytes = fp.fingerprintBytes
    this.acked = offset
    this.readPos = offset
    this.grewAt = now
  }

  /**
   * Opens `path`. `resume` is its checkpoint when one has the same identity: used if the fingerprint
   * still matches (else the inode was reused by another file) and the file has not shrunk below it
   * (else it was truncated). Returns the file and why a checkpoint was not used, if it was not.
   */
  static async open (path: string, opts: { resume: FileCheckpoint | undefined, startAtEnd: boolean, maxLineBytes: number, fingerprintBytes: number, now: number }):
  Promise<{ file: FollowedFile, ignored?: string } | undefined> {
    let fh: FileHandle
    try {
      fh = await open(path, 'r')
    } catch {
      return undefined // gone between listing and opening, or unreadable: the next poll looks again
    }
    const st = await fh.stat()
    if (!st.isFile()) { await fh.close(); return undefined }
    let offset = opts.startAtEnd ? st.size : 0
    let ignored: string | undefined
    const resume = opts.resume
    if (resume !== undefined) {
      const fp = await fingerprintOf(fh, Math.min(resume.fingerprintBytes, st.size))
      if (resume.fingerprintBytes > st.size || fp !== resume.fingerprint) ignored = 'its first bytes changed (a new file on a reused inode, or truncated and rewritten): read from its start'
      else if (resume.offset > st.size) ignored = `it is shorter (${st.size} bytes) than the checkpoint (${resume.offset}): truncated, read from its start`
      else offset = resume.offset
      if (ignored !== undefined) offset = 0
    }
    const n = Math.min(st.size, opts.fingerprintBytes)
    const file = new FollowedFile(path, fh, st.dev, st.ino, st.size, { fingerprint: await fingerprintOf(fh, n), fingerprintBytes: n }, offset, opts.maxLineBytes, opts.now)
    return ignored === undefined ? { file } : { file, ignored }
  }

  /**
   * Re-reads the size through the open handle. Returns 'truncated' when the file shrank below what
   * was read or its first bytes changed (copytruncate, then new lines): reading starts again at 0.
   */
  async refresh (maxFingerprintBytes: number, now: number): Promise<'grew' | 'same' | 'truncated'> {
    const st = await this.fh.stat()
    const fp = await fingerprintOf(this.fh, Math.min(this.fingerprintBytes, st.size))
    if (st.size < this.readPos || st.size < this.fingerprintBytes || fp !== this.fingerprint) {
      this.acked = 0
      this.readPos = 0
      this.generation++
      this.reader.reset()
      this.size = st.size
      this.grewAt = now
      this.fingerprintBytes = Math.min(st.size, maxFingerprintBytes)
      this.fingerprint = await fingerprintOf(this.fh, this.fingerprintBytes)
      return 'truncated'
    }
    if (this.fingerprintBytes < maxFingerprintBytes && st.size > this.fingerprintBytes) {
      this.fingerprintBytes = Math.min(st.size, maxFingerprintBytes)
      this.fingerprint = await fingerprintOf(this.fh, this.fingerprintBytes)
    }
    const grew = st.size > this.size
    this.size = st.size
    if (grew) this.grewAt = now
    return grew ? 'grew' : 'same'
  }

  checkpoint (): FileCheckpoint {
    return { path: this.path, dev: this.dev, ino: this.ino, offset: this.acked, fingerprint: this.fingerprint, fingerprintBytes: this.fingerprintBytes }
  }

  async close (): Promise<void> {
    await this.fh.close().catch(() => undefined)
  }
}

async function fingerprintOf (fh: FileHandle, bytes: number): Promise<string> {
  const buf = Buffer.alloc(bytes)
  if (bytes > 0) await fh.read(buf, 0, bytes, 0)
  return createHash('sha256').update(buf).digest('hex')
}
