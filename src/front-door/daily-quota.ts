import { randomUUID } from 'node:crypto'
import type { RedisLink } from './redis-link.js'

/**
 * One hash per key and UTC day (<prefix>quotas:<key id>:<yyyy-mm-dd>), one field per gateway instance holding the requests that instance
 * admitted; the day's count is the sum of the fields. Each call first raises this instance's field
 * to the count it knows (max, never added): a call that timed out on the client and ran late in
 * Redis is not counted twice, and after a restart without persistence the first call of each
 * instance puts its share back. A request is admitted (and counted) only below the quota.
 * Returns { admitted 0/1, day's count, this instance's field }.
 */
const QUOTA_SCRIPT = `
local mine = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local known = tonumber(ARGV[2])
if known > mine then
  mine = known
  redis.call('HSET', KEYS[1], ARGV[1], mine)
end
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(v) end
local admitted = 0
if ARGV[5] == '1' and total < tonumber(ARGV[3]) then
  mine = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
  total = total + 1
  admitted = 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return { admitted, total, mine }
`
const KEEP_COUNTER_MS = 2 * 86_400_000

declare module 'ioredis' {
  interface RedisCommander<Context> {
    kgwQuota (key: string, instance: string, known: number, quota: number, keepMs: number, take: '0' | '1'): Promise<[number, number, number]>
  }
}

export interface QuotaResult {
  readonly allowed: boolean
  readonly used: number
  /** Seconds until the quota resets (next UTC midnight). */
  readonly resetSeconds: number
}

/** What one instance knows of a key's day. */
interface DayCount {
  readonly day: string
  /** Requests this instance admitted today. */
  mine: number
  /** The day's count (all instances) in the last answer from Redis, and `mine` at that moment. */
  seen: number
  mineAtSeen: number
}

/**
 * Daily request quotas of API keys (usage plans). Counted in Redis when configured, so the quota is
 * one quota across instances; in memory otherwise.
 *
 * While Redis is unreachable an instance goes on from the day's count it last read from Redis plus
 * what it admitted since (not from 0), so one instance alone never admits more than the quota;
 * with N instances each may admit the rest of the quota on its own, so the day's total stays at
 * most about quota + (N - 1) x (quota - the count when Redis went away), and never above
 * N x quota (docs/front-door.md). When Redis answers again each instance writes its own count back.
 */
export class DailyQuota {
  private readonly counts = new Map<string, DayCount>()
  /** This instance's field in the shared counters. */
  private readonly instance = randomUUID()

  constructor (private readonly link: RedisLink | undefined) {
    if (link !== undefined) {
      link.redis.defineCommand('kgwQuota', { numberOfKeys: 1, lua: QUOTA_SCRIPT })
      link.onRecovered(() => this.resync())
    }
  }

  async take (clientId: string, quota: number, now = Date.now()): Promise<QuotaResult> {
    const day = new Date(now).toISOString().slice(0, 10)
    const resetSeconds = Math.max(1, Math.ceil((Date.UTC(
      Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10)) + 1) - now) / 1000))
    let entry = this.counts.get(clientId)
    if (entry === undefined || entry.day !== day) {
      entry = { day, mine: 0, seen: 0, mineAtSeen: 0 }
      this.counts.set(clientId, entry)
    }
    const link = this.link
    if (link !== undefined) {
      if (link.usable()) {
        try {
          const [admitted, total] = await this.call(clientId, entry, quota, '1')
          return { allowed: admitted === 1, used: total, resetSeconds }
        } catch (err) {
          link.commandFailed(err)
        }
      } else link.countFallback()
    }
    const used = entry.seen + entry.mine - entry.mineAtSeen
    if (used >= quota) return { allowed: false, used, resetSeconds }
    entry.mine++
    return { allowed: true, used: used + 1, resetSeconds }
  }

  private async call (clientId: string, entry: DayCount, quota: number, take: '0' | '1'): Promise<[number, number, number]> {
    const link = this.link as RedisLink
    const reply = await link.redis.kgwQuota(`${link.prefix}quotas:${clientId}:${entry.day}`, this.instance, entry.mine, quota, KEEP_COUNTER_MS, take)
    const [, total, mine] = reply
    // Redis may hold more than this instance knows: an increment that timed out here and ran late.
    entry.mine = Math.max(entry.mine, mine)
    entry.seen = total
    entry.mineAtSeen = entry.mine
    return reply
  }

  /** Redis answers again: put back this instance's counts of today (lost if Redis restarted empty). */
  private async resync (): Promise<void> {
    // After a freeze the fields are there but lack the outage's local admissions; after a restart they are gone.
    const today = new Date().toISOString().slice(0, 10)
    for (const [clientId, entry] of this.counts) {
      if (entry.day === today) await this.call(clientId, entry, 0, '0')
    }
  }
}
