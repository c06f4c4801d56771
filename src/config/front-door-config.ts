import { DEFAULTS } from './limits.js'
import type { ApiKeyConfig, ChannelAccess, FrontDoorConfig, RateLimit, RedisConfig } from './types.js'

type Env = Readonly<Record<string, string | undefined>>

export interface RawRateLimit { perSecond: number, burst?: number }

export interface RawFrontDoor {
  rateLimit?: RawRateLimit
  redis?: { url?: string, keyPrefix?: string, commandTimeoutMs?: number }
  idempotency?: { windowSeconds?: number, maxEntriesInMemory?: number }
  apiKeys?: Record<string, { sha256: string, channels?: string[], rateLimit?: RawRateLimit, dailyQuota?: number }>
}

export interface RawChannelFrontDoor {
  access?: ChannelAccess
  rateLimit?: RawRateLimit
  cors?: string[]
  beacon?: boolean
}

export const HASH_FIX = 'put the SHA-256 of the key as 64 hex characters, e.g. the output of ' +
  'node -e "console.log(require(\'node:crypto\').createHash(\'sha256\').update(process.argv[1]).digest(\'hex\'))" \'<the key>\''

/** Burst defaults to half a second's worth (API Gateway's 10,000/s with 5,000 burst), at least 1. */
export function rateLimitFrom (raw: RawRateLimit): RateLimit {
  return { perSecond: raw.perSecond, burst: raw.burst ?? Math.max(1, Math.ceil(raw.perSecond / 2)) }
}

/** Throttle, Redis, idempotency and API keys of the front door; problems are appended, each with its fix. */
export function frontDoorSettings (raw: RawFrontDoor, channels: Record<string, RawChannelFrontDoor>, env: Env, file: string,
  problems: string[]): FrontDoorConfig {
  const channelNames = Object.keys(channels)
  if (raw.apiKeys === undefined || Object.keys(raw.apiKeys).length === 0) {
    for (const [name, ch] of Object.entries(channels)) {
      if (ch.access === 'api-key') {
        problems.push(`${file}: channels.${name}.access: "api-key" but no apiKeys are configured, so nobody could write. ` +
          'Fix: add clients under apiKeys, or set access: open')
      }
    }
  }
  const apiKeys: ApiKeyConfig[] = []
  const seen = new Map<string, string>()
  for (const [id, k] of Object.entries(raw.apiKeys ?? {})) {
    const hex = k.sha256.trim().toLowerCase()
    if (!/^[0-9a-f]{64}$/.test(hex)) {
      problems.push(`${file}: apiKeys.${id}.sha256: not a SHA-256 hex digest (the key itself is never stored). Fix: ${HASH_FIX}`)
      continue
    }
    const twin = seen.get(hex)
    if (twin !== undefined) {
      problems.push(`${file}: apiKeys.${id}.sha256: the same key hash as apiKeys.${twin}. Fix: give each client its own key`)
      continue
    }
    seen.set(hex, id)
    const channels = k.channels === undefined || k.channels.includes('*') ? '*' : k.channels
    if (channels !== '*') {
      for (const name of channels) {
        if (!channelNames.includes(name)) {
          problems.push(`${file}: apiKeys.${id}.channels: no channel named "${name}". Fix: use one of ${channelNames.join(', ')}, or "*" for all`)
        }
      }
    }
    apiKeys.push({
      id,
      sha256: Buffer.from(hex, 'hex'),
      channels,
      rateLimit: k.rateLimit === undefined ? undefined : rateLimitFrom(k.rateLimit),
      dailyQuota: k.dailyQuota
    })
  }

  let redis: RedisConfig | undefined
  const url = env.REDIS_URL !== undefined && env.REDIS_URL !== '' ? env.REDIS_URL : raw.redis?.url
  if (url !== undefined) {
    if (!/^rediss?:\/\/[^/]/.test(url)) {
      problems.push(`REDIS_URL: "${url}" is not a redis:// URL. Fix: give a URL such as redis://127.0.0.1:6379, or unset it to keep limits per instance`)
    }
    redis = {
      url,
      keyPrefix: raw.redis?.keyPrefix ?? DEFAULTS.redisKeyPrefix,
      commandTimeoutMs: raw.redis?.commandTimeoutMs ?? DEFAULTS.redisCommandTimeoutMs
    }
  }

  return {
    rateLimit: rateLimitFrom(raw.rateLimit ?? { perSecond: DEFAULTS.rateLimitPerSecond, burst: DEFAULTS.rateLimitBurst }),
    redis,
    apiKeys,
    idempotency: {
      windowSeconds: raw.idempotency?.windowSeconds ?? DEFAULTS.idempotencyWindowSeconds,
      maxEntriesInMemory: raw.idempotency?.maxEntriesInMemory ?? DEFAULTS.idempotencyMaxEntriesInMemory
    }
  }
}

/** A channel's own front-door settings. Channels need a key when any key is configured, unless `access: open`. */
export function channelFrontDoor (ch: RawChannelFrontDoor, anyApiKeys: boolean): {
  access: ChannelAccess, rateLimit: RateLimit | undefined, corsOrigins: readonly string[], beacon: boolean
} {
  return {
    access: ch.access ?? (anyApiKeys ? 'api-key' : 'open'),
    rateLimit: ch.rateLimit === undefined ? undefined : rateLimitFrom(ch.rateLimit),
    corsOrigins: (ch.cors ?? []).map((o) => o === '*' ? o : o.replace(/\/+$/, '').toLowerCase()),
    beacon: ch.beacon ?? false
  }
}
