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
