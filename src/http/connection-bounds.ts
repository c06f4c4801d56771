import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { closingAnswer, PROBLEM_CONTENT_TYPE, problemBody } from './raw-problem.js'
import { requestIdOf } from './request-id.js'

/**
 * What one client connection may make the gateway hold (issue 17: 500 connections that pipelined
 * requests and never read the answers took the process from 77 MB to 2.4 GB and starved every
 * other client). Node's HTTP server stops reading a socket whose answers pile up, but only between
 * reads: every request already in a read buffer (400 of them in 64 KiB) is started, and every
 * answer is queued in memory however long the client leaves it unread.
 */
export interface ConnectionLimits {
  /** Requests with more header lines are answered 431 instead of losing the rest unseen. */
  readonly maxHeaders: number
  /** Requests of one connection held unanswered at once; one more and the connection is ended. */
  readonly maxPipelinedRequests: number
  /** Unread answer bytes queued for one connection past which none of its requests is started. */
  readonly maxQueuedAnswerBytes: number
  /** Queued answers the client takes nothing of for this long: the connection is closed. */
  readonly writeTimeoutMs: number
}

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void

/**
 * Fastify `serverFactory`: the node:http server Fastify would make, with every request passing
 * through the connection bounds first. A factory rather than a wrapper of `app.server`, so that
 * the second server Fastify makes when a host name resolves to two addresses (localhost: 127.0.0.1
 * and ::1) is bounded too.
 */
export function boundedServerFactory (limits: ConnectionLimits): (handler: RequestHandler, options: Record<string, unknown>) => Server {
  return (handler, options) => {
    const server = createServer((options.http ?? {}) as ServerOptions, (req, res) => { connectionOf(req.socket, limits, handler).admit(req, res) })
    // What Fastify does to the server it makes itself (fastify/lib/server.js, getServerInstance).
    server.keepAliveTimeout = numberOr(options.keepAliveTimeout, server.keepAliveTimeout)
    server.requestTimeout = numberOr(options.requestTimeout, server.requestTimeout)
    server.setTimeout(numberOr(options.connectionTimeout, 0))
    const perSocket = numberOr(options.maxRequestsPerSocket, 0)
    if (perSocket > 0) server.maxRequestsPerSocket = perSocket
    // Node keeps this many header lines and drops the rest without a word; one more than the
    // limit tells a request that had too many from one that had just enough.
    server.maxHeadersCount = limits.maxHeaders + 1
    return server
  }
}

/**
 * Ends a connection once the requests it has started are answered, then writes `lastWords` (a
 * whole HTTP answer) and closes it. For requests Node's parser refused (client-error.ts): writing
 * at once would put that answer before those of earlier pipelined requests, and closing at once
 * would drop their answers after their events were written.
 */
export function endAfterAnswers (socket: Socket, lastWords: string): void {
  const connection = connections.get(socket)
  if (connection !== undefined) {
    connection.end(lastWords, false)
    return
  }
  if (socket.writable) socket.write(lastWords)
  socket.destroy()
}

const connections = new WeakMap<Socket, Connection>()

function connectionOf (socket: Socket, limits: ConnectionLimits, handler: RequestHandler): Connection {
  let connection = connections.get(socket)
  if (connection === undefined) {
    connection = new Connection(socket, limits, handler)
    connections.set(socket, connection)
  }
  return connection
}

function numberOr (value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback
}

/**
 * One client connection. Requests are started as they are read, while the connection holds fewer
 * than `maxPipelinedRequests` unanswered and its client has taken the answers queued before
 * (`maxQueuedAnswerBytes`); else they wait, unstarted. Answers leave in request order (Node
 * queues them). A request is started only if its answer can be sent: the connection is ended, if
 * at all, after the answers of every request started, and a request never started wrote nothing,
 * so a client may send again whatever was not answered (RFC 9112 section 9.3.2).
 */
class Connection {
  /** Requests handed to the app whose answers have not been handed to the socket yet. */
  private readonly started = new Set<IncomingMessage>()
  /** Requests read but not started, in order. */
  private readonly waiting: Array<readonly [IncomingMessage, ServerResponse]> = []
  /** Set once the connection is to be closed: nothing more is started or read. */
  private ending = false
  private closed = false
  /** A whole answer written after the last one of a started request, before closing. */
  private lastWords: string | undefined
  private stall: NodeJS.Timeout | undefined
  /** Bytes the client had taken when the write timer was armed. */
  private deliveredAtArm = 0

  constructor (private readonly socket: Socket, private readonly limits: ConnectionLimits, private readonly handler: RequestHandler) {
    socket.on('drain', () => {
      clearTimeout(this.stall)
      this.stall = undefined
      this.pump()
    })
  }

