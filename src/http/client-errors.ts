import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { sendProblem, toProblem } from './error-handler.js'
import { GatewayError, PROBLEMS, problemType, type ProblemCode } from './problems.js'

/**
 * Errors Node's HTTP parser raises before there is a request (Fastify's clientErrorHandler):
 * slow headers (headersTimeout, slowloris), oversized headers (maxHeaderSize), unparsable HTTP.
 * Answered as problem+json like everything else, then the socket is closed.
 */
export function clientErrorHandler (err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  let code: ProblemCode
  let detail: string
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    code = 'GW_ERR_REQUEST_TIMEOUT'
    detail = 'The request was not received in time; the connection is closed'
  } else if (err.code === 'HPE_HEADER_OVERFLOW') {
    code = 'GW_ERR_HEADERS_TOO_LARGE'
    detail = 'The request headers are larger than this gateway accepts'
  } else {
    code = 'GW_ERR_BAD_REQUEST'
    detail = 'The request is not valid HTTP/1.1'
  }
  const status = PROBLEMS[code].status
  if (socket.writable) {
    const body = JSON.stringify({ type: problemType(code), title: PROBLEMS[code].title, status, detail, code })
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/problem+json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy()
}

/**
 * Errors Fastify's router raises before any hook runs (Fastify's frameworkErrors): a URL that is
 * not valid percent-encoding, or a path parameter longer than maxParamLength (100; channel names
 * are at most 64 characters).
 */
export function frameworkErrors (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const error = err.code === 'FST_ERR_MAX_PARAM_LENGTH'
    ? new GatewayError('GW_ERR_URL_TOO_LONG', 'A part of the URL is too long; channel names have at most 64 characters')
    : new GatewayError('GW_ERR_BAD_REQUEST', `The URL cannot be decoded: ${err.message}`)
  void sendProblem(reply, toProblem(error, request))
}
