import { randomUUID } from 'node:crypto'
import type { RawRequestDefaultExpression } from 'fastify'

/** A client's request id is kept when it is short and made of characters safe in logs and headers. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._~:/+=@-]{1,128}$/

/**
 * Fastify genReqId: the client's `x-request-id` when it is safe (at most 128 characters of
 * letters, digits and `._~:/+=@-`), else a new UUID. A client cannot inject log lines or huge
 * values through it; the id is echoed back in `x-request-id` and in every problem body.
 */
export function requestIdOf (req: RawRequestDefaultExpression): string {
  const given = req.headers['x-request-id']
  if (typeof given === 'string' && SAFE_REQUEST_ID.test(given)) return given
  return randomUUID()
}
