import { open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { takePidLock } from '../../ops/pid-lock.js'

/** Segment files are named by a zero-padded, ever-increasing number, so names sort in write order. */
const SEGMENT = /^(\d{16})\.seg$/

export function segmentPath (dir: string, id: number): string {
  return join(dir, `${String(id).padStart(16, '0')}.seg`)
}

export interface SegmentInfo { readonly id: number, readonly bytes: number }

/** The segments in `dir`, oldest first. */
export async function listSegments (dir: string): Promise<SegmentInfo[]> {
  const out: SegmentInfo[] = []
  for (const name of await readdir(dir)) {
    const m = SEGMENT.exec(name)
    if (m === null) continue
    const id = Number(m[1])
    try {
      out.push({ id, bytes: (await stat(join(dir, name))).size })
    } catch { /* deleted meanwhile */ }
  }
  return out.sort((a, b) => a.id - b.id)
}

/** Where the shipper has confirmed delivery up to: every record before (segment, offset) is in Kinesis. */
export interface Checkpoint { readonly segment: number, readonly offset: number }

const CHECKPOINT = 'checkpoint.json'

export async function readCheckpoint (dir: string): Promise<Checkpoint | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, CHECKPOINT), 'utf8')) as Partial<Checkpoint>
    if (Number.isSafeInteger(parsed.segment) && Number.isSafeInteger(parsed.offset)) {
      return { segment: parsed.segment as number, offset: parsed.offset as number }
    }
  } catch { /* none yet, or unreadable: start from the oldest segment (duplicates, never loss) */ }
  return undefined
}

/** Write-then-rename: a crash leaves the old checkpoint or the new one, never half of one. */
export async function writeCheckpoint (dir: string, cp: Checkpoint): Promise<void> {
  const tmp = join(dir, CHECKPOINT + '.tmp')
  try {
    await writeFile(tmp, JSON.stringify(cp))
  } catch (err) {
    // A full disk may have taken part of it: give the space back.
    await rm(tmp, { force: true }).catch(() => {})
    throw err
  }
  await rename(tmp, join(dir, CHECKPOINT))
}

/** Makes a new or renamed directory entry durable (POSIX: fsync the directory). */
export async function syncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } catch { /* some filesystems refuse fsync on directories; the data itself is synced */ } finally {
    await fh.close()
  }
}

/**
 * One process per spool folder: two writers would interleave segments and two shippers would
 * both send them. The lock file holds the owner's pid; a lock left by a dead process (kill -9)
 * is taken over. Returns a function that releases the lock.
 */
export async function lockSpool (dir: string): Promise<() => Promise<void>> {
  return await takePidLock(join(dir, 'lock'), {
    inUse: (owner) => `the spool folder ${dir} is in use by process ${owner}. Fix: give each gateway instance its own spool.dir`,
    failed: `could not lock the spool folder ${dir}`
  })
}
