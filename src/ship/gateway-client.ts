import { promisify } from 'node:util'
import { gzip as gzipCallback } from 'node:zlib'

const gzip = promisify(gzipCallback)

/** One entry of a problem's `errors` list (src/http/problems.ts EventError). */
export interface EventProblem { readonly index: number, readonly pointer: string, readonly reason: string }

/**
 * What a POST of one batch came to, in the terms the shipper acts on:
 * - accepted: 200/202, every event taken;
 * - partial: 503 GW_ERR_NOT_DELIVERED, the listed events were written, the others must be resent;
 * - rejected: events the channel refuses whatever happens (schema, size, partition key, not JSON),
 *   with their indexes: they are reported and dropped, the rest is resent;
 * - too-large: the whole request is over the channel's limits (events per request or body bytes);
 * - retry: throttled, overloaded, down or unreachable: wait (Retry-After when given) and resend;
 * - key-reused: 422, the key was used with another body before;
 * - fatal: a refusal retrying cannot fix (API key, unknown channel, ...): the command stops.
 */
export type SendOutcome =
  | { readonly kind: 'accepted', readonly status: number, readonly replayed: boolean }
  | { readonly kind: 'partial', readonly written: readonly number[], readonly retryAfterMs: number | undefined, readonly problem: string }
  | { readonly kind: 'rejected', readonly errors: readonly EventProblem[], readonly problem: string }
  | { readonly kind: 'too-large', readonly code: string, readonly problem: string }
  | { readonly kind: 'retry', readonly retryAfterMs: number | undefined, readonly reason: string }
  | { readonly kind: 'key-reused', readonly problem: string }
  | { readonly kind: 'fatal', readonly problem: string }

export interface GatewayTarget {
  /** http(s)://host:port of the gateway. */
  readonly gateway: string
  readonly channel: string
  readonly apiKey: string | undefined
  readonly requestTimeoutMs: number
  readonly userAgent: string
}

interface Problem {
  code?: unknown
  detail?: unknown
  title?: unknown
  errors?: unknown
  events?: unknown
}

/** Refusals whose events are listed by index: those events are dropped, the others are resent. */
const PER_EVENT_CODES = new Set(['GW_ERR_INVALID_EVENTS', 'GW_ERR_EVENT_TOO_LARGE', 'GW_ERR_INVALID_PARTITION_KEY', 'GW_ERR_MALFORMED_BODY', 'GW_ERR_NOT_AN_OBJECT'])
const TOO_LARGE_CODES = new Set(['GW_ERR_TOO_MANY_EVENTS', 'GW_ERR_BODY_TOO_LARGE'])
/** Statuses worth waiting out: timeout, in progress (the same key still running), throttled, gateway errors. */
const RETRY_STATUSES = new Set([408, 409, 425, 429, 500, 502, 503, 504])

export function batchUrl (target: GatewayTarget): string {
  return `${target.gateway.replace(/\/+$/, '')}/v1/${encodeURIComponent(target.channel)}`
}

/** POSTs one NDJSON body, gzip-compressed, under `key`. Never throws for network faults: they are a retry. */
export async function sendBatch (target: GatewayTarget, ndjson: string, key: string): Promise<SendOutcome> {
  const body = await gzip(Buffer.from(ndjson, 'utf8'))
  const headers: Record<string, string> = {
    'content-type': 'application/x-ndjson',
    'content-encoding': 'gzip',
    'idempotency-key': key,
    'user-agent': target.userAgent
  }
  if (target.apiKey !== undefined) headers['x-api-key'] = target.apiKey
  let res: Response
  let text: string
  try {
    res = await fetch(batchUrl(target), { method: 'POST', body, headers, signal: AbortSignal.timeout(target.requestTimeoutMs) })
    text = await res.text()
  } catch (err) {
    return { kind: 'retry', retryAfterMs: undefined, reason: `gateway ${target.gateway} unreachable (${networkReason(err)})` }
  }
  if (res.status === 200 || res.status === 202) return { kind: 'accepted', status: res.status, replayed: res.headers.get('idempotent-replayed') === 'true' }

  let problem: Problem = {}
  try { problem = JSON.parse(text) as Problem } catch { /* not problem+json (a proxy's error page) */ }
  const code = typeof problem.code === 'string' ? problem.code : ''
  const detail = typeof problem.detail === 'string' ? problem.detail : text.slice(0, 200)
  const described = `${res.status}${code !== '' ? ' ' + code : ''}: ${detail}`
  const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'))

  if (code === 'GW_ERR_NOT_DELIVERED' && Array.isArray(problem.events)) {
    const written = (problem.events as Array<{ index?: unknown, written?: unknown }>)
      .filter((e) => e.written === true && typeof e.index === 'number').map((e) => e.index as number)
    return { kind: 'partial', written, retryAfterMs, problem: described }
  }
  if (PER_EVENT_CODES.has(code) && Array.isArray(problem.errors) && problem.errors.length > 0) {
    const errors = (problem.errors as Array<Partial<EventProblem>>)
      .filter((e) => typeof e.index === 'number')
      .map((e) => ({ index: e.index as number, pointer: typeof e.pointer === 'string' ? e.pointer : '', reason: typeof e.reason === 'string' ? e.reason : detail }))
    if (errors.length > 0) return { kind: 'rejected', errors, problem: described }
  }
  // The key's first body differs from this one (the batch was rebuilt differently, e.g. another
  // --format after a restart): the first body was taken, this one is a new request.
  if (code === 'GW_ERR_IDEMPOTENCY_KEY_REUSED') return { kind: 'key-reused', problem: described }
  if (TOO_LARGE_CODES.has(code)) return { kind: 'too-large', code, problem: described }
  if (RETRY_STATUSES.has(res.status)) return { kind: 'retry', retryAfterMs, reason: `gateway answered ${described}` }
  return { kind: 'fatal', problem: `gateway answered ${described}` }
}

/** Retry-After: delay-seconds or an HTTP-date (RFC 9110 section 10.2.3). */
export function parseRetryAfter (value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

function networkReason (err: unknown): string {
  const e = err as { name?: unknown, code?: unknown, cause?: { code?: unknown, message?: unknown } }
  if (e.name === 'TimeoutError') return 'no answer in time'
  const code = e.cause?.code ?? e.code
  if (typeof code === 'string') return code
  return typeof e.cause?.message === 'string' ? e.cause.message : String(err)
}
