import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError, PROBLEMS, problemType, type EventError, type ProblemCode } from './problems.js'
import { PROBLEM_CONTENT_TYPE } from './raw-problem.js'

export { PROBLEM_CONTENT_TYPE }

/** Fastify's own error codes that are the client's fault, and what they mean to a client. */
const FASTIFY_CODES: Record<string, { code: ProblemCode, detail: (req: FastifyRequest) => string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'GW_ERR_UNSUPPORTED_MEDIA_TYPE',
    detail: (req) => `Content-Type ${JSON.stringify(req.headers['content-type'] ?? '(none)')} is not accepted here. ` +
      'Send application/json (one object or an array of objects) or application/x-ndjson (one object per line)'
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: 'GW_ERR_BODY_TOO_LARGE',
    detail: (req) => `The body is larger than this gateway accepts (${req.routeOptions.bodyLimit} bytes, counted after decompression). Split it into smaller requests`
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'GW_ERR_EMPTY_BODY', detail: () => 'The body is empty; send at least one JSON object' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'GW_ERR_MALFORMED_BODY', detail: () => 'The body is not valid JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'GW_ERR_BAD_REQUEST', detail: () => 'Content-Length does not match the body that was sent' },
  // Raised by the router, before any route (see frameworkErrorHandler).
  FST_ERR_BAD_URL: { code: 'GW_ERR_BAD_REQUEST', detail: (req) => `The URL ${JSON.stringify(req.url)} is not valid: it holds a malformed percent-encoding` },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'GW_ERR_URL_TOO_LONG', detail: () => 'A path segment of the URL is too long; channel names have at most 64 characters' }
}

/** zlib's error codes: a body that claims gzip but cannot be inflated is the client's mistake. */
const ZLIB_CODES = new Set(['Z_DATA_ERROR', 'Z_BUF_ERROR', 'Z_STREAM_ERROR', 'Z_NEED_DICT'])

export interface Problem {
  readonly status: number
  readonly body: Record<string, unknown>
  readonly retryAfterSeconds: number | undefined
}

/** Turns any error into an RFC 9457 problem. The text of 5xx errors other than our own is never shown. */
export function toProblem (err: FastifyError | GatewayError | Error, request: FastifyRequest): Problem {
  let code: ProblemCode
  let detail: string
  let extra: Record<string, unknown> | undefined
  let retryAfterSeconds: number | undefined
  const errCode = (err as { code?: string }).code
  if (err instanceof GatewayError) {
    code = err.code
    detail = err.message
    retryAfterSeconds = err.retryAfterSeconds
    extra = err.errors !== undefined ? { ...err.extra, errors: err.errors } : err.extra
  } else if (errCode !== undefined && FASTIFY_CODES[errCode] !== undefined) {
    const known = FASTIFY_CODES[errCode]
    code = known.code
    detail = known.detail(request)
  } else if (errCode !== undefined && ZLIB_CODES.has(errCode)) {
    code = 'GW_ERR_MALFORMED_BODY'
    detail = `The body could not be decompressed as ${String(request.headers['content-encoding'])}: ${err.message}`
  } else {
    const status = (err as FastifyError).statusCode
    if (status !== undefined && status >= 400 && status < 500) {
      code = 'GW_ERR_BAD_REQUEST'
      detail = err.message
      return render(code, detail, request, undefined, undefined, status)
    }
    code = 'GW_ERR_INTERNAL'
    detail = 'The gateway failed to handle this request; it has been logged with this request id'
  }
  return render(code, detail, request, extra, retryAfterSeconds)
}

function render (code: ProblemCode, detail: string, request: FastifyRequest,
  extra: Record<string, unknown> | undefined, retryAfterSeconds: number | undefined, status: number = PROBLEMS[code].status): Problem {
  return {
    status,
    retryAfterSeconds,
    body: {
      type: problemType(code),
      title: PROBLEMS[code].title,
      status,
      detail,
      instance: request.url,
      code,
      requestId: request.id,
      ...extra
    }
  }
}

/** A problem in the body an input format's clients expect instead of problem+json (OTLP: google.rpc.Status). */
export type ProblemRenderer = (problem: Problem) => { readonly contentType: string, readonly body: string | Buffer }

export function sendProblem (reply: FastifyReply, problem: Problem, render?: ProblemRenderer): FastifyReply {
  reply.request.errorCode = problem.body.code as string
  if (problem.body.errors !== undefined) reply.request.eventErrors = problem.body.errors as EventError[]
  if (problem.retryAfterSeconds !== undefined) reply.header('retry-after', String(problem.retryAfterSeconds))
  if (render !== undefined) {
    const { contentType, body } = render(problem)
    return reply.code(problem.status).type(contentType).send(body)
  }
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem.body)
}

/** Fastify error handler: one place where every failure becomes problem+json (or a format's own error body). */
export function errorHandler (err: FastifyError, request: FastifyRequest, reply: FastifyReply, render?: ProblemRenderer): FastifyReply {
  // Fastify asks to close the connection after every body-parser error, "as the client may send
  // more data". That is so only while the body has not arrived whole. Once it has, the requests
  // pipelined after it may already be started, and a close would drop their answers after their
  // events were written (issue 17, 5a): the connection stays usable instead.
  if (request.raw.complete && reply.getHeader('connection') === 'close') reply.removeHeader('connection')
  const problem = toProblem(err, request)
  if (problem.status >= 500 && problem.body.code === 'GW_ERR_INTERNAL') {
    request.log.error({ err }, 'request failed')
  }
  return sendProblem(reply, problem, render)
}

/** Fastify `frameworkErrors`: router errors (malformed URL, over-long parameter) as problem+json too. */
export function frameworkErrorHandler (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  sendProblem(reply, toProblem(err, request))
}

/** 404 for unknown paths; 405 with Allow for a known path asked with another method. */
export function notFoundHandler (allowed: (path: string) => readonly string[]) {
  return (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const path = request.url.split('?')[0] ?? ''
    const allow = allowed(path)
    if (allow.length > 0 && !allow.includes(request.method)) {
      void reply.header('allow', allow.join(', '))
      return sendProblem(reply, toProblem(new GatewayError('GW_ERR_METHOD_NOT_ALLOWED',
        `${request.method} is not allowed on ${path}; it answers ${allow.join(', ')}`), request))
    }
    return sendProblem(reply, toProblem(new GatewayError('GW_ERR_ROUTE_NOT_FOUND',
      `There is no route ${request.method} ${path}. Events are sent with POST /v1/<channel>`), request))
  }
}
