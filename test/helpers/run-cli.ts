import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/**
 * The CLI runs from its TypeScript source with the loader tap gives this test process
 * (process.execArgv holds tap's --import of its TypeScript hook), so no build is needed.
 * Coverage hooks are left out: the child is a separate program, not part of this test.
 */
const NODE_ARGS = process.execArgv.filter((a) => !a.includes('processinfo'))

export interface CliRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface CliOptions {
  /** Added to this process's environment; undefined removes a variable. */
  readonly env?: Record<string, string | undefined>
  readonly cwd?: string
  /** Killed (and the test fails on the result) after this long. */
  readonly timeoutMs?: number
}

function childEnv (extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  // A clean slate for the settings the CLI reads, then the test's own.
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_NO_WARNINGS: '1' }
  for (const key of ['GATEWAY_CONFIG', 'KINESIS_ENDPOINT', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'KINESIS_LOCAL_PORT', 'NODE_ENV', 'KINESIS_CREATE_STREAMS']) delete env[key]
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  return env
}

/** Starts `kinesis-gateway <args>`; the caller reads its streams and waits for it. */
export function spawnCli (args: readonly string[], options: CliOptions = {}): ChildProcess {
  return spawn(process.execPath, [...NODE_ARGS, MAIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe']
  })
}

/** Runs `kinesis-gateway <args>` to its end and collects its output. */
export async function runCli (args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  const child = spawnCli(args, options)
  return await collect(child, options.timeoutMs ?? 30_000)
}

export async function collect (child: ChildProcess, timeoutMs = 30_000): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)))
  clearTimeout(timer)
  return { code, stdout, stderr }
}
