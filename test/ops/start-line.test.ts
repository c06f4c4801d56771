import { spawn } from 'node:child_process'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { stringify } from 'yaml'
import { parseConfig } from '../../src/config/load-config.js'
import { tryIt } from '../../src/ops/start-line.js'
import { post, uniqueStream } from '../helpers/gateway.js'
import { freePort, startKinesalite } from '../helpers/kinesis-servers.js'

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())

const ENTRY = fileURLToPath(new URL('../../src/server.ts', import.meta.url))
const FIXTURE_SCHEMAS = fileURLToPath(new URL('../fixtures/schemas/', import.meta.url))
// The TypeScript loader tap runs this test with, so the entry runs from source as well.
const TS_LOADER = process.execArgv.filter((a) => a.includes('typescript'))

interface LogLine { level: number, msg: string, [key: string]: unknown }

t.test('the entry: a start line an operator can read, SIGHUP reloads, SIGTERM drains and exits 0', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kgw-entry-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await cp(FIXTURE_SCHEMAS, join(dir, 'schemas'), { recursive: true })
  const file = join(dir, 'gateway.yaml')
  const stream = uniqueStream()
  await writeFile(file, stringify({ channels: { events: { stream, schema: 'schemas/any.json' } } }))
  const port = await freePort()
  const child = spawn(process.execPath, [...TS_LOADER, ENTRY], {
    env: { ...process.env, GATEWAY_CONFIG: file, KINESIS_ENDPOINT: kinesis.endpoint, KINESIS_CREATE_STREAMS: 'true', PORT: String(port), HOST: '127.0.0.1', LOG_FORMAT: 'json', NODE_ENV: 'test' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code) }))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const lines: LogLine[] = []
  let stderr = ''
  let partial = ''
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n')
    partial = parts.pop() ?? ''
    for (const p of parts) if (p.startsWith('{')) lines.push(JSON.parse(p) as LogLine)
  })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const waitFor = async (what: string, check: () => boolean): Promise<void> => {
    const until = Date.now() + 30_000
    while (!check()) {
      if (child.exitCode !== null || Date.now() > until) throw new Error(`no ${what}; stderr: ${stderr}`)
      await sleep(50)
    }
  }

  await waitFor('start line', () => lines.some((l) => /^kinesis-gateway .* started/.test(l.msg)))
  const start = lines.find((l) => /^kinesis-gateway .* started/.test(l.msg)) as LogLine
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  t.match(start, {
    version: pkg.version,
    address: `http://127.0.0.1:${port}`,
    metrics: `http://127.0.0.1:${port}/metrics`,
    kinesis: { mode: 'endpoint', endpoint: kinesis.endpoint },
    channels: { events: { stream } },
    streams: [stream],
    limits: { bodyLimitBytes: Number, lingerMs: Number, recordDeadlineMs: Number }
  })

  const url = `http://127.0.0.1:${port}`
  t.equal((await post(`${url}/v1/events`, '{"a":1}')).status, 200)
  await writeFile(file, stringify({ channels: { events: { stream, schema: 'schemas/any.json' }, more: { stream: uniqueStream(), schema: 'schemas/any.json' } } }))
  child.kill('SIGHUP')
  await waitFor('reload line', () => lines.some((l) => l.msg.startsWith('configuration reloaded')))
  t.match(lines.find((l) => l.msg.startsWith('configuration reloaded')), { trigger: 'SIGHUP', added: ['more'] })
  t.equal((await post(`${url}/v1/more`, '{"b":1}')).status, 200, 'the channel added by SIGHUP is live')

  child.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM: drained and exited cleanly')
  t.equal(lines.filter((l) => l.msg === 'request').length, 2, 'one line per request')
})

t.test('the printed try-it commands carry what the CLI needs to find this gateway', async (t) => {
  const yaml = 'channels:\n  events: { stream: events, schema: schemas/any.json }\n'
  const base = { configFile: '/repo/kinesis-gateway.yaml', cwd: '/repo', channel: 'events', host: '0.0.0.0', port: 8080 }
  const plain = tryIt({ ...base, kinesis: parseConfig(yaml, base.configFile, {}).kinesis })
  t.equal(plain.tail, 'npx kinesis-gateway tail events', 'defaults: nothing to add')
  t.equal(plain.curl, 'curl -d \'{"key1":"value1"}\' -H \'Content-Type: application/json\' http://localhost:8080/v1/events')
  const moved = tryIt({ ...base, configFile: '/etc/gw dir/gw.yaml', port: 9000, kinesis: parseConfig(yaml, '/etc/gw.yaml', { KINESIS_MODE: 'embedded', KINESIS_LOCAL_PORT: '4600', AWS_REGION: 'eu-west-1' }).kinesis })
  t.equal(moved.tail, "KINESIS_MODE=embedded KINESIS_LOCAL_PORT=4600 GATEWAY_CONFIG='/etc/gw dir/gw.yaml' npx kinesis-gateway tail events")
  t.match(moved.curl, 'http://localhost:9000/v1/events')
  const relative = tryIt({ ...base, configFile: '/repo/kinesis-gateway.example.yaml', kinesis: parseConfig(yaml, base.configFile, {}).kinesis })
  t.equal(relative.tail, 'GATEWAY_CONFIG=kinesis-gateway.example.yaml npx kinesis-gateway tail events', 'relative to the folder when inside it')
})
