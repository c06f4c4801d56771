import type { Socket } from 'node:net'
import { endAfterAnswers } from './connection-bounds.js'
import type { ProblemCode } from './problems.js'
import { closingAnswer } from './raw-problem.js'

/**
 * Node's HTTP parser rejects some requests before Fastify sees them: a body shorter or longer
 * than its Content-Length, a malformed Content-Length, Content-Length together with
 * Transfer-Encoding, oversized headers, a request that took too long. Fastify's default answer
 * there is plain JSON; this answers the same RFC 9457 problem+json as every other error, then
 * closes the connection (the parser's state is lost, so the socket cannot be reused). Requests
 * pipelined before the broken one are answered first, in order (connection-bounds.ts).
 */
export function clientErrorHandler (err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset or already closed socket: nobody is left to read an answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  let code: ProblemCode
  let detail: string
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    code = 'GW_ERR_REQUEST_TIMEOUT'
    detail = 'The request was not received completely in time; send it again'
  } else if (err.code === 'HPE_HEADER_OVERFLOW') {
    code = 'GW_ERR_HEADERS_TOO_LARGE'
    detail = 'The request headers are larger than the server accepts; send fewer or shorter headers'
  } else {
    code = 'GW_ERR_BAD_REQUEST'
    detail = 'The request is not valid HTTP/1.1' + describeParserError(err.code) +
      '. Check that Content-Length matches the body, or let the HTTP client compute it'
  }
  endAfterAnswers(socket, closingAnswer(code, detail))
}

/** llhttp's codes for the framing errors a client can make (node/deps/llhttp), in words. */
function describeParserError (code: string | undefined): string {
  switch (code) {
    case 'HPE_INVALID_CONTENT_LENGTH': return ': the Content-Length header is not a valid length'
    case 'HPE_UNEXPECTED_CONTENT_LENGTH': return ': Content-Length and Transfer-Encoding were both sent'
    case 'HPE_INVALID_TRANSFER_ENCODING': return ': the Transfer-Encoding header is invalid or was sent together with Content-Length'
    case 'HPE_INVALID_CHUNK_SIZE': return ': a chunk size of the chunked body is invalid'
    case 'HPE_INVALID_METHOD':
    case 'HPE_INVALID_CONSTANT': return ': the request line or the data after the previous body is not HTTP (was Content-Length shorter than the body?)'
    case 'HPE_CLOSED_CONNECTION': return ': more data followed the body of a "Connection: close" request (was Content-Length shorter than the body?)'
    case 'HPE_INVALID_EOF_STATE': return ': the connection ended before the whole body arrived (was Content-Length longer than the body?)'
    default: return code === undefined ? '' : ` (${code})`
  }
}
