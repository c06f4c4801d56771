import { DEFAULTS, KINESIS_MAX_RECORD_BYTES } from '../config/limits.js'

/**
 * Defaults and limits of `kinesis-gateway ship`, in one place. The batch limits are the gateway's
 * own defaults for a channel (maxEventsPerRequest, server.bodyLimitBytes, which counts the
 * decompressed body): a batch the shipper builds is never refused for its size by a default gateway.
 */
export const SHIP_DEFAULTS = {
  maxBatchEvents: DEFAULTS.maxEventsPerRequest,
  maxBatchBytes: DEFAULTS.bodyLimitBytes,
  /**
   * Longer lines are cut (text) or skipped (json). Half of a Kinesis record (1 MiB with the
   * envelope), so that JSON escaping of a cut line still fits one record in the common case.
   */
  maxLineBytes: KINESIS_MAX_RECORD_BYTES / 2,
  /** A partly filled batch waits this long for more lines (Vector's and Fluent Bit's 1 s flush). */
  lingerMs: 1_000,
  /** How often every followed file is checked (growth, truncation, rotation) and the globs expanded again. */
  pollMs: 1_000,
  /** A rotated or deleted file is kept open this long after its last growth (Fluent Bit's Rotate_Wait is 5 s). */
  rotateWaitMs: 5_000,
  /** One POST may take this long (a `delivered` channel answers within delivery.recordDeadlineMs, 10 s by default). */
  requestTimeoutMs: 30_000,
  /** Full-jitter backoff between retries when the gateway gives no Retry-After. */
  retryBaseMs: 250,
  retryMaxMs: 30_000,
  /** Progress line (terminal) or progress log line (JSON) interval. */
  progressMs: 10_000,
  /** Bytes of a file's start hashed into its fingerprint (tells a reused inode or a copytruncate apart). */
  fingerprintBytes: 256,
  /** The environment variable holding the API key (read by the command's option parsing only). */
  apiKeyEnv: 'KINESIS_GATEWAY_API_KEY'
} as const
