import type { RedisLink } from './redis-link.js'

/** Requests counted per key and UTC day: INCR, with the counter expiring two days later. */
const QUOTA_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`
const KEEP_COUNTER_MS = 2 * 86_400_000

declare module 'ioredis' {
  interface RedisCommander<Context> {
    kgwQuota (key: string, keepMs: number): Promise<number>
  }
}

export interface QuotaResult {
  readonly allowed: boolean
  readonly used: number
  /** Seconds until the quota resets (next UTC midnight). */
  readonly resetSeconds: number
}

/**
 * Daily request quotas of API keys (usage plans). Counted in Redis when configured, so the quota is
 * one quota across instances; in memory otherwise and while Redis is unreachable (then each instance
 * counts alone, and those requests are not added to the shared count).
 */
export class DailyQuota {
  private readonly local = new Map<string, { day: string, used: number }>()

  constructor (private readonly link: RedisLink | undefined) {
    if (link !== undefined) link.redis.defineCommand('kgwQuota', { numberOfKeys: 1, lua: QUOTA_SCRIPT })
  }

  async take (clientId: string, quota: number, now = Date.now()): Promise<QuotaResult> {
    const day = new Date(now).toISOString().slice(0, 10)
    const resetSeconds = Math.max(1, Math.ceil((Date.UTC(
      Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10)) + 1) - now) / 1000))
    const used = await this.count(clientId, day)
    return { allowed: used <= quota, used, resetSeconds }
  }

  private async count (clientId: string, day: string): Promise<number> {
    const link = this.link
    if (link !== undefined) {
      if (link.usable()) {
        try {
          return await link.redis.kgwQuota(`${link.prefix}quota:${clientId}:${day}`, KEEP_COUNTER_MS)
        } catch (err) {
          link.commandFailed(err)
        }
      } else link.countFallback()
    }
    let entry = this.local.get(clientId)
    if (entry === undefined || entry.day !== day) {
      entry = { day, used: 0 }
      this.local.set(clientId, entry)
    }
    return ++entry.used
  }
}
