import { createServer, connect, type Server, type Socket } from 'node:net'

/**
 * A loopback TCP proxy to a real server that a test can cut and restore, to make a real Redis
 * "unreachable" and "back" without touching the Redis itself.
 */
export class TcpProxy {
  private server: Server | undefined
  private readonly sockets = new Set<Socket>()
  port = 0

  constructor (private readonly targetPort: number) {}

  async start (port = 0): Promise<number> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, '127.0.0.1')
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => { client.destroy(); upstream.destroy() })
      }
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => { resolve() })
    })
    this.server = server
    const address = server.address()
    this.port = typeof address === 'object' && address !== null ? address.port : port
    return this.port
  }

  /** Refuses new connections and drops open ones. */
  async stop (): Promise<void> {
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
    const server = this.server
    this.server = undefined
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => { resolve() }))
  }
}
