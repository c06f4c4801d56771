import { Redis } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import type { RedisConfig } from '../config/types.js'

/**
 * What the shared limits run on, for logs and metrics:
 * - off: no Redis configured, limits and idempotency are per instance;
 * - shared: Redis answers, every instance counts in the same place;
 * - local-fallback: Redis is configured but unreachable, each instance counts alone until it is back.
 */
export type SharedState = 'off' | 'shared' | 'local-fallback'

/**
 * How Redis came back: `reconnected` after the connection dropped (Redis may have restarted and
 * lost every key), `answering` after commands had timed out on a live connection (a freeze, a
 * stall: the keys are there, and commands sent meanwhile may have run late).
 */
export type Recovery = 'reconnected' | 'answering'

/** While Redis is down after a command failed on a live connection, it is probed this often. */
const PROBE_MIN_MS = 250

/**
 * The gateway's one Redis connection. It never makes a request wait for Redis to come back:
 * commands fail at once while disconnected (no offline queue) or after commandTimeoutMs, and the
 * caller then uses its local state. A state change is logged once, not per request.
 *
 * After a command failed on a live connection, each request still tries Redis (a single slow
 * command must not send every instance's decisions local: two instances both claiming an
 * Idempotency-Key locally would both write), and a probe tells when Redis answers again.
 *
 * Users that kept state in memory while Redis was down register `onRecovered` to write it back.
 * A probe's PING is answered after every command sent earlier on the same connection (Redis runs
 * one connection's commands in order), so when recovery runs, commands that timed out on the
 * client and ran late in Redis have already run: the write-back comes after them.
 */
export class RedisLink {
  readonly redis: Redis
  readonly prefix: string
  private degraded = false
  private closed = false
  private fallbacks = 0
  private probing: NodeJS.Timeout | undefined
  private readonly probeMs: number
  private readonly recoveries: Array<(how: Recovery) => Promise<void>> = []

  constructor (config: RedisConfig, private readonly log: FastifyBaseLogger) {
    this.prefix = config.keyPrefix
    this.probeMs = Math.max(PROBE_MIN_MS, config.commandTimeoutMs * 2)
    this.redis = new Redis(config.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: config.commandTimeoutMs,
      connectTimeout: Math.max(1_000, config.commandTimeoutMs * 4),
      // Keep trying to come back, at most every 2 s.
      retryStrategy: (times) => Math.min(times * 200, 2_000)
    })
    let connectedBefore = false
    this.redis.on('ready', () => {
      if (!connectedBefore) this.log.info('redis connected: rate limits, quotas and idempotency keys are shared by all instances')
      const wasDown = this.degraded || connectedBefore
      connectedBefore = true
      // Every reconnect may follow a restart that lost the keys: the write-back runs each time.
      if (wasDown) this.markUp('reconnected')
    })
    this.redis.on('error', (err: Error) => { this.markDown(err) })
    this.redis.on('close', () => { this.markDown(undefined) })
  }

  /** Connects in the background; the gateway starts (with local limits) even when Redis is down. */
  start (): void {
    this.redis.connect().catch((err: unknown) => { this.markDown(err as Error) })
  }

  /** True when a command is worth trying now. */
  usable (): boolean {
    return this.redis.status === 'ready'
  }

  /** Runs `fn` each time Redis is usable again after being down (state kept locally is written back). */
  onRecovered (fn: (how: Recovery) => Promise<void>): void {
    this.recoveries.push(fn)
  }

  /** Called by a user of the link whose command failed: it falls back to local state. */
  commandFailed (err: unknown): void {
    this.fallbacks++
    this.markDown(err as Error)
  }

  /** Counts a decision taken locally because Redis was unusable. */
  countFallback (): void {
    this.fallbacks++
  }

  state (): SharedState {
    return this.degraded || !this.usable() ? 'local-fallback' : 'shared'
  }

  /** Decisions (rate limit, quota, idempotency) taken locally because Redis could not be used. */
  fallbackCount (): number {
    return this.fallbacks
  }

  private markDown (err: Error | undefined): void {
    if (this.degraded || this.closed) return
    this.degraded = true
    this.log.error({ err: err === undefined ? undefined : { message: err.message, code: (err as { code?: string }).code } },
      'redis unreachable: serving with per-instance rate limits, quotas and idempotency keys until it is back')
    this.probing ??= setInterval(() => { this.probe() }, this.probeMs)
    this.probing.unref()
  }

  /** A command failed on a live connection: Redis is back once it answers a PING in time. */
  private probe (): void {
    if (this.redis.status !== 'ready') return // the reconnect ('ready') ends the outage instead
    this.redis.ping().then(() => { if (this.degraded) this.markUp('answering') }, () => {})
  }

  private markUp (how: Recovery): void {
    clearInterval(this.probing)
    this.probing = undefined
    if (this.closed) return
    if (this.degraded) this.log.warn({ how }, 'redis reachable again: rate limits, quotas and idempotency keys are shared again')
    this.degraded = false
    for (const fn of this.recoveries) {
      // A write-back that fails (Redis went away again) marks the link down; the next recovery redoes it.
      fn(how).catch((err: unknown) => { this.commandFailed(err) })
    }
  }

  async close (): Promise<void> {
    this.closed = true
    clearInterval(this.probing)
    this.redis.removeAllListeners('error')
    this.redis.on('error', () => {})
    this.redis.disconnect()
  }
}
