import { PROBLEMS, problemType, type ProblemCode } from './problems.js'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8'

/**
 * The RFC 9457 body of a problem answered below Fastify (client-error.ts, connection-bounds.ts):
 * the same members as error-handler.ts renders, where they are known.
 */
export function problemBody (code: ProblemCode, detail: string, request?: { readonly url: string, readonly id: string }): string {
  const { status, title } = PROBLEMS[code]
  return JSON.stringify(request === undefined
    ? { type: problemType(code), title, status, detail, code }
    : { type: problemType(code), title, status, detail, instance: request.url, code, requestId: request.id })
}

/**
 * A whole HTTP/1.1 answer that closes the connection, as bytes to write straight to a socket:
 * for requests Node's parser refused or a connection the gateway ends, where no response object
 * is left to write through.
 */
export function closingAnswer (code: ProblemCode, detail: string, retryAfterSeconds?: number): string {
  const body = problemBody(code, detail)
  const { status, title } = PROBLEMS[code]
  return `HTTP/1.1 ${status} ${title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
    (retryAfterSeconds === undefined ? '' : `Retry-After: ${retryAfterSeconds}\r\n`) +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
}
