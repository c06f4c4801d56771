import { createHash, randomUUID } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { IdempotencyConfig } from '../config/types.js'
import { DEFAULTS } from '../config/limits.js'
import { GatewayError } from '../http/problems.js'
import type { RedisLink, Recovery } from './redis-link.js'

export const IDEMPOTENCY_HEADER = 'idempotency-key'
/** Set on an answer that is a replay of the first answer to the same Idempotency-Key. */
export const REPLAYED_HEADER = 'idempotent-replayed'

/** Printable ASCII, like the keys Stripe and the IETF idempotency-key draft expect (UUIDs fit). */
const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/

/**
 * The claim a request holds while it runs; completed (200/202) or released (anything else) in onSend.
 * `pending` is the exact value its SET NX sent to Redis (with a token of its own), so a release
 * deletes that claim and nothing else; `sent` says a SET NX went out (it may have run late).
 */
export interface Claim { readonly scope: string, readonly fingerprint: string, readonly pending: string, readonly sent: boolean }

/** A completed answer keeps its status: 200 (delivered), 202 (buffered and spool channels) or 207 (per-event results). */
type Stored = { state: 'pending', fingerprint: string, claim?: string } | { state: 'done', fingerprint: string, body: string, status?: number }

type ClaimResult = { kind: 'claimed', claim: Claim } | { kind: 'busy', stored: Stored | undefined }

/**
 * Redis scripts. Storing an answer never replaces another stored answer (two instances that both
 * wrote while Redis was down: the first answer stored wins, and both are valid answers); it does
 * replace a pending claim, such as a SET NX that timed out on the client and ran late.
 * Releasing deletes only the claim this request made.
 */
const STORE_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v and string.find(v, '"state":"done"', 1, true) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    kgwIdemStore (key: string, value: string, ttlMs: number): Promise<number>
    kgwIdemRelease (key: string, value: string): Promise<number>
  }
}

/** Write-backs after an outage go out in pipelines of this many commands. */
const RESYNC_BATCH = 500

interface MemoryEntry { value: Stored, expiresAt: number, bytes: number, pending?: string }

/** Bounded in-memory map with expiry; the oldest entries go first when full (entries or bytes). */
class MemoryEntries {
  private readonly entries = new Map<string, MemoryEntry>()
  private bytes = 0

  constructor (private readonly max: number, private readonly maxBytes: number) {}

  get (scope: string, now: number): Stored | undefined {
    const e = this.entries.get(scope)
    if (e === undefined) return undefined
    if (e.expiresAt <= now) { this.delete(scope); return undefined }
    return e.value
  }

  set (scope: string, value: Stored, ttlMs: number, now: number, pending?: string): void {
    this.delete(scope)
    const bytes = scope.length + (value.state === 'done' ? value.body.length : 0) + 100
    this.entries.set(scope, { value, expiresAt: now + ttlMs, bytes, ...(pending !== undefined ? { pending } : {}) })
    this.bytes += bytes
    while (this.entries.size > this.max || (this.bytes > this.maxBytes && this.entries.size > 1)) {
      const oldest = this.entries.keys().next().value
      if (oldest === undefined) break
      this.delete(oldest)
    }
  }

  delete (scope: string): void {
    const e = this.entries.get(scope)
    if (e === undefined) return
    this.entries.delete(scope)
    this.bytes -= e.bytes
  }

  /** Entries not yet expired, with the time they have left. */
  * live (now: number): Generator<[string, MemoryEntry, number]> {
    for (const [scope, e] of this.entries) if (e.expiresAt > now) yield [scope, e, e.expiresAt - now]
  }

  entry (scope: string): MemoryEntry | undefined {
    return this.entries.get(scope)
  }
}