  admit (req: IncomingMessage, res: ServerResponse): void {
    // Read in the same buffer as a request the connection ends with: never started, never answered.
    if (this.ending) return
    if (this.started.size + this.waiting.length >= this.limits.maxPipelinedRequests) {
      this.end(closingAnswer('GW_ERR_UNAVAILABLE', `More than ${this.limits.maxPipelinedRequests} requests were waiting for their answers ` +
        'on this connection. This request and those sent after it were not processed and nothing of them was written: ' +
        'send them again, reading the answers as they come', 1), true)
      return
    }
    if (this.waiting.length === 0 && this.socket.writableLength <= this.limits.maxQueuedAnswerBytes) {
      this.start(req, res)
      return
    }
    this.waiting.push([req, res])
    this.watch()
  }

  /** Nothing more is started; once the started requests are answered, `lastWords` and close. */
  end (lastWords: string | undefined, dropWaiting: boolean): void {
    if (this.ending) return
    this.ending = true
    this.lastWords = lastWords
    if (dropWaiting) this.waiting.length = 0
    // Node resumes reading whenever a request body is read; nothing more is to be read here.
    this.socket.pause()
    this.socket.on('resume', () => { this.socket.pause() })
    this.pump()
  }

  private start (req: IncomingMessage, res: ServerResponse): void {
    this.started.add(req)
    res.once('finish', () => { this.answered(req, res) })
    if (req.rawHeaders.length > 2 * this.limits.maxHeaders) refuseTooManyHeaders(req, res, this.limits.maxHeaders)
    else this.handler(req, res)
  }

  private answered (req: IncomingMessage, res: ServerResponse): void {
    this.started.delete(req)
    // An answer that closes the connection (Connection: close, set by the app, by Fastify while
    // closing, or asked for by the client; Node closes after it): nothing after it may start.
    if (!this.ending && !res.shouldKeepAlive) {
      this.ending = true
      this.waiting.length = 0
    }
    this.pump()
  }

  /** Starts what waits, as far as the client has read; closes an ending connection once settled. */
  private pump (): void {
    while (this.waiting.length > 0 && this.socket.writableLength <= this.limits.maxQueuedAnswerBytes) {
      const next = this.waiting[0] as readonly [IncomingMessage, ServerResponse]
      // An ending connection reads nothing more: a request whose body has not arrived is not started.
      if (this.ending && !next[0].complete) {
        this.waiting.length = 0
        break
      }
      this.waiting.shift()
      this.start(next[0], next[1])
    }
    if (this.waiting.length > 0 || this.socket.writableNeedDrain) this.watch()
    if (this.ending && this.waiting.length === 0 && this.settled()) this.close()
  }

  /**
   * Every started request whose body came whole is answered. One still receiving its body (the
   * request Node's parser refused or timed out) cannot be waited for: the last words answer it.
   */
  private settled (): boolean {
    for (const req of this.started) if (req.complete) return false
    return true
  }

  private close (): void {
    if (this.closed) return
    this.closed = true
    if (this.lastWords !== undefined && this.socket.writable) this.socket.write(this.lastWords)
    // Closed once the answers are handed to the kernel; the write timer still runs if they are not.
    this.socket.destroySoon()
    this.watch()
  }

  /**
   * The write timeout: armed while answers are queued, it closes the connection when a whole
   * period passed in which the client took none of them. A slow reader that took at least one
   * gets another period (its queue is bounded by maxQueuedAnswerBytes either way). Node sees an
   * answer taken once the kernel has it whole, so a client must read the kernel's socket buffers
   * (about 4 MB on loopback) and one answer within a period: with the 30 s default, 140 KB/s.
   */
  private watch (): void {
    if (this.stall !== undefined || this.socket.destroyed || this.socket.writableLength === 0) return
    this.deliveredAtArm = delivered(this.socket)
    this.stall = setTimeout(() => {
      this.stall = undefined
      if (this.socket.writableLength === 0) {
        this.pump()
      } else if (delivered(this.socket) > this.deliveredAtArm) {
        this.watch()
      } else {
        this.socket.destroy()
      }
    }, this.limits.writeTimeoutMs)
    this.stall.unref()
  }
}

/** Bytes of the answers the kernel took whole so far (bytesWritten counts queued bytes too). */
function delivered (socket: Socket): number {
  return socket.bytesWritten - socket.writableLength
}

/**
 * 431 for a request with more header lines than the limit. Node keeps only the first lines; the
 * request is refused whole, so that no late header (an API key, an Idempotency-Key) is lost unseen.
 * The request was framed correctly (the parser counts all lines), so the connection stays usable.
 */
function refuseTooManyHeaders (req: IncomingMessage, res: ServerResponse, maxHeaders: number): void {
  const id = requestIdOf(req)
  const body = problemBody('GW_ERR_TOO_MANY_HEADERS', `The request has more than ${maxHeaders} header lines, more than this gateway reads. ` +
    'Send fewer headers (the limit is server.maxHeaders)', { url: req.url ?? '', id })
  res.writeHead(431, { 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': Buffer.byteLength(body), 'x-request-id': id })
  res.end(body)
}
