import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import type { Teardown } from './gateway.js'
import { freePort } from './kinesis-servers.js'

/**
 * A redis-server of the test's own, on a free loopback port, that the test may freeze (SIGSTOP),
 * thaw (SIGCONT), kill and start again. Never the machine's Redis on 6379: stopping that one would
 * break every other test. No persistence (`--save "" --appendonly no`): a restart loses every key,
 * which is the worst case a gateway must survive.
 */
export class OwnRedis {
  private child: ChildProcess | undefined
  private frozen = false

  private constructor (readonly port: number) {}

  static async start (t: Teardown): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort())
    t.teardown(() => redis.stop())
    await redis.launch()
    return redis
  }

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  private async launch (): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' })
    this.child = child
    // Ready once it answers PING; bounded (10 s), and a Redis that exits at once is reported.
    const until = Date.now() + 10_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited with ${child.exitCode}`)
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      probe.on('error', () => {})
      try {
        await probe.connect()
        await probe.ping()
        return
      } catch {
        if (Date.now() > until) throw new Error(`redis-server on port ${this.port} did not answer within 10 s`)
        await sleep(50)
      } finally {
        probe.disconnect()
      }
    }
  }

  /** SIGSTOP: connections stay open, commands are queued in the kernel and run on thaw (data kept). */
  freeze (): void {
    this.child?.kill('SIGSTOP')
    this.frozen = true
  }

  thaw (): void {
    this.child?.kill('SIGCONT')
    this.frozen = false
  }

  /** Kills it and starts a new one on the same port: every key is gone. */
  async restart (): Promise<void> {
    await this.stop()
    await this.launch()
  }

  /** Starts it again on the same port after stop() (empty). */
  async startAgain (): Promise<void> {
    await this.launch()
  }

  async stop (): Promise<void> {
    const child = this.child
    this.child = undefined
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    if (this.frozen) this.thaw()
    child.kill('SIGKILL')
    await exited
  }

  /** A plain client for the test's own reads (closed at teardown). */
  client (t: Teardown): Redis {
    const c = new Redis(this.url, { maxRetriesPerRequest: 1 })
    c.on('error', () => {})
    t.teardown(() => { c.disconnect() })
    return c
  }
}
