import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { IdempotencyConfig } from '../config/types.js'
import { DEFAULTS } from '../config/limits.js'
import { GatewayError } from '../http/problems.js'
import type { RedisLink } from './redis-link.js'

export const IDEMPOTENCY_HEADER = 'idempotency-key'
/** Set on an answer that is a replay of the first answer to the same Idempotency-Key. */
export const REPLAYED_HEADER = 'idempotent-replayed'

/** Printable ASCII, like the keys Stripe and the IETF idempotency-key draft expect (UUIDs fit). */
const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/

type Where = 'redis' | 'memory'

/** The claim a request holds while it runs; completed (200/202) or released (anything else) in onSend. */
interface Claim { readonly scope: string, readonly fingerprint: string, readonly where: Where }

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyClaim: Claim | null
  }
}

/** A completed answer keeps its status: 200 (delivered), 202 (buffered and spool channels) or 207 (per-event results). */
type Stored = { state: 'pending', fingerprint: string } | { state: 'done', fingerprint: string, body: string, status?: number }

type ClaimResult = { kind: 'claimed', where: Where } | { kind: 'busy', stored: Stored | undefined }

/** Bounded in-memory map with expiry; the oldest entries go first when full. */
export class MemoryEntries<V = Stored> {
  private readonly entries = new Map<string, { value: V, expiresAt: number }>()

  constructor (private readonly max: number) {}

  get (scope: string, now: number): V | undefined {
    const e = this.entries.get(scope)
    if (e === undefined) return undefined
    if (e.expiresAt <= now) { this.entries.delete(scope); return undefined }
    return e.value
  }

  set (scope: string, value: V, ttlMs: number, now: number): void {
    this.entries.delete(scope)
    this.entries.set(scope, { value, expiresAt: now + ttlMs })
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value
      if (oldest === undefined) break
      this.entries.delete(oldest)
    }
  }

  delete (scope: string): void {
    this.entries.delete(scope)
  }
}

/**
 * Idempotency-Key: the first request with a key claims it atomically (SET NX in Redis, or the
 * in-memory map) before anything is written, so a concurrent duplicate gets 409 instead of writing
 * twice. A 200 answer is kept for the window and replayed to retries with the same key and the same
 * body; any other answer releases the key, so the client can retry for real. The key is scoped to
 * the API key's client (or to anonymous callers) and the channel.
 */
export class Idempotency {
  private readonly memory: MemoryEntries
  private readonly windowMs: number

  constructor (config: IdempotencyConfig, private readonly link: RedisLink | undefined) {
    this.memory = new MemoryEntries(config.maxEntriesInMemory)
    this.windowMs = config.windowSeconds * 1000
  }

  /**
   * preHandler: after the body is parsed (its hash is part of the claim), before anything is written.
   * Returns true when it has answered with a replay (the caller returns the reply).
   */
  async before (request: FastifyRequest, reply: FastifyReply, channel: string, clientId: string | undefined): Promise<boolean> {
    const header = request.headers[IDEMPOTENCY_HEADER]
    if (header === undefined) return false
    if (typeof header !== 'string' || !KEY_FORMAT.test(header)) {
      throw new GatewayError('GW_ERR_BAD_IDEMPOTENCY_KEY',
        'The Idempotency-Key header must be 1-255 printable ASCII characters (a UUID is a good choice), sent once')
    }
    const scope = `${clientId ?? '-'}|${channel}|${header}`
    const fingerprint = createHash('sha256').update(JSON.stringify(request.body) ?? '').digest('base64url')
    const result = await this.claim(scope, fingerprint)
    if (result.kind === 'claimed') {
      request.idempotencyClaim = { scope, fingerprint, where: result.where }
      return false
    }
    const stored = result.stored
    if (stored !== undefined && stored.fingerprint !== fingerprint) {
      throw new GatewayError('GW_ERR_IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key was already used with a different body; use a new key for a new request')
    }
    if (stored === undefined || stored.state === 'pending') {
      throw new GatewayError('GW_ERR_IDEMPOTENCY_IN_PROGRESS',
        'A request with this Idempotency-Key is still being processed; retry after it has been answered', { retryAfterSeconds: 1 })
    }
    void reply.code(stored.status ?? 200).header(REPLAYED_HEADER, 'true').type('application/json; charset=utf-8').send(stored.body)
    return true
  }

  /**
   * True when this request's Idempotency-Key already has a stored answer, so the request will be a
   * replay (or a 422) and writes nothing: the front door does not charge it to the daily quota.
   */
  async answered (request: FastifyRequest, channel: string, clientId: string | undefined): Promise<boolean> {
    const header = request.headers[IDEMPOTENCY_HEADER]
    if (typeof header !== 'string' || !KEY_FORMAT.test(header)) return false
    const scope = `${clientId ?? '-'}|${channel}|${header}`
    const link = this.link
    if (link !== undefined && link.usable()) {
      try {
        const text = await link.redis.get(link.prefix + 'idem:' + scope)
        return text !== null && (JSON.parse(text) as Stored).state === 'done'
      } catch (err) {
        link.commandFailed(err)
      }
    }
    return this.memory.get(scope, Date.now())?.state === 'done'
  }

  /** onSend: keep a 200 or 202 answer (the events were taken) for replays, free the key after anything else. */
  async after (request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<void> {
    const claim = request.idempotencyClaim
    if (claim === null) return
    request.idempotencyClaim = null
    const status = reply.statusCode
    if ((status === 200 || status === 202 || status === 207) && typeof payload === 'string') {
      await this.store(claim, { state: 'done', fingerprint: claim.fingerprint, body: payload, status }, this.windowMs)
    } else {
      await this.release(claim)
    }
  }

  private async claim (scope: string, fingerprint: string): Promise<ClaimResult> {
    const pending: Stored = { state: 'pending', fingerprint }
    const link = this.link
    if (link !== undefined) {
      if (link.usable()) {
        try {
          const key = link.prefix + 'idem:' + scope
          const ok = await link.redis.set(key, JSON.stringify(pending), 'PX', DEFAULTS.idempotencyPendingMs, 'NX')
          if (ok === 'OK') return { kind: 'claimed', where: 'redis' }
          const text = await link.redis.get(key)
          return { kind: 'busy', stored: text === null ? undefined : JSON.parse(text) as Stored }
        } catch (err) {
          link.commandFailed(err)
        }
      } else link.countFallback()
    }
    const now = Date.now()
    const stored = this.memory.get(scope, now)
    if (stored !== undefined) return { kind: 'busy', stored }
    this.memory.set(scope, pending, DEFAULTS.idempotencyPendingMs, now)
    return { kind: 'claimed', where: 'memory' }
  }

  private async store (claim: Claim, value: Stored, ttlMs: number): Promise<void> {
    if (claim.where === 'redis' && this.link !== undefined) {
      try {
        await this.link.redis.set(this.link.prefix + 'idem:' + claim.scope, JSON.stringify(value), 'PX', ttlMs)
        return
      } catch (err) {
        // Redis went away mid-request: remember the answer here, at least this instance replays it.
        this.link.commandFailed(err)
      }
    }
    this.memory.set(claim.scope, value, ttlMs, Date.now())
  }

  private async release (claim: Claim): Promise<void> {
    if (claim.where === 'redis' && this.link !== undefined) {
      try {
        await this.link.redis.del(this.link.prefix + 'idem:' + claim.scope)
      } catch (err) {
        this.link.commandFailed(err)
      }
      return
    }
    this.memory.delete(claim.scope)
  }
}
