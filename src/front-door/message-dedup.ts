import type { IdempotencyConfig } from '../config/types.js'
import { DEFAULTS } from '../config/limits.js'
import { GatewayError } from '../http/problems.js'
import type { RedisLink } from './redis-link.js'

/**
 * De-duplication of single events by an id the protocol gives each one (Segment's messageId), the
 * per-message counterpart of the Idempotency-Key. SDKs retry a whole batch after a 5xx; when the
 * gateway had written part of it, the retry must write only the rest. So each message id is
 * claimed before its record is sent (SET NX in Redis, else the in-memory map), kept as taken for
 * the idempotency window once its record is written (or queued, per the ack mode), and released
 * when it was not, so the retry sends it for real. Ids are scoped to the API key's client and
 * the channel, like Idempotency-Keys; the window and the in-memory cap are the same settings.
 */

type State = 'pending' | 'taken'

/** Message states kept here when Redis is not configured or not usable: bounded, oldest first out, with expiry. */
class LocalStates {
  private readonly entries = new Map<string, { state: State, expiresAt: number }>()

  constructor (private readonly max: number) {}

  get (key: string, now: number): State | undefined {
    const e = this.entries.get(key)
    if (e === undefined) return undefined
    if (e.expiresAt > now) return e.state
    this.entries.delete(key)
    return undefined
  }

  set (key: string, state: State, ttlMs: number, now: number): void {
    this.entries.delete(key)
    this.entries.set(key, { state, expiresAt: now + ttlMs })
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.max) break
      this.entries.delete(oldest)
    }
  }

  delete (key: string): void {
    this.entries.delete(key)
  }
}

/** What a request holds while its events are sent. */
export interface DedupClaim {
  /** Per event: 1 when it was taken already (an earlier try, or the same id earlier in this batch). */
  readonly skip: Uint8Array
  readonly duplicates: number
  /** The store keys this request claimed, by event index. */
  readonly keys: ReadonlyMap<number, string>
  readonly where: 'redis' | 'memory'
}

export class MessageDedup {
  private readonly memory: LocalStates
  private readonly windowMs: number

  constructor (config: IdempotencyConfig, private readonly link: RedisLink | undefined) {
    this.memory = new LocalStates(config.maxEntriesInMemory)
    this.windowMs = config.windowSeconds * 1000
  }

  /**
   * Claims the ids of the events that will be sent (`failed` ones are not). Throws a retryable
   * 503 when another request is sending one of them right now: answering it as a duplicate could
   * lose it if that request fails, and a 409 would make SDKs drop the batch.
   */
  async claim (scope: string, ids: ReadonlyArray<string | undefined>, failed: Uint8Array | null): Promise<DedupClaim> {
    const skip = new Uint8Array(ids.length)
    const wanted = new Map<number, string>()
    const seen = new Set<string>()
    let duplicates = 0
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]
      if (id === undefined || (failed?.[i] ?? 0) !== 0) continue
      if (seen.has(id)) { skip[i] = 1; duplicates++; continue }
      seen.add(id)
      wanted.set(i, `${scope}|${id}`)
    }
    const states = await this.claimKeys([...wanted.values()])
    const keys = new Map<number, string>()
    let busy = 0
    let k = 0
    for (const [i, key] of wanted) {
      const state = states.result[k++]
      if (state === undefined) keys.set(i, key)
      else if (state === 'taken') { skip[i] = 1; duplicates++ } else busy++
    }
    const claim: DedupClaim = { skip, duplicates, keys, where: states.where }
    if (busy > 0) {
      await this.settle(claim, () => false)
      throw new GatewayError('GW_ERR_UNAVAILABLE', `${busy} message(s) of this request are being written by another request with the same messageId; retry shortly`,
        { retryAfterSeconds: 1 })
    }
    return claim
  }

  /** After the send: keep the ids of written events as taken, release the others. */
  async settle (claim: DedupClaim, written: (index: number) => boolean): Promise<void> {
    const taken: string[] = []
    const released: string[] = []
    for (const [i, key] of claim.keys) (written(i) ? taken : released).push(key)
    const link = this.link
    if (claim.where === 'redis' && link !== undefined) {
      try {
        const batch = link.redis.pipeline()
        for (const key of taken) batch.set(link.prefix + 'msg:' + key, 'taken', 'PX', this.windowMs)
        for (const key of released) batch.del(link.prefix + 'msg:' + key)
        await batch.exec()
        return
      } catch (err) {
        // Redis went away mid-request: at least this instance remembers what was written.
        link.commandFailed(err)
      }
    }
    const now = Date.now()
    for (const key of taken) this.memory.set(key, 'taken', this.windowMs, now)
    for (const key of released) this.memory.delete(key)
  }

  /** Per key: undefined when this request claimed it, else the state another request left. */
  private async claimKeys (keys: string[]): Promise<{ result: Array<State | undefined>, where: 'redis' | 'memory' }> {
    const link = this.link
    if (keys.length > 0 && link !== undefined) {
      if (link.usable()) {
        try {
          const claims = link.redis.pipeline()
          for (const key of keys) claims.set(link.prefix + 'msg:' + key, 'pending', 'PX', DEFAULTS.idempotencyPendingMs, 'NX')
          const answers = await claims.exec() ?? []
          const result = new Array<State | undefined>(keys.length)
          const lost: number[] = []
          for (let i = 0; i < keys.length; i++) {
            const [err, ok] = answers[i] ?? [new Error('no answer')]
            if (err !== null) throw err
            if (ok !== 'OK') lost.push(i)
          }
          if (lost.length > 0) {
            const reads = link.redis.pipeline()
            for (const i of lost) reads.get(link.prefix + 'msg:' + (keys[i] as string))
            const values = await reads.exec() ?? []
            // A key that expired between the two calls counts as busy: the retry claims it.
            lost.forEach((i, j) => { result[i] = values[j]?.[1] === 'taken' ? 'taken' : 'pending' })
          }
          return { result, where: 'redis' }
        } catch (err) {
          link.commandFailed(err)
        }
      } else link.countFallback()
    }
    const now = Date.now()
    const result = keys.map((key) => {
      const state = this.memory.get(key, now)
      if (state === undefined) this.memory.set(key, 'pending', DEFAULTS.idempotencyPendingMs, now)
      return state
    })
    return { result, where: 'memory' }
  }
}
