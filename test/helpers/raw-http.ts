import { connect, type Socket } from 'node:net'

export interface RawAnswer {
  /** Status of the first response, 0 when the server closed without answering. */
  readonly status: number
  readonly text: string
  /** ms from connect to the server closing the connection (or to `closeAfterMs`). */
  readonly closedAfterMs: number
  /** True when the server closed the connection. */
  readonly closedByServer: boolean
}

/**
 * Talks HTTP by hand over loopback: writes `chunks` (waiting `gapMs` between them), then reads
 * until the server closes or `giveUpMs` passes. For requests fetch cannot send (broken HTTP,
 * slow clients).
 */
export async function rawRequest (url: string, chunks: Array<string | Buffer>, opts: { gapMs?: number, giveUpMs?: number } = {}): Promise<RawAnswer> {
  const { port, hostname } = new URL(url)
  const giveUpMs = opts.giveUpMs ?? 5_000
  const start = performance.now()
  const socket: Socket = connect(Number(port), hostname)
  const received: Buffer[] = []
  let gaveUp = false
  let closedAt = 0
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(() => { gaveUp = true; socket.destroy(); resolve() }, giveUpMs)
    socket.on('data', (d: Buffer) => received.push(d))
    socket.on('error', () => {})
    socket.on('close', () => { closedAt = performance.now(); clearTimeout(timer); resolve() })
  })
  await new Promise<void>((resolve) => socket.once('connect', () => { resolve() }))
  for (const chunk of chunks) {
    if (socket.destroyed) break
    socket.write(chunk)
    if ((opts.gapMs ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, opts.gapMs))
  }
  await done
  const text = Buffer.concat(received).toString('latin1')
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text)
  return { status: m === null ? 0 : Number(m[1]), text, closedAfterMs: (gaveUp ? performance.now() : closedAt) - start, closedByServer: !gaveUp }
}

export interface PipelinedAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export interface PipelineResult {
  /** The answers, in the order they came, split by their Content-Length. */
  readonly answers: readonly PipelinedAnswer[]
  /** True when the server closed the connection (rather than `expect` answers being reached or giving up). */
  readonly closedByServer: boolean
}

/** Splits the HTTP/1.1 answers out of the bytes read from one connection, by their Content-Length. */
export class AnswerSplitter {
  readonly answers: PipelinedAnswer[] = []
  private buffered = Buffer.alloc(0)

  push (data: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, data])
    for (;;) {
      const head = this.buffered.indexOf('\r\n\r\n')
      if (head < 0) return
      const lines = this.buffered.subarray(0, head).toString('latin1').split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':')
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
      }
      const length = Number(headers['content-length'] ?? 0)
      if (this.buffered.length < head + 4 + length) return
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0)
      this.answers.push({ status, headers, body: this.buffered.subarray(head + 4, head + 4 + length).toString('utf8') })
      this.buffered = this.buffered.subarray(head + 4 + length)
    }
  }
}

/**
 * Sends `requests` back to back on one connection (pipelining, in one write unless `oneWrite` is
 * false) and reads the answers until `expect` of them came, the server closed, or `giveUpMs` passed.
 */
export async function pipeline (url: string, requests: ReadonlyArray<string | Buffer>,
  opts: { expect?: number, giveUpMs?: number, oneWrite?: boolean } = {}): Promise<PipelineResult> {
  const { port, hostname } = new URL(url)
  const expect = opts.expect ?? requests.length
  const socket: Socket = connect(Number(port), hostname)
  const split = new AnswerSplitter()
  let closedByServer = false
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => { socket.destroy(); resolve() }, opts.giveUpMs ?? 10_000)
    const finish = (): void => { clearTimeout(timer); socket.destroy(); resolve() }
    socket.on('data', (d: Buffer) => {
      split.push(d)
      if (split.answers.length >= expect) finish()
    })
    socket.on('error', () => {})
    socket.on('close', () => { closedByServer = split.answers.length < expect; finish() })
    socket.once('connect', () => {
      if (opts.oneWrite === false) for (const r of requests) socket.write(r)
      else socket.write(Buffer.concat(requests.map((r) => typeof r === 'string' ? Buffer.from(r, 'latin1') : r)))
    })
  })
  return { answers: split.answers, closedByServer }
}

/** One HTTP/1.1 POST of a JSON body, as raw bytes for pipelining. */
export function rawPost (path: string, body: string, headers: Record<string, string> = {}): string {
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  return `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`
}
