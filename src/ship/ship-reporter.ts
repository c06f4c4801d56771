/**
 * What `ship` tells the person or the log collector: on a terminal, a status line redrawn in place
 * (files followed, lines/s, lag, last error) with notable events printed above it; otherwise one
 * JSON line per event (journald, Docker and Kubernetes collect stderr), progress included.
 * Never the API key, never line contents.
 */
export interface ShipStatus {
  readonly files: number
  readonly shippedLines: number
  readonly linesPerSecond: number
  /** Bytes written to the followed files and not yet acknowledged by the gateway. */
  readonly lagBytes: number
  readonly rejectedLines: number
  readonly skippedLines: number
  readonly lastError: string | undefined
  /** What the shipper waits for right now (the gateway to come back, a Retry-After), if anything. */
  readonly waiting: string | undefined
}

export type Level = 'info' | 'warn' | 'error'

export interface ShipReporter {
  event (level: Level, event: string, msg: string, fields?: Record<string, unknown>): void
  status (status: ShipStatus): void
  /** True when status lines are for a person (redrawn often), false for a log (written now and then). */
  readonly interactive: boolean
  close (): void
}

export function createReporter (out: NodeJS.WritableStream & { isTTY?: boolean }, now: () => Date = () => new Date()): ShipReporter {
  return out.isTTY === true ? new TerminalReporter(out, now) : new JsonReporter(out, now)
}

class JsonReporter implements ShipReporter {
  readonly interactive = false
  constructor (private readonly out: NodeJS.WritableStream, private readonly now: () => Date) {}

  event (level: Level, event: string, msg: string, fields: Record<string, unknown> = {}): void {
    this.out.write(JSON.stringify({ time: this.now().toISOString(), level, event, msg, ...fields }) + '\n')
  }

  status (s: ShipStatus): void {
    this.event('info', 'progress', describe(s), { ...s })
  }

  close (): void {}
}

class TerminalReporter implements ShipReporter {
  readonly interactive = true
  private line = ''
  constructor (private readonly out: NodeJS.WritableStream, private readonly now: () => Date) {}

  event (level: Level, event: string, msg: string, fields: Record<string, unknown> = {}): void {
    const where = typeof fields.file === 'string' ? ` ${fields.file}${typeof fields.offset === 'number' ? `@${fields.offset}` : ''}` : ''
    const time = this.now().toTimeString().slice(0, 8)
    this.out.write(`\r\x1b[K${time} ${level === 'info' ? '' : level.toUpperCase() + ' '}${msg}${where}\n${this.line}`)
  }

  status (s: ShipStatus): void {
    this.line = describe(s)
    this.out.write(`\r\x1b[K${this.line}`)
  }

  close (): void {
    if (this.line !== '') this.out.write('\n')
  }
}

function describe (s: ShipStatus): string {
  const parts = [
    `${s.files} file${s.files === 1 ? '' : 's'}`,
    `${s.shippedLines} lines shipped`,
    `${Math.round(s.linesPerSecond)} lines/s`,
    `lag ${bytes(s.lagBytes)}`
  ]
  if (s.rejectedLines > 0) parts.push(`${s.rejectedLines} rejected`)
  if (s.skippedLines > 0) parts.push(`${s.skippedLines} skipped`)
  if (s.waiting !== undefined) parts.push(`waiting: ${s.waiting}`)
  else if (s.lastError !== undefined) parts.push(`last error: ${s.lastError}`)
  return parts.join(' | ')
}

function bytes (n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}
