import { open, readFile, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import { takePidLock } from '../ops/pid-lock.js'

/**
 * The shipper's checkpoint file: per followed file its identity (device + inode, with a fingerprint
 * of its first bytes against inode reuse) and the offset up to which every line was acknowledged by
 * the gateway; plus the batch in flight, written *before* it is sent, so that a restart after
 * `kill -9` sends exactly that batch again with the same Idempotency-Key (the gateway then answers
 * from its idempotency store instead of writing it twice).
 */
export interface FileCheckpoint {
  readonly path: string
  readonly dev: number
  readonly ino: number
  /** Every line before this byte offset was acknowledged. */
  readonly offset: number
  /** sha256 (hex) of the first `fingerprintBytes` bytes of the file. */
  readonly fingerprint: string
  readonly fingerprintBytes: number
}

export interface InflightPart {
  readonly dev: number
  readonly ino: number
  /** The path the lines were read under: the `file` field of text events, so a resend is byte-identical. */
  readonly path: string
  readonly start: number
  readonly end: number
}

export interface InflightBatch {
  /** The Idempotency-Key the batch's current body is sent with. */
  readonly key: string
  readonly parts: readonly InflightPart[]
  /** Indexes (among the batch's events) already written or refused for good: never sent again. */
  readonly done: readonly number[]
}

export interface ShipState {
  readonly version: 1
  readonly channel: string
  readonly files: readonly FileCheckpoint[]
  readonly inflight?: InflightBatch
}

export function emptyState (channel: string): ShipState {
  return { version: 1, channel, files: [] }
}

/** The state file, or an empty state when there is none yet. A file that is not ours is an error, never overwritten. */
export async function readState (file: string, channel: string): Promise<ShipState> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState(channel)
    throw new Error(`cannot read the state file ${file}: ${(err as Error).message}. Fix: check its permissions, or give another file with --state`)
  }
  let parsed: Partial<ShipState>
  try {
    parsed = JSON.parse(text) as Partial<ShipState>
  } catch {
    throw new Error(`the state file ${file} is not JSON. Fix: remove it to ship every file again from its start, or give another file with --state`)
  }
  if (parsed.version !== 1 || !Array.isArray(parsed.files)) {
    throw new Error(`the state file ${file} is not a kinesis-gateway ship state (version 1). Fix: give another file with --state`)
  }
  if (parsed.channel !== channel) {
    throw new Error(`the state file ${file} belongs to channel "${String(parsed.channel)}", not "${channel}". Fix: give each channel its own --state file`)
  }
  return parsed as ShipState
}

/**
 * Write, fsync, rename, fsync the folder: after a crash (even of the machine) the file holds the
 * old state or the new one, never half of one.
 */
export async function writeState (file: string, state: ShipState): Promise<void> {
  const tmp = file + '.tmp'
  const fh = await open(tmp, 'w')
  try {
    await fh.writeFile(JSON.stringify(state))
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, file)
  const dir = await open(dirname(file), 'r')
  try {
    await dir.sync()
  } catch { /* some filesystems refuse fsync on folders; the file itself is synced */ } finally {
    await dir.close()
  }
}

/**
 * One shipper per state file: two would send the same lines and overwrite each other's
 * checkpoints. `<state>.lock` holds the owner's pid; a lock left by a dead process (kill -9) is
 * taken over. Returns the function that releases it.
 */
export async function lockState (file: string): Promise<() => Promise<void>> {
  const lock = file + '.lock'
  return await takePidLock(lock, {
    inUse: (owner) => `the state file ${file} is in use by process ${owner} (another ship). Fix: stop it, or give this one its own --state file`,
    cannotCreate: (err) => `cannot create ${lock}: ${err.message}. Fix: make the state file's folder writable, or give another file with --state`,
    failed: `could not lock the state file ${file} (${lock})`
  })
}