/**
 * Idempotency-Key: the first request with a key claims it atomically (SET NX in Redis, and the
 * in-memory map) before anything is written, so a concurrent duplicate gets 409 instead of writing
 * twice. A 200 or 202 answer is kept for the window and replayed to retries with the same key and
 * the same body; any other answer releases the key, so the client can retry for real. The key is
 * scoped to the API key's client (or to anonymous callers) and the channel.
 *
 * Every answer is also kept in memory on the instance that gave it, and memory is asked first:
 * a retry reaching that instance is a replay whatever Redis did meanwhile (frozen, timed out,
 * restarted without its data). Answers Redis may lack (stored while it was unreachable, or all of
 * them after a reconnect, which may follow a restart) are written back when it answers again,
 * so the other instances see them too; claims whose SET NX may have run late are settled then.
 */
export class Idempotency {
  private readonly memory: MemoryEntries
  private readonly windowMs: number
  /** Scopes whose answer or release could not reach Redis: written back on recovery. */
  private readonly unsynced = new Map<string, { release: string } | { store: true }>()
  private readonly maxOwed: number

  constructor (config: IdempotencyConfig, private readonly link: RedisLink | undefined) {
    this.memory = new MemoryEntries(config.maxEntriesInMemory, DEFAULTS.idempotencyMaxBytesInMemory)
    this.maxOwed = config.maxEntriesInMemory
    this.windowMs = config.windowSeconds * 1000
    if (link !== undefined) {
      link.redis.defineCommand('kgwIdemStore', { numberOfKeys: 1, lua: STORE_SCRIPT })
      link.redis.defineCommand('kgwIdemRelease', { numberOfKeys: 1, lua: RELEASE_SCRIPT })
      link.onRecovered((how) => this.resync(how))
    }
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
      request.idempotencyClaim = result.claim
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
    if (this.memory.get(scope, Date.now())?.state === 'done') return true
    const link = this.link
    if (link !== undefined && link.usable()) {
      try {
        const text = await link.redis.get(link.prefix + 'idem:' + scope)
        return text !== null && (JSON.parse(text) as Stored).state === 'done'
      } catch (err) {
        link.commandFailed(err)
      }
    }
    return false
  }

