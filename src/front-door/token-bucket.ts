import type { RedisLink } from './redis-link.js'

/**
 * Token buckets as GCRA (the generic cell rate algorithm): one number per bucket, the "theoretical
 * arrival time" (TAT). A bucket of `burst` tokens refilled at `burst / windowMs` tokens per ms:
 * a request is admitted when, after adding one emission interval to the TAT, the TAT is at most
 * `burst` intervals ahead of now. Same admissions as a token bucket, but one value to store, so the
 * Redis version is one small atomic script.
 *
 * It implements @fastify/rate-limit's store contract (incr(key, cb, timeWindow, max) -> {current, ttl}):
 * `max` is the burst and `timeWindow` the time to refill it, so max/timeWindow is the steady rate.
 * `current` is what the plugin compares with max: burst - remaining tokens, or burst + 1 when refused;
 * `ttl` is the time until the bucket is full again, or until the next token when refused.
 */

export interface BucketResult { current: number, ttl: number }

/** Redis side of the same algorithm. Time comes from Redis (TIME) so instances with skewed clocks agree. */
const GCRA_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local nextTat = tat + interval
local ahead = nextTat - now
local limit = interval * burst
if ahead > limit + 0.0005 then
  return {burst + 1, math.ceil(ahead - limit)}
end
redis.call('SET', KEYS[1], string.format('%.3f', nextTat), 'PX', math.max(1, math.ceil(ahead)))
return {burst - math.floor((limit - ahead) / interval + 0.0005), math.ceil(ahead)}
`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    kgwGcra (key: string, intervalMs: number, burst: number): Promise<[number, number]>
  }
}

/** In-memory buckets: used without Redis, and while Redis is unreachable. */
export class LocalBuckets {
  private readonly tats = new Map<string, number>()

  take (key: string, windowMs: number, burst: number, now = performance.timeOrigin + performance.now()): BucketResult {
    const interval = windowMs / burst
    const limit = windowMs
    let tat = this.tats.get(key) ?? now
    if (tat < now) tat = now
    const next = tat + interval
    const ahead = next - now
    if (ahead > limit + 0.0005) return { current: burst + 1, ttl: Math.ceil(ahead - limit) }
    this.tats.set(key, next)
    return { current: burst - Math.floor((limit - ahead) / interval + 0.0005), ttl: Math.ceil(ahead) }
  }
}

type Callback = (err: Error | null, result?: BucketResult) => void

/** Shared when Redis answers, local otherwise; never an error to the caller (no request fails because of Redis). */
export class BucketStore {
  private readonly local = new LocalBuckets()

  constructor (private readonly link: RedisLink | undefined) {
    if (link !== undefined) link.redis.defineCommand('kgwGcra', { numberOfKeys: 1, lua: GCRA_SCRIPT })
  }

  incr (key: string, cb: Callback, timeWindow: number, max: number): void {
    const link = this.link
    if (link === undefined) { cb(null, this.local.take(key, timeWindow, max)); return }
    if (!link.usable()) {
      link.countFallback()
      cb(null, this.local.take(key, timeWindow, max))
      return
    }
    link.redis.kgwGcra(link.prefix + 'rl:' + key, timeWindow / max, max).then(
      ([current, ttl]) => { cb(null, { current, ttl }) },
      (err: unknown) => {
        link.commandFailed(err)
        cb(null, this.local.take(key, timeWindow, max))
      })
  }

  /** @fastify/rate-limit asks each limiter for a child store; they all share the same buckets. */
  child (): BucketStore {
    return this
  }
}
