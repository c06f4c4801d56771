/**
 * Which Kinesis failures are worth retrying, and how long to wait.
 *
 * PutRecords reports per-record failures with ErrorCode ProvisionedThroughputExceededException or
 * InternalFailure (PutRecords API reference); both are transient. Whole-call failures are
 * retried when they are throttling, 5xx or network faults; client errors such as
 * ResourceNotFoundException or AccessDeniedException fail fast, since retrying cannot help.
 */

const RETRYABLE_RECORD_CODES = new Set([
  'ProvisionedThroughputExceededException',
  'InternalFailure',
  'KMSThrottlingException',
  'ServiceUnavailable'
])

const RETRYABLE_CALL_CODES = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'ThrottlingException',
  'Throttling',
  'ThrottlingError',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'KMSThrottlingException',
  'InternalFailure',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  // kinesis/put-records-sender.ts: no socket in time (nothing sent), or a 200 answer we could not read.
  'ConnectTimeout',
  'MalformedAnswer',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  // Credentials that could not be loaded (instance metadata hiccup) or expired temporary ones
  // (the SDK refreshes them): transient, and a buffered record must not be dropped for them.
  'CredentialsProviderError',
  'ExpiredTokenException',
  'ExpiredToken',
  'RequestExpired'
])

/** Network faults where the request may have reached Kinesis before the answer was lost. */
const ANSWER_MAYBE_LOST = new Set(['TimeoutError', 'RequestTimeout', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'MalformedAnswer'])
/** Failures before anything was sent: a retry cannot duplicate. */
const NOTHING_SENT = new Set(['ConnectTimeout', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'])

export function isRetryableRecordError (code: string): boolean {
  return RETRYABLE_RECORD_CODES.has(code)
}

export interface CallFailure {
  readonly code: string
  readonly message: string
  readonly retryable: boolean
  /** The records may have been written although no answer came back (a retry may duplicate them). */
  readonly maybeWritten: boolean
}

interface SdkLikeError {
  name?: string
  code?: string
  message?: string
  $metadata?: { httpStatusCode?: number }
  $retryable?: unknown
}

export function classifyCallError (err: unknown): CallFailure {
  const e = (err ?? {}) as SdkLikeError
  const code = e.code ?? e.name ?? 'UnknownError'
  const message = e.message ?? String(err)
  const status = e.$metadata?.httpStatusCode
  const retryable = RETRYABLE_CALL_CODES.has(code) ||
    RETRYABLE_CALL_CODES.has(e.name ?? '') ||
    (status !== undefined && (status >= 500 || status === 429)) ||
    (status === undefined && e.$retryable !== undefined) ||
    // A socket closed mid-answer surfaces as a plain Error whose message says so.
    (status === undefined && /socket hang up|ECONNRESET|aborted/i.test(message))
  const maybeWritten = status === undefined && !NOTHING_SENT.has(code) && (ANSWER_MAYBE_LOST.has(code) || /socket hang up|ECONNRESET|aborted|timed? ?out/i.test(message))
  return { code, message, retryable, maybeWritten }
}

/** "Full jitter" (AWS Architecture Blog, Exponential Backoff and Jitter): uniform in [0, min(cap, base*2^attempt)]. */
export function fullJitterDelay (attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30))
  return Math.floor(random() * ceiling)
}
