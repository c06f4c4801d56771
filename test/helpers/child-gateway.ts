import { spawn, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import type { TestChannel } from './gateway.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const ANY_SCHEMA = fileURLToPath(new URL('../fixtures/schemas/any.json', import.meta.url))

export interface ChildGateway {
  readonly url: string
  readonly child: ChildProcess
  /** Everything the process wrote (pino JSON lines). */
  output (): string
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/**
 * The real server entry (src/server.ts) in a child process, so tests can send it SIGTERM or
 * SIGKILL. The configuration is written as YAML into `dir`; the server listens on a free port.
 */
export async function startChildGateway (opts: {
  dir: string
  endpoint: string
  channels: Record<string, TestChannel>
  extra?: Record<string, unknown>
  /** Run the compiled entry (dist/server.js, after `npm run build`) instead of src/server.ts. */
  compiled?: boolean
  /** Extra node flags, e.g. --max-old-space-size=128 (benchmarks). */
  nodeArgs?: string[]
}): Promise<ChildGateway> {
  const channels: Record<string, TestChannel> = {}
  for (const [name, ch] of Object.entries(opts.channels)) channels[name] = { schema: ANY_SCHEMA, ...ch }
  const configFile = join(opts.dir, 'gateway.yaml')
  await writeFile(configFile, stringify({ ...opts.extra, channels }))
  const args = [...(opts.nodeArgs ?? []), ...(opts.compiled === true ? ['dist/server.js'] : ['--no-warnings', '--import', '@tapjs/typescript/import', 'src/server.ts'])]
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TS_NODE_TRANSPILE_ONLY: '1',
      GATEWAY_CONFIG: configFile,
      KINESIS_ENDPOINT: opts.endpoint,
      KINESIS_CREATE_STREAMS: 'true',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the gateway did not start within 30 s:\n${out}`)), 30_000)
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (m !== null) { clearTimeout(timer); resolve(m[1] as string) }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    void exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`the gateway exited (${code}) before listening:\n${out}`)) })
  })
  return { url, child, output: () => out, exited }
}
