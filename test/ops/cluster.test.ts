import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parseConfig } from '../../src/config/load-config.js'
import { post, uniqueStream } from '../helpers/gateway.js'
import { freePort, startKinesalite } from '../helpers/kinesis-servers.js'
import { testKinesisClient, waitForRecords } from '../helpers/stream-reader.js'

const SERVER = fileURLToPath(new URL('../../src/server.ts', import.meta.url))
const ANY_SCHEMA = fileURLToPath(new URL('../fixtures/schemas/any.json', import.meta.url))

t.test('WORKERS: a count, "auto", refused with the embedded server', async (t) => {
  const text = 'channels: { events: { stream: s, schema: x.json } }'
  const endpoint = { KINESIS_ENDPOINT: 'http://127.0.0.1:1' }
  t.equal(parseConfig(text, '/f.yaml', { ...endpoint, WORKERS: '3' }).server.workers, 3)
  t.equal(parseConfig(text, '/f.yaml', endpoint).server.workers, 1, 'development default is one process')
  t.ok(parseConfig(text, '/f.yaml', { ...endpoint, NODE_ENV: 'production' }).server.workers >= 1, 'production default: one per core')
  t.equal(parseConfig('server: { workers: 2 }\n' + text, '/f.yaml', endpoint).server.workers, 2, 'config key server.workers')
  t.throws(() => parseConfig(text, '/f.yaml', { ...endpoint, WORKERS: 'many' }), /WORKERS: "many"\. Fix: use a number/)
  t.throws(() => parseConfig(text, '/f.yaml', { WORKERS: '2' }), /cannot share the embedded Kinesis server.*Fix: set WORKERS=1/)
})

t.test('two workers behind one port: events from both land, SIGTERM drains every worker, exit 0', async (t) => {
  const kinesis = await startKinesalite()
  t.teardown(() => kinesis.close())
  const reader = testKinesisClient(kinesis.endpoint)
  t.teardown(() => reader.destroy())
  const stream = uniqueStream()
  const dir = mkdtempSync(join(tmpdir(), 'kgw-cluster-'))
  const configFile = join(dir, 'gateway.yaml')
  // A long linger keeps records buffered in the workers when SIGTERM comes: drain must flush them.
  writeFileSync(configFile, `delivery: { lingerMs: 200 }\nchannels:\n  events:\n    stream: ${stream}\n    schema: ${ANY_SCHEMA}\n    record: raw\n`)
  const port = await freePort()
  const child = spawn(process.execPath, [...process.execArgv, SERVER], {
    env: {
      ...process.env,
      GATEWAY_CONFIG: configFile,
      KINESIS_ENDPOINT: kinesis.endpoint,
      KINESIS_CREATE_STREAMS: 'true',
      PORT: String(port),
      HOST: '127.0.0.1',
      WORKERS: '2',
      LOG_LEVEL: 'info'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { out += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })

  const started = (): string[] => out.split('\n').filter((l) => /"msg":"kinesis-gateway [0-9.]+ started on /.test(l))
  const until = Date.now() + 45_000
  while (started().length < 2) {
    if (child.exitCode !== null || Date.now() > until) throw new Error(`the cluster did not start: ${out}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const pids = new Set(started().map((l) => (JSON.parse(l) as { pid: number }).pid))
  t.equal(pids.size, 2, 'two worker processes started')

  const url = `http://127.0.0.1:${port}/v1/events`
  // Phase 1: events that are acknowledged before shutdown, on many connections (both workers take some).
  const first = await Promise.all(Array.from({ length: 40 }, async (_, i) =>
    await post(url, JSON.stringify({ phase: 1, i }), { 'content-type': 'application/json', connection: 'close' })))
  t.ok(first.every((r) => r.status === 200), 'every event before shutdown is acknowledged')

  // Phase 2: requests in flight (records waiting in the 200 ms linger) when SIGTERM reaches the primary.
  const second = Array.from({ length: 20 }, async (_, i) =>
    await post(url, JSON.stringify({ phase: 2, i }), { 'content-type': 'application/json', connection: 'close' }).catch(() => ({ status: 0, json: {} })))
  await new Promise((resolve) => setTimeout(resolve, 50))
  child.kill('SIGTERM')
  const results = await Promise.all(second)
  const code = await exited
  t.equal(code, 0, 'the primary exits 0 after every worker drained')
  if (code !== 0) t.comment(out.slice(-4000))

  const acknowledged = [...first.map((_, i) => `1:${i}`), ...results.flatMap((r, i) => r.status === 200 ? [`2:${i}`] : [])]
  const records = await waitForRecords(reader, stream, acknowledged.length)
  const stored = new Set(records.map((r) => { const e = JSON.parse(r.text) as { phase: number, i: number }; return `${e.phase}:${e.i}` }))
  t.ok(acknowledged.length > 40, `some in-flight requests were acknowledged during shutdown (${acknowledged.length - 40})`)
  t.same(acknowledged.filter((k) => !stored.has(k)), [], `every acknowledged event is in the stream (${acknowledged.length})`)
  t.ok(out.includes('shutting down: every worker drains'), 'the primary logged the shutdown')
})
