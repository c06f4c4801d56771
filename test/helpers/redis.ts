import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Teardown } from './gateway.js'

/** The real Redis the front-door tests share (CI starts one on the default port). */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A key prefix of its own for each test, so tests never see each other's counters; deleted at teardown. */
export function redisPrefix (t: Teardown): string {
  const prefix = `kgw-test-${randomUUID()}:`
  t.teardown(async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
    try {
      await redis.connect()
      const keys: string[] = []
      let cursor = '0'
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
        cursor = next
        keys.push(...batch)
      } while (cursor !== '0')
      if (keys.length > 0) await redis.del(...keys)
    } finally {
      redis.disconnect()
    }
  })
  return prefix
}

/** A redis:// URL where nothing listens (Redis "down"). */
export async function deadRedisUrl (): Promise<string> {
  const { freePort } = await import('./kinesis-servers.js')
  return `redis://127.0.0.1:${await freePort()}`
}

/** Resolves when `check` is true, polling; fails after `ms`. */
export async function until (check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
