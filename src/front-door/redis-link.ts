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
 * The gateway's one Redis connection. It never makes a request wait for Redis to come back:
 * commands fail at once while disconnected (no offline queue) or after commandTimeoutMs, and the
 * caller then uses its local state. A state change is logged once, not per request.
 */
export class RedisLink {
  readonly redis: Redis
  readonly prefix: string
  private degraded = false
  private closed = false
  private fallbacks = 0

  constructor (config: RedisConfig, private readonly log: FastifyBaseLogger) {
    this.prefix = config.keyPrefix
    this.redis = new Redis(config.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: config.commandTimeoutMs,
      connectTimeout: Math.max(1_000, config.commandTimeoutMs * 4),
      // Keep trying to come back, at most every 2 s.
      retryStrategy: (times) => Math.min(times * 200, 2_000)
    })
    this.redis.on('ready', () => {
      if (this.degraded) this.log.warn('redis reachable again: rate limits, quotas and idempotency keys are shared again')
      else this.log.info('redis connected: rate limits, quotas and idempotency keys are shared by all instances')
      this.degraded = false
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
  }

  async close (): Promise<void> {
    this.closed = true
    this.redis.removeAllListeners('error')
    this.redis.on('error', () => {})
    this.redis.disconnect()
  }
}
