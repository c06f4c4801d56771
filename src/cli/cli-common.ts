import { ConfigError } from '../config/config-error.js'
import type { KinesisConfig } from '../config/types.js'

/** Exit codes of every command: 0 success, 1 the thing checked is wrong, 2 the command line is wrong. */
export const EXIT_OK = 0
export const EXIT_PROBLEMS = 1
export const EXIT_USAGE = 2

/** An error meant for the person at the terminal: printed without a stack, with this exit code. */
export class CliError extends Error {
  readonly exitCode: number
  constructor (message: string, exitCode = EXIT_PROBLEMS) {
    super(message)
    this.name = 'CliError'
    this.exitCode = exitCode
  }
}

export interface CliIo {
  readonly stdout: NodeJS.WritableStream
  readonly stderr: NodeJS.WritableStream
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal: AbortSignal
}

/** Runs node:util parseArgs (or any argument check) and turns its errors into usage errors. */
export function withUsage<T> (parse: () => T, usage: string): T {
  try {
    return parse()
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${usage}`, EXIT_USAGE)
  }
}

export function positiveInteger (value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${flag} must be a positive integer, not "${value}"`, EXIT_USAGE)
  return n
}

/** Where a command talks to, in words. */
export function describeTarget (kinesis: KinesisConfig): string {
  if (kinesis.mode === 'embedded') return `the embedded development server at ${kinesis.endpoint ?? ''}`
  if (kinesis.mode === 'endpoint') return `${kinesis.endpoint ?? ''}`
  return `AWS Kinesis in ${kinesis.region}`
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN'])

function networkCode (err: unknown): string | undefined {
  const e = err as { code?: unknown, errors?: Array<{ code?: unknown }>, cause?: unknown }
  if (typeof e.code === 'string') return e.code
  const inner = e.errors?.[0]?.code ?? (e.cause as { code?: unknown } | undefined)?.code
  return typeof inner === 'string' ? inner : undefined
}

/**
 * Turns what commands commonly hit into one clear line: a configuration problem, or nobody
 * listening at the endpoint (the usual case: the dev gateway with its embedded server is not running).
 */
export function explainError (err: unknown, kinesis: KinesisConfig | undefined): CliError | undefined {
  if (err instanceof CliError) return err
  if (err instanceof ConfigError) return new CliError(err.message)
  const code = networkCode(err)
  if (code !== undefined && UNREACHABLE.has(code) && kinesis !== undefined) {
    const hint = kinesis.mode === 'embedded'
      ? 'is `npm start` running? In development the embedded Kinesis server lives inside the gateway process ' +
        '(KINESIS_LOCAL_PORT, default 4567); or point the command elsewhere with --endpoint URL or KINESIS_ENDPOINT'
      : 'is the Kinesis server running and KINESIS_ENDPOINT / --endpoint correct?'
    return new CliError(`cannot reach ${describeTarget(kinesis)} (${code}): ${hint}`)
  }
  const name = (err as Error).name
  if (name === 'CredentialsProviderError' || name === 'UnrecognizedClientException' || name === 'AccessDeniedException') {
    return new CliError(`${describeTarget(kinesis ?? ({} as KinesisConfig))}: ${(err as Error).message}. ` +
      'Fix: provide AWS credentials with Kinesis permissions (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance role)')
  }
  return undefined
}

/** Renders rows as a left-aligned, space-padded table with a header line. */
export function table (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n') + '\n'
}
