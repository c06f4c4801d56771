import type { EventError } from '../http/problems.js'

/** Most rejections kept per channel (and for requests that named no known channel). */
export const RING_PER_CHANNEL = 20
/** Most per-event errors kept per rejection; the count of all of them is kept too. */
const MAX_ERRORS = 10
/** Characters of a reason, and of the body excerpt, that are kept. */
const MAX_REASON_CHARS = 200
export const EXCERPT_CHARS = 240

/** One refused request (or a 207 with refused events), as the console lists it. */
export interface Rejection {
  /** ISO time of the answer. */
  readonly time: string
  /** The channel, or "" when the request named none that exists. */
  readonly channel: string
  readonly route: string
  /** The API key's id (never the key), or null. */
  readonly clientId: string | null
  readonly status: number
  readonly code: string | null
  readonly requestId: string
  readonly events: number
  readonly written: number
  readonly errors: readonly EventError[]
  /** How many per-event errors the answer had (errors keeps the first MAX_ERRORS). */
  readonly errorCount: number
  /** The start of the first refused event (or of the body), at most EXCERPT_CHARS characters; null when not parsed. */
  readonly excerpt: string | null
  /** Which worker answered (cluster mode), else the gateway's pid. */
  readonly pid: number
}

/** What the request observer knows of a refused request when it answers. */
export interface RejectionFacts {
  readonly channel: string | undefined
  readonly route: string
  readonly clientId: string | undefined
  readonly status: number
  readonly code: string | null
  readonly requestId: string
  readonly events: number
  readonly written: number
  readonly errors: readonly EventError[] | null
  /** The parsed body (an event or an array of them), read only to cut the excerpt. */
  readonly body: unknown
}

/**
 * The last rejected requests, a bounded ring per channel, filled only when a request is refused
 * (the request observer calls `add` for 4xx/5xx answers and for 207s): nothing on the path of
 * accepted requests. Bounded in every dimension: channels are the configured ones (plus ""),
 * RING_PER_CHANNEL entries each, MAX_ERRORS errors per entry, short strings. Headers are never
 * read, so no API key can land here; of the body only a truncated excerpt is kept.
 */
export class RejectionRing {
  private readonly rings = new Map<string, Rejection[]>()
  private readonly next = new Map<string, number>()

  constructor (private readonly known: (channel: string) => boolean, private readonly pid = process.pid) {}

  add (facts: RejectionFacts, now = new Date()): void {
    const channel = facts.channel !== undefined && this.known(facts.channel) ? facts.channel : ''
    const all = facts.errors ?? []
    const errors = all.slice(0, MAX_ERRORS).map((e) => ({ index: e.index, pointer: cut(e.pointer, MAX_REASON_CHARS), reason: cut(e.reason, MAX_REASON_CHARS) }))
    const entry: Rejection = {
      time: now.toISOString(),
      channel,
      route: facts.route,
      clientId: facts.clientId ?? null,
      status: facts.status,
      code: facts.code,
      requestId: cut(facts.requestId, 64),
      events: facts.events,
      written: facts.written,
      errors,
      errorCount: all.length,
      excerpt: excerptOf(facts.body, all[0]?.index),
      pid: this.pid
    }
    let ring = this.rings.get(channel)
    if (ring === undefined) this.rings.set(channel, ring = [])
    if (ring.length < RING_PER_CHANNEL) {
      ring.push(entry)
      return
    }
    const at = this.next.get(channel) ?? 0
    ring[at] = entry
    this.next.set(channel, (at + 1) % RING_PER_CHANNEL)
  }

  /** Every kept rejection, newest first. */
  list (): Rejection[] {
    return newestFirst([...this.rings.values()].flat())
  }
}

/** Newest first, at most RING_PER_CHANNEL per channel: how the rings of several workers are merged. */
export function mergeRejections (lists: ReadonlyArray<readonly Rejection[]>): Rejection[] {
  const perChannel = new Map<string, number>()
  return newestFirst(lists.flat()).filter((r) => {
    const n = perChannel.get(r.channel) ?? 0
    perChannel.set(r.channel, n + 1)
    return n < RING_PER_CHANNEL
  })
}

function newestFirst (list: Rejection[]): Rejection[] {
  return list.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0))
}

function cut (text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…'
}

/** The first refused event (or the body), as JSON cut to EXCERPT_CHARS, without serializing more than that. */
export function excerptOf (body: unknown, index: number | undefined): string | null {
  if (body === undefined || body === null) return null
  const value = Array.isArray(body) ? body[index ?? 0] : body
  if (value === undefined) return null
  const out: string[] = []
  let length = 0
  const push = (s: string): boolean => {
    out.push(s)
    length += s.length
    return length < EXCERPT_CHARS
  }
  const walk = (v: unknown, depth: number): boolean => {
    if (v === null || typeof v !== 'object') return push(typeof v === 'string' ? JSON.stringify(v.length > EXCERPT_CHARS ? v.slice(0, EXCERPT_CHARS) : v) : String(JSON.stringify(v) ?? 'null'))
    if (depth > 8) return push('…')
    if (Array.isArray(v)) {
      if (!push('[')) return false
      for (let i = 0; i < v.length; i++) if ((i > 0 && !push(',')) || !walk(v[i], depth + 1)) return false
      return push(']')
    }
    if (!push('{')) return false
    let first = true
    for (const key in v) {
      if (!Object.hasOwn(v, key)) continue
      if ((!first && !push(',')) || !push(JSON.stringify(key.length > EXCERPT_CHARS ? key.slice(0, EXCERPT_CHARS) : key) + ':')) return false
      first = false
      if (!walk((v as Record<string, unknown>)[key], depth + 1)) return false
    }
    return push('}')
  }
  walk(value, 0)
  return cut(out.join(''), EXCERPT_CHARS)
}
