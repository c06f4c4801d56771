import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

/**
 * The compiled gateway as a user runs it: built by the same script `npm install` (prepare) and
 * `npm start` (prestart) run, started as `node dist/server.js`, its CLI as `node dist/cli/main.js`
 * or through npx from the checkout, in an environment stripped of the machine's own settings.
 */

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const SERVER = join(ROOT, 'dist/server.js')
export const CLI = join(ROOT, 'dist/cli/main.js')
export const run = promisify(execFile)

/** What prepare and prestart do: build dist/ when it is missing or older than src/. */
export async function buildIfStale (): Promise<void> {
  await run(process.execPath, [join(ROOT, 'scripts/build-if-stale.mjs')], { cwd: ROOT })
}

/** The inherited environment without anything that would pick a Kinesis target or change the config. */
export function cleanEnv (extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(AWS_|KINESIS_)/.test(key) || ['NODE_ENV', 'GATEWAY_CONFIG', 'PORT', 'HOST', 'LOG_LEVEL', 'LOG_FORMAT', 'METRICS_PORT', 'TAP', 'TAP_CHILD_ID', 'NODE_OPTIONS'].includes(key)) continue
    env[key] = value
  }
  // No shared AWS config or credentials files of the machine, and no instance metadata lookups:
  // a command sent to "AWS" then fails on missing credentials before it touches the network.
  env.AWS_CONFIG_FILE = '/dev/null'
  env.AWS_SHARED_CREDENTIALS_FILE = '/dev/null'
  env.AWS_EC2_METADATA_DISABLED = 'true'
  return { ...env, ...extra }
}

export interface Started {
  readonly child: ChildProcess
  output: () => string
  readonly exited: Promise<number | null>
}

/** Spawns a command, collecting stdout and stderr together; `detached` gives it its own process group. */
export function startProcess (command: string, args: readonly string[], env: NodeJS.ProcessEnv, opts: { detached?: boolean } = {}): Started {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false })
  let output = ''
  child.stdout?.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { output += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, output: () => output, exited }
}

export function startServer (env: NodeJS.ProcessEnv): Started {
  return startProcess(process.execPath, [SERVER], env)
}

/** Waits until `check` holds on the output, the process exits, or the time runs out. */
export async function waitForOutput (p: Started, check: (output: string) => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!check(p.output())) {
    if (p.child.exitCode !== null) throw new Error(`exited (${p.child.exitCode}) before ${what}:\n${p.output()}`)
    if (Date.now() > until) throw new Error(`no ${what} within ${timeoutMs} ms:\n${p.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
