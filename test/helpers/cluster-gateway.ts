import { spawn, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import type { Teardown, TestChannel } from './gateway.js'
import { freePort } from './kinesis-servers.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url))

export interface ClusterGateway {
  /** http://127.0.0.1:<port> */
  readonly url: string
  readonly child: ChildProcess
  /** Worker pids, from their start lines. */
  readonly pids: readonly number[]
  output: () => string
}

/**
 * The real server entry with WORKERS=n (node:cluster behind one port), in a child process. The
 * configuration is written as YAML into `dir` (schemas: the test fixtures); waits for every
 * worker's start line; SIGKILLs the process group's primary at teardown if still running.
 */
export async function startClusterGateway (t: Teardown, opts: {
  dir: string
  endpoint: string
  workers: number
  channels: Record<string, TestChannel>
  extra?: Record<string, unknown>
  env?: Record<string, string>
}): Promise<ClusterGateway> {
  const channels: Record<string, TestChannel> = {}
  for (const [name, ch] of Object.entries(opts.channels)) channels[name] = { ...ch, schema: join(FIXTURES, ch.schema ?? 'schemas/any.json') }
  const configFile = join(opts.dir, 'gateway.yaml')
  await writeFile(configFile, stringify({ ...opts.extra, channels }))
  const port = await freePort()
  const child = spawn(process.execPath, ['--no-warnings', '--import', '@tapjs/typescript/import', 'src/server.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TS_NODE_TRANSPILE_ONLY: '1',
      GATEWAY_CONFIG: configFile,
      KINESIS_ENDPOINT: opts.endpoint,
      KINESIS_CREATE_STREAMS: 'true',
      PORT: String(port),
      HOST: '127.0.0.1',
      WORKERS: String(opts.workers),
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      ...opts.env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { out += c.toString() })
  t.teardown(async () => {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  })
  const started = (): string[] => out.split('\n').filter((l) => /"msg":"kinesis-gateway [0-9.]+ started on /.test(l))
  const until = Date.now() + 60_000
  while (started().length < opts.workers) {
    if (child.exitCode !== null || Date.now() > until) throw new Error(`the cluster did not start: ${out}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const pids = started().map((l) => (JSON.parse(l) as { pid: number }).pid)
  return { url: `http://127.0.0.1:${port}`, child, pids, output: () => out }
}

/** Pids of the workers that logged an answered request on `route` (request logs carry the pid). */
export function pidsServing (output: string, route: string): Set<number> {
  const pids = new Set<number>()
  for (const line of output.split('\n')) {
    if (!line.includes(`"route":"${route}"`)) continue
    try { pids.add((JSON.parse(line) as { pid: number }).pid) } catch { /* not a log line */ }
  }
  return pids
}
