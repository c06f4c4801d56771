/**
 * The gateway's error table: every error a client can see, with its HTTP status and title.
 * Rendered as RFC 9457 application/problem+json by error-handler.ts.
 */
export const PROBLEMS = {
  GW_ERR_ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  GW_ERR_UNKNOWN_CHANNEL: { status: 404, title: 'Unknown channel' },
  GW_ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  GW_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported content type' },
  GW_ERR_UNSUPPORTED_ENCODING: { status: 415, title: 'Unsupported content encoding' },
  GW_ERR_MALFORMED_BODY: { status: 400, title: 'Malformed request body' },
  GW_ERR_EMPTY_BODY: { status: 400, title: 'Empty request body' },
  GW_ERR_NOT_AN_OBJECT: { status: 400, title: 'Events must be JSON objects' },
  GW_ERR_EMPTY_BATCH: { status: 400, title: 'Empty batch' },
  GW_ERR_INVALID_EVENTS: { status: 400, title: 'Events do not match the channel schema' },
  GW_ERR_INVALID_PARTITION_KEY: { status: 400, title: 'Invalid partition key' },
  GW_ERR_BODY_TOO_LARGE: { status: 413, title: 'Request body too large' },
  GW_ERR_EVENT_TOO_LARGE: { status: 413, title: 'Event too large for a Kinesis record' },
  GW_ERR_TOO_MANY_EVENTS: { status: 413, title: 'Too many events in one request' },
  GW_ERR_BAD_REQUEST: { status: 400, title: 'Bad request' },
  // The front door (src/front-door/): keys, throttling, quotas, idempotency, browsers, hostile clients.
  GW_ERR_API_KEY_MISSING: { status: 401, title: 'API key required' },
  GW_ERR_API_KEY_INVALID: { status: 401, title: 'Unknown API key' },
  GW_ERR_ADMIN_KEY_REQUIRED: { status: 401, title: 'Admin key required' },
  GW_ERR_API_KEY_FORBIDDEN: { status: 403, title: 'API key not allowed on this channel' },
  GW_ERR_ORIGIN_NOT_ALLOWED: { status: 403, title: 'Origin not allowed' },
  GW_ERR_RATE_LIMITED: { status: 429, title: 'Too many requests' },
  GW_ERR_QUOTA_EXCEEDED: { status: 429, title: 'Daily quota exceeded' },
  GW_ERR_BAD_IDEMPOTENCY_KEY: { status: 400, title: 'Invalid Idempotency-Key' },
  GW_ERR_IDEMPOTENCY_IN_PROGRESS: { status: 409, title: 'A request with this Idempotency-Key is in progress' },
  GW_ERR_IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Idempotency-Key reused with a different body' },
  GW_ERR_REQUEST_TIMEOUT: { status: 408, title: 'Request timeout' },
  GW_ERR_HEADERS_TOO_LARGE: { status: 431, title: 'Request headers too large' },
  GW_ERR_TOO_MANY_HEADERS: { status: 431, title: 'Too many request headers' },
  GW_ERR_URL_TOO_LONG: { status: 414, title: 'URL too long' },
  GW_ERR_NOT_DELIVERED: { status: 503, title: 'Some events were not written to Kinesis' },
  GW_ERR_UNAVAILABLE: { status: 503, title: 'Service unavailable' },
  GW_ERR_SPOOL_FULL: { status: 503, title: 'Disk spool full' },
  GW_ERR_INTERNAL: { status: 500, title: 'Internal error' }
} as const

export type ProblemCode = keyof typeof PROBLEMS

/** Type URIs are stable identifiers (RFC 9457 section 3.1.1); they need not resolve. */
export function problemType (code: ProblemCode): string {
  return `urn:kinesis-gateway:problem:${code.slice('GW_ERR_'.length).toLowerCase().replaceAll('_', '-')}`
}

/** One entry of a problem's `errors` list: which event, where in it, and why. */
export interface EventError {
  /** Index of the event in the request (array index or NDJSON line number from 0). */
  readonly index: number
  /** RFC 6901 pointer into that event ("" for the whole event). */
  readonly pointer: string
  readonly reason: string
}

/** An error meant for the client, carrying its problem code and optional details. */
export class GatewayError extends Error {
  readonly code: ProblemCode
  readonly statusCode: number
  readonly errors: readonly EventError[] | undefined
  readonly extra: Readonly<Record<string, unknown>> | undefined
  readonly retryAfterSeconds: number | undefined

  constructor (code: ProblemCode, detail: string, options: {
    errors?: readonly EventError[]
    extra?: Record<string, unknown>
    retryAfterSeconds?: number
  } = {}) {
    super(detail)
    this.name = 'GatewayError'
    this.code = code
    this.statusCode = PROBLEMS[code].status
    this.errors = options.errors
    this.extra = options.extra
    this.retryAfterSeconds = options.retryAfterSeconds
  }

  /** The same problem with more extension members (e.g. how many events were quarantined). */
  with (extra: Record<string, unknown>): GatewayError {
    return new GatewayError(this.code, this.message, {
      ...(this.errors !== undefined ? { errors: this.errors } : {}),
      extra: { ...this.extra, ...extra },
      ...(this.retryAfterSeconds !== undefined ? { retryAfterSeconds: this.retryAfterSeconds } : {})
    })
  }
}
