import type { FastifyBaseLogger } from 'fastify'

type Log = Pick<FastifyBaseLogger, 'warn' | 'info' | 'debug'>

/** The short form of an SDK or network error: its code (ECONNREFUSED, AccessDeniedException...) and first line. */
export function errorSummary (err: unknown): { code: string, message: string } {
  const e = err as { code?: unknown, name?: unknown, message?: unknown, errors?: Array<{ code?: unknown }> }
  const code = typeof e.code === 'string' ? e.code : typeof e.errors?.[0]?.code === 'string' ? e.errors[0].code : typeof e.name === 'string' ? e.name : 'Error'
  const message = typeof e.message === 'string' && e.message !== '' ? e.message.split('\n')[0] ?? '' : String(err)
  return { code, message }
}

/**
 * Whether the gateway's background checks (readiness every readinessRefreshMs, shard lists)
 * reach Kinesis, logged as an operator wants it in an outage: one warning when the checks start
 * failing, one line when they succeed again, and in between only debug lines, never a stack
 * trace every few seconds. Requests that fail meanwhile are counted in the metrics.
 */
export class KinesisReachability {
  private downSince: number | undefined
  private failures = 0

  constructor (private readonly log: Log, private readonly target: string, private readonly now: () => number = Date.now) {}

  /** A check failed: the first failure of a streak is a warning, the others debug lines. */
  failed (err: unknown, check: string): void {
    const { code, message } = errorSummary(err)
    this.failures++
    if (this.downSince !== undefined) {
      this.log.debug({ check, code, message, failures: this.failures }, 'Kinesis check failed again')
      return
    }
    this.downSince = this.now()
    this.log.warn({ check, code, message, target: this.target },
      `Kinesis at ${this.target} does not answer (${check}: ${code}: ${message}); /readyz answers 503 until it does. ` +
      'One line will say when it is back')
  }

  /** A check succeeded: after a streak of failures, one line says Kinesis is back. */
  succeeded (): void {
    if (this.downSince === undefined) return
    const seconds = Math.round((this.now() - this.downSince) / 1000)
    this.log.info({ target: this.target, downSeconds: seconds, failedChecks: this.failures },
      `Kinesis at ${this.target} answers again after ${seconds} s (${this.failures} failed check${this.failures === 1 ? '' : 's'})`)
    this.downSince = undefined
    this.failures = 0
  }

  get reachable (): boolean {
    return this.downSince === undefined
  }
}
