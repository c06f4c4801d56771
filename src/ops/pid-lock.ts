import { readFile, rm, writeFile } from 'node:fs/promises'

export interface PidLockMessages {
  /** The lock is held by a live process. */
  readonly inUse: (owner: number) => string
  /** The lock file could not be created (not EEXIST); default: the system error as it is. */
  readonly cannotCreate?: (err: Error) => string
  /** Still held after a stale lock was taken over (a race with another process). */
  readonly failed: string
}

/**
 * One process per resource: the lock file holds the owner's pid, created exclusively ("wx"); a
 * lock left by a dead process (kill -9) is taken over. Returns the function that releases it.
 * Used by the spool folder and by the log shipper's state file.
 */
export async function takePidLock (lock: string, messages: PidLockMessages): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx' })
      return async () => { await rm(lock, { force: true }) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw messages.cannotCreate === undefined ? err : new Error(messages.cannotCreate(err as Error))
      }
      const owner = Number(await readFile(lock, 'utf8').catch(() => ''))
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) throw new Error(messages.inUse(owner))
      await rm(lock, { force: true })
    }
  }
  throw new Error(messages.failed)
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
