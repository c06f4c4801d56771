import rateLimitPlugin from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ApiKeyConfig, ChannelConfig, RateLimit } from '../config/types.js'
import { GatewayError } from '../http/problems.js'
import type { RedisLink } from './redis-link.js'
import { BucketStore } from './token-bucket.js'

type Check = ReturnType<FastifyInstance['createRateLimit']>

interface Limiter {
  readonly check: Check
  readonly what: string
  /** Which limit this is, for the throttled-requests metric. */
  readonly scope: 'api_key' | 'channel' | 'gateway'
}

/**
 * Throttling before the body is read: the caller's API key bucket, then the channel's, then the
 * gateway-wide one; the first that is empty refuses with 429. Built on @fastify/rate-limit
 * (createRateLimit, its headers and store contract) with a token-bucket store (token-bucket.ts),
 * because the plugin's own stores count fixed windows, which cannot express "N/s with a burst of B"
 * and admit up to 2x the limit across a window edge.
 */
export class Throttle {
  private readonly global: Limiter
  private readonly channels = new Map<string, Limiter>()
  private readonly keys = new Map<string, Limiter>()

  private constructor (app: FastifyInstance, global: RateLimit, channels: Iterable<ChannelConfig>, keys: readonly ApiKeyConfig[]) {
    const make = (bucket: string, limit: RateLimit, what: string, scope: Limiter['scope']): Limiter => ({
      scope,
      what: `${what} (${limit.perSecond} requests/s, burst ${limit.burst})`,
      check: app.createRateLimit({
        max: limit.burst,
        // The time to refill a whole burst; the plugin keeps it in whole milliseconds.
        timeWindow: Math.max(1, Math.round(limit.burst * 1000 / limit.perSecond)),
        keyGenerator: () => bucket
      })
    })
    this.global = make('global', global, 'the gateway-wide rate limit', 'gateway')
    for (const ch of channels) {
      if (ch.rateLimit !== undefined) this.channels.set(ch.name, make(`channel:${ch.name}`, ch.rateLimit, `the rate limit of channel ${ch.name}`, 'channel'))
    }
    for (const key of keys) {
      if (key.rateLimit !== undefined) this.keys.set(key.id, make(`key:${key.id}`, key.rateLimit, `the rate limit of API key ${key.id}`, 'api_key'))
    }
  }

  static async create (app: FastifyInstance, link: RedisLink | undefined, global: RateLimit,
    channels: Iterable<ChannelConfig>, keys: readonly ApiKeyConfig[]): Promise<Throttle> {
    const store = class extends BucketStore { constructor () { super(link) } }
    // global: false: no hook on every route; the front door calls the limiters itself, in order.
    await app.register(rateLimitPlugin, { global: false, store })
    return new Throttle(app, global, channels, keys)
  }

  /** Takes a token from every bucket that applies, or throws 429 GW_ERR_RATE_LIMITED with Retry-After. */
  async admit (request: FastifyRequest, reply: FastifyReply, channel: string, client: ApiKeyConfig | null, clientOnly = false): Promise<void> {
    const byKey = client === null ? undefined : this.keys.get(client.id)
    const byChannel = this.channels.get(channel)
    // The headers describe the tightest bucket: the one with the fewest tokens left.
    let remaining = Infinity
    // clientOnly: the shared buckets were charged before the body, the client (known from it) now.
    for (const limiter of clientOnly ? [byKey] : [byKey, byChannel, this.global]) {
      if (limiter === undefined) continue
      const r = await limiter.check(request)
      if (r.isAllowed) continue
      if (r.isExceeded) {
        const retryAfter = Math.max(1, r.ttlInSeconds)
        request.limitedBy = limiter.scope
        void reply.header('x-ratelimit-limit', r.max).header('x-ratelimit-remaining', 0).header('x-ratelimit-reset', retryAfter)
        throw new GatewayError('GW_ERR_RATE_LIMITED',
          `Too many requests: ${limiter.what} is exhausted. Retry after ${retryAfter} s`, { retryAfterSeconds: retryAfter })
      }
      if (r.remaining < remaining) {
        remaining = r.remaining
        void reply.header('x-ratelimit-limit', r.max).header('x-ratelimit-remaining', r.remaining).header('x-ratelimit-reset', r.ttlInSeconds)
      }
    }
  }
}
