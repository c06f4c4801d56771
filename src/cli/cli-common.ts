import { ConfigError } from '../config/config-error.js'
import { leftEmbeddedWarning, targetSummary } from '../config/kinesis-target.js'
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

/**
 * The line every command that talks to Kinesis writes first (to stderr, so that stdout stays data):
 * where it goes and which setting chose it, with the way back to the embedded server when an AWS
 * variable of the environment took the command to real AWS.
 */
export function announceTarget (io: CliIo, command: string, what: string, kinesis: KinesisConfig, production: boolean): void {
  io.stderr.write(`kinesis-gateway ${command}: ${what} on ${targetSummary(kinesis)}\n`)
  const warning = leftEmbeddedWarning(kinesis, production)
  if (warning !== undefined) io.stderr.write(`kinesis-gateway ${command}: note: ${warning}\n`)
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
    let hint: string
    if (kinesis.mode === 'embedded') {
      hint = 'is `npm start` running? In development the embedded Kinesis server lives inside the gateway process; ' +
        `this command looks for it on KINESIS_LOCAL_PORT (${kinesis.embeddedPort}): run the command the gateway printed at start, ` +
        'or point the command elsewhere with --endpoint URL or KINESIS_ENDPOINT'
    } else if (kinesis.mode === 'aws') {
      hint = 'check the network, DNS and the region; for the embedded development server of `npm start` set KINESIS_MODE=embedded'
    } else {
      hint = 'is the Kinesis server running and KINESIS_ENDPOINT / --endpoint correct?'
    }
    return new CliError(`cannot reach ${targetSummary(kinesis)}: ${code}. ${hint}`)
  }
  const name = (err as Error).name
  if (name === 'CredentialsProviderError' || name === 'UnrecognizedClientException' || name === 'AccessDeniedException') {
    const where = kinesis === undefined ? 'Kinesis' : targetSummary(kinesis)
    return new CliError(`${where}: ${(err as Error).message}. ` +
      'Fix: provide AWS credentials with Kinesis permissions (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance role), ' +
      'or set KINESIS_MODE=embedded for the embedded development server')
  }
  return undefined
}

/** Renders rows as a left-aligned, space-padded table with a header line. */
export function table (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n') + '\n'
}
