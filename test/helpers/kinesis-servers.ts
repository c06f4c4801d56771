import { spawn } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { startEmbeddedKinesis } from '../../src/ops/embedded-kinesis.js'

export interface KinesisServer {
  readonly endpoint: string
  close (): Promise<void>
}

/** kinesalite, in this process, in memory, on a free port. */
export async function startKinesalite (): Promise<KinesisServer> {
  return await startEmbeddedKinesis(0)
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

const KINESIS_LOCAL_DIR = fileURLToPath(new URL('../../node_modules/kinesis-local/', import.meta.url))

/**
 * kinesis-local (the kinesis-mock engine LocalStack uses), as a child process on free ports.
 * A second, independent implementation of the Kinesis API. `initialStreams` are created at start.
 */
export async function startKinesisLocal (initialStreams: readonly string[] = [], shards = 1): Promise<KinesisServer> {
  const plainPort = await freePort()
  const tlsPort = await freePort()
  const child = spawn(process.execPath, [KINESIS_LOCAL_DIR + 'main.js'], {
    env: {
      ...process.env,
      KINESIS_MOCK_CERT_PATH: KINESIS_LOCAL_DIR + 'server.json',
      KINESIS_MOCK_PLAIN_PORT: String(plainPort),
      KINESIS_MOCK_TLS_PORT: String(tlsPort),
      INITIALIZE_STREAMS: initialStreams.map((s) => `${s}:${shards}`).join(','),
      CREATE_STREAM_DURATION: '0ms',
      LOG_LEVEL: 'WARN'
    },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const endpoint = `http://127.0.0.1:${plainPort}`
  const until = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`kinesis-local exited (${child.exitCode}): ${stderr}`)
    try {
      const res = await fetch(endpoint + '/healthcheck')
      if (res.ok) break
    } catch { /* not listening yet */ }
    if (Date.now() > until) {
      child.kill('SIGKILL')
      throw new Error(`kinesis-local did not start within 60 s: ${stderr}`)
    }
    await sleep(200)
  }
  return {
    endpoint,
    close: async () => {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await Promise.race([exited, sleep(5_000).then(() => child.kill('SIGKILL'))])
    }
  }
}