  /** onSend: keep a 200 or 202 answer (the events were taken) for replays, free the key after anything else. */
  async after (request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<void> {
    const claim = request.idempotencyClaim
    if (claim === null) return
    request.idempotencyClaim = null
    const status = reply.statusCode
    if ((status === 200 || status === 202 || status === 207) && typeof payload === 'string') {
      await this.store(claim, { state: 'done', fingerprint: claim.fingerprint, body: payload, status })
    } else {
      await this.release(claim)
    }
  }

  private async claim (scope: string, fingerprint: string): Promise<ClaimResult> {
    const now = Date.now()
    // Memory first: this instance's own answers and claims hold whatever Redis says or lost.
    const known = this.memory.get(scope, now)
    if (known !== undefined) return { kind: 'busy', stored: known }
    const pendingValue: Stored = { state: 'pending', fingerprint, claim: randomUUID() }
    const pending = JSON.stringify(pendingValue)
    // Reserved here before Redis is asked, so a duplicate arriving meanwhile on this instance gets 409
    // even if both SET NX time out.
    this.memory.set(scope, pendingValue, DEFAULTS.idempotencyPendingMs, now, pending)
    const link = this.link
    if (link === undefined) return { kind: 'claimed', claim: { scope, fingerprint, pending, sent: false } }
    if (!link.usable()) {
      link.countFallback()
      return { kind: 'claimed', claim: { scope, fingerprint, pending, sent: false } }
    }
    const key = link.prefix + 'idem:' + scope
    try {
      const ok = await link.redis.set(key, pending, 'PX', DEFAULTS.idempotencyPendingMs, 'NX')
      if (ok === 'OK') return { kind: 'claimed', claim: { scope, fingerprint, pending, sent: true } }
    } catch (err) {
      // Unknown whether the SET NX ran (it may still run late): claimed here, settled on recovery.
      link.commandFailed(err)
      return { kind: 'claimed', claim: { scope, fingerprint, pending, sent: true } }
    }
    // Someone else holds the key (another instance's claim or answer).
    this.memory.delete(scope)
    try {
      const text = await link.redis.get(key)
      return { kind: 'busy', stored: text === null ? undefined : JSON.parse(text) as Stored }
    } catch (err) {
      link.commandFailed(err)
      return { kind: 'busy', stored: undefined } // 409 with Retry-After: the retry finds out
    }
  }

  /** Remembers what Redis must be told on recovery; bounded like memory (older debts go first). */
  private owe (scope: string, what: { release: string } | { store: true }): void {
    this.unsynced.delete(scope)
    this.unsynced.set(scope, what)
    while (this.unsynced.size > this.maxOwed) {
      const oldest = this.unsynced.keys().next().value
      if (oldest === undefined) break
      this.unsynced.delete(oldest)
    }
  }

  private async store (claim: Claim, value: Stored): Promise<void> {
    this.memory.set(claim.scope, value, this.windowMs, Date.now())
    const link = this.link
    if (link === undefined) return
    if (link.usable()) {
      try {
        await link.redis.kgwIdemStore(link.prefix + 'idem:' + claim.scope, JSON.stringify(value), this.windowMs)
        this.unsynced.delete(claim.scope)
        return
      } catch (err) {
        link.commandFailed(err)
      }
    }
    // Redis went away mid-request: memory replays it here; it is written to Redis on recovery.
    this.owe(claim.scope, { store: true })
  }

  private async release (claim: Claim): Promise<void> {
    this.memory.delete(claim.scope)
    const link = this.link
    if (link === undefined || !claim.sent) return
    if (link.usable()) {
      try {
        await link.redis.kgwIdemRelease(link.prefix + 'idem:' + claim.scope, claim.pending)
        this.unsynced.delete(claim.scope)
        return
      } catch (err) {
        link.commandFailed(err)
      }
    }
    // A SET NX that ran (or will run) late would hold the key for idempotencyPendingMs: delete it on recovery.
    this.owe(claim.scope, { release: claim.pending })
  }

  /**
   * Redis answers again. After a freeze, it lacks what could not be written meanwhile; after a
   * reconnect it may have restarted empty, so every answer and claim held in memory is written
   * back (answers with the time left of their window; a claim only where the key is free).
   */
  private async resync (how: Recovery): Promise<void> {
    const link = this.link
    if (link === undefined) return
    const now = Date.now()
    const todo = new Map(this.unsynced)
    this.unsynced.clear()
    let pipeline = link.redis.pipeline()
    let queued = 0
    const flush = async (): Promise<void> => {
      if (queued === 0) return
      const results = await pipeline.exec()
      for (const [err] of results ?? []) if (err !== null) throw err
      pipeline = link.redis.pipeline()
      queued = 0
    }
    const key = (scope: string): string => link.prefix + 'idem:' + scope
    try {
      for (const [scope, what] of todo) {
        if ('release' in what) pipeline.kgwIdemRelease(key(scope), what.release)
        else {
          const e = this.memory.entry(scope)
          if (e === undefined || e.value.state !== 'done' || e.expiresAt <= now) continue
          pipeline.kgwIdemStore(key(scope), JSON.stringify(e.value), e.expiresAt - now)
        }
        if (++queued >= RESYNC_BATCH) await flush()
      }
      if (how === 'reconnected') {
        for (const [scope, e, left] of this.memory.live(now)) {
          if (todo.has(scope)) continue
          if (e.value.state === 'done') pipeline.kgwIdemStore(key(scope), JSON.stringify(e.value), left)
          else if (e.pending !== undefined) pipeline.set(key(scope), e.pending, 'PX', left, 'NX')
          else continue
          if (++queued >= RESYNC_BATCH) await flush()
        }
      }
      await flush()
    } catch (err) {
      // Not all of it reached Redis: keep it for the next recovery (writing it twice is harmless).
      for (const [scope, what] of todo) if (!this.unsynced.has(scope)) this.owe(scope, what)
      throw err
    }
  }
}
