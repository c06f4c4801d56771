import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { stringify } from 'yaml'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config/load-config.js'
import { ensureStreams } from '../../src/kinesis/stream-admin.js'
import { post, uniqueStream, type Teardown } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { metricValue, scrape } from '../helpers/metrics-text.js'
import { testKinesisClient, waitForRecords } from '../helpers/stream-reader.js'

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

const FIXTURE_SCHEMAS = fileURLToPath(new URL('../fixtures/schemas/', import.meta.url))
const LOAD_SCHEMA = { $schema: 'http://json-schema.org/draft-07/schema#', $id: 'load.json', type: 'object', required: ['kind'] }

interface LiveGateway {
  readonly app: FastifyInstance
  readonly url: string
  readonly dir: string
  readonly logs: Array<{ level: number, msg: string, [key: string]: unknown }>
  write (doc: unknown): Promise<void>
}

/** A gateway started from a real configuration file in a temporary folder (schemas beside it). */
async function startLive (t: Teardown, doc: unknown, env: Record<string, string> = {}): Promise<LiveGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'kgw-reload-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await cp(FIXTURE_SCHEMAS, join(dir, 'schemas'), { recursive: true })
  const file = join(dir, 'gateway.yaml')
  const write = async (d: unknown): Promise<void> => { await writeFile(file, typeof d === 'string' ? d : stringify(d)) }
  await write(doc)
  const fullEnv = { GATEWAY_CONFIG: file, KINESIS_ENDPOINT: kinesis.endpoint, KINESIS_CREATE_STREAMS: 'true', PORT: '0', ...env }
  const logs: LiveGateway['logs'] = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as LiveGateway['logs'][number])
      done()
    }
  })
  const app = await buildApp(await loadConfig(fullEnv), {
    logger: { level: 'info', stream },
    reloadConfig: async () => await loadConfig(fullEnv)
  })
  t.teardown(() => app.close())
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, url, dir, logs, write }
}

t.test('reloads under load: no request fails, channels appear, change and disappear, broken configurations are refused', async (t) => {
  const events = uniqueStream()
  const orders = uniqueStream()
  const base = { channels: { events: { stream: events, schema: 'schemas/any.json' } } }
  const gw = await startLive(t, base)

  // The load: 6 clients posting batches to "events" without pause, for the whole test.
  const loadState = { running: true }
  let accepted = 0
  let requests = 0
  const failures: string[] = []
  const client = async (id: number): Promise<void> => {
    for (let n = 0; loadState.running; n++) {
      const res = await post(`${gw.url}/v1/events`, JSON.stringify([{ kind: 'load', id, n }, { kind: 'load', id, n, second: true }]))
      requests++
      if (res.status === 200) accepted += res.json.accepted as number
      else failures.push(`${res.status} ${JSON.stringify(res.json)}`)
    }
  }
  const load = Promise.all(Array.from({ length: 6 }, async (_, i) => { await client(i) }))
  const settle = async (): Promise<void> => { await sleep(150) }
  await settle()

  // 1. A new channel with a new stream (created, since createStreams is on).
  await gw.write({ channels: { ...base.channels, orders: { stream: orders, schema: 'schemas/order.json' } } })
  const added = await gw.app.gateway.reload()
  t.match(added, { result: 'applied', added: ['orders'], removed: [], problems: [] })
  const order = { order_id: 'o1', user_id: 'u1', amount: 3 }
  t.equal((await post(`${gw.url}/v1/orders`, JSON.stringify(order))).status, 200, 'the new channel is live')
  t.equal((await post(`${gw.url}/v1/orders`, '{"order_id":1}')).status, 400, 'with its schema')
  await settle()

  // 2. Broken configurations: bad YAML, a missing schema file, an invalid schema. Each is refused whole.
  const before = gw.logs.length
  await gw.write('channels:\n  events: [unclosed\n')
  const yamlBroken = await gw.app.gateway.reload()
  t.equal(yamlBroken.result, 'rejected')
  t.match(yamlBroken.problems[0], /gateway\.yaml: not valid YAML/)
  const errorLines = gw.logs.slice(before).filter((l) => l.level >= 50)
  t.equal(errorLines.length, 1, 'one error line')
  t.match(errorLines[0]?.msg, /configuration reload rejected; still serving the previous configuration: .*not valid YAML/)

  await gw.write({ channels: { ...base.channels, orders: { stream: orders, schema: 'schemas/order.json' }, extra: { stream: uniqueStream(), schema: 'schemas/missing.json' } } })
  const missing = await gw.app.gateway.reload()
  t.equal(missing.result, 'rejected')
  t.match(missing.problems.join('\n'), /channels\.extra\.schema: file .*missing\.json not found/)
  t.equal((await post(`${gw.url}/v1/extra`, '{}')).status, 404, 'nothing of a refused configuration is served')

  await writeFile(join(gw.dir, 'schemas', 'broken.json'), '{"type": "object", "properties": ')
  await gw.write({ channels: { ...base.channels, orders: { stream: orders, schema: 'schemas/broken.json' } } })
  const badSchema = await gw.app.gateway.reload()
  t.equal(badSchema.result, 'rejected')
  t.match(badSchema.problems.join('\n'), /broken\.json: not a usable JSON Schema/)
  await rm(join(gw.dir, 'schemas', 'broken.json'))
  t.equal((await post(`${gw.url}/v1/orders`, JSON.stringify(order))).status, 200, 'the running configuration still serves')
  await settle()

  // 3. A changed schema applies to the next requests.
  await writeFile(join(gw.dir, 'schemas', 'load.json'), JSON.stringify(LOAD_SCHEMA))
  await gw.write({ channels: { events: { stream: events, schema: 'schemas/load.json' }, orders: { stream: orders, schema: 'schemas/order.json' } } })
  const changed = await gw.app.gateway.reload()
  t.match(changed, { result: 'applied', added: [], removed: [] })
  t.ok(changed.changed.includes('events'))
  const noKind = await post(`${gw.url}/v1/events`, '{"other":1}')
  t.equal(noKind.status, 400, 'the new schema requires "kind"')
  t.equal(noKind.json.code, 'GW_ERR_INVALID_EVENTS')
  await settle()

  // 4. Several reloads at once run one after the other.
  const burst = await Promise.all([gw.app.gateway.reload('a'), gw.app.gateway.reload('b'), gw.app.gateway.reload('c')])
  t.same(burst.map((r) => r.result), ['unchanged', 'unchanged', 'unchanged'])

  // 5. A removed channel answers 404.
  await gw.write({ channels: { events: { stream: events, schema: 'schemas/load.json' } } })
  const removed = await gw.app.gateway.reload()
  t.match(removed, { result: 'applied', removed: ['orders'] })
  const gone = await post(`${gw.url}/v1/orders`, JSON.stringify(order))
  t.equal(gone.status, 404)
  t.equal(gone.json.code, 'GW_ERR_UNKNOWN_CHANNEL')
  await settle()

  loadState.running = false
  await load
  t.same(failures, [], 'no request of the load failed')
  t.ok(requests >= 30, `the load ran through the reloads (${requests} requests)`)
  const stored = await waitForRecords(reader, events, accepted, 20_000)
  t.equal(stored.filter((r) => r.text.includes('"kind":"load"')).length, accepted, 'every acknowledged event is in the stream')

  const m = await scrape(`${gw.url}/metrics`)
  t.equal(metricValue(m, 'kinesis_gateway_config_reloads_total', { result: 'rejected' }), 3)
  t.equal(metricValue(m, 'kinesis_gateway_config_reloads_total', { result: 'applied' }), 3)
  t.equal(metricValue(m, 'kinesis_gateway_events_accepted_total', { channel: 'orders' }), 2)
})

t.test('settings read only at start are reported as ignored, the channels still reload', async (t) => {
  const gw = await startLive(t, { channels: { events: { stream: uniqueStream(), schema: 'schemas/any.json' } } })
  const other = uniqueStream()
  await gw.write({
    server: { bodyLimitBytes: 1000 },
    delivery: { lingerMs: 50 },
    channels: { events: { stream: uniqueStream(), schema: 'schemas/any.json' }, more: { stream: other, schema: 'schemas/any.json' } }
  })
  const before = gw.logs.length
  const res = await gw.app.gateway.reload('SIGHUP')
  t.equal(res.result, 'applied')
  t.same([...res.ignored].sort(), ['delivery.lingerMs', 'server.bodyLimitBytes'])
  t.ok(res.changed.includes('events'), 'a channel moved to another stream is changed')
  t.ok(gw.logs.slice(before).some((l) => l.level === 40 && /ignored until restart: .*server\.bodyLimitBytes/.test(l.msg)))
  t.match(gw.logs.slice(before).find((l) => l.msg.startsWith('configuration reloaded')), { trigger: 'SIGHUP', added: ['more'] })
  t.equal((await post(`${gw.url}/v1/more`, JSON.stringify({ pad: 'x'.repeat(2000) }))).status, 200, 'the body limit of the start still holds')
  t.equal((await waitForRecords(reader, other, 1)).length, 1)
})

t.test('without createStreams, a channel on a stream that does not exist is refused', async (t) => {
  const stream = uniqueStream()
  await ensureStreams(reader, [stream], 1)
  const gw = await startLive(t, { channels: { events: { stream, schema: 'schemas/any.json' } } }, { KINESIS_CREATE_STREAMS: 'false' })
  const absent = uniqueStream()
  await gw.write({ channels: { events: { stream, schema: 'schemas/any.json' }, later: { stream: absent, schema: 'schemas/any.json' } } })
  const res = await gw.app.gateway.reload()
  t.equal(res.result, 'rejected')
  t.match(res.problems[0], new RegExp(`channels\\.later\\.stream: stream "${absent}" is MISSING.*Fix: create it first`))
  const ready = await fetch(`${gw.url}/readyz`)
  t.equal(ready.status, 200, 'the instance stays ready')
})

t.test('watch: editing the configuration file or a schema reloads by itself', async (t) => {
  const gw = await startLive(t, { channels: { events: { stream: uniqueStream(), schema: 'schemas/any.json' } } })
  gw.app.gateway.reloader.watch()
  const waitFor = async (what: string, check: () => Promise<boolean>): Promise<void> => {
    const until = Date.now() + 10_000
    while (!(await check())) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
      await sleep(50)
    }
  }
  const later = uniqueStream()
  await gw.write({ channels: { events: { stream: uniqueStream(), schema: 'schemas/any.json' }, later: { stream: later, schema: 'schemas/any.json' } } })
  await waitFor('the new channel', async () => (await post(`${gw.url}/v1/later`, '{"a":1}')).status === 200)
  t.pass('a channel added to the file is live without a signal')

  await writeFile(join(gw.dir, 'schemas', 'any.json'), JSON.stringify({ $id: 'any.json', type: 'object', required: ['must'] }))
  await waitFor('the schema change', async () => (await post(`${gw.url}/v1/later`, '{"a":1}')).status === 400)
  t.equal((await post(`${gw.url}/v1/later`, '{"must":1}')).status, 200, 'an edited schema applies')

  await gw.write('channels: {}\n')
  await waitFor('the rejection', async () => metricValue(await scrape(`${gw.url}/metrics`), 'kinesis_gateway_config_reloads_total', { result: 'rejected' }) === 1)
  t.equal((await post(`${gw.url}/v1/later`, '{"must":1}')).status, 200, 'a broken file leaves the running configuration')
})

t.test('a reload names only the channels that changed: not every channel whose schema shares the folder', async (t) => {
  const streams = { a: uniqueStream(), b: uniqueStream(), orders: uniqueStream() }
  const doc = {
    channels: {
      a: { stream: streams.a, schema: 'schemas/a.json' },
      b: { stream: streams.b, schema: 'schemas/b.json' },
      orders: { stream: streams.orders, schema: 'schemas/order.json' }
    }
  }
  // The live gateway copies the fixture schemas; a.json and b.json are added to the same folder before it starts.
  const gw = await startLive(t, { channels: { orders: doc.channels.orders } })
  await writeFile(join(gw.dir, 'schemas', 'a.json'), JSON.stringify({ type: 'object' }))
  await writeFile(join(gw.dir, 'schemas', 'b.json'), JSON.stringify({ type: 'object' }))
  await gw.write(doc)
  t.match(await gw.app.gateway.reload(), { result: 'applied', added: ['a', 'b'] })

  // Edit b's schema only: b changed; a and orders (same folder) did not.
  await writeFile(join(gw.dir, 'schemas', 'b.json'), JSON.stringify({ type: 'object', required: ['x'] }))
  const before = gw.logs.length
  const res = await gw.app.gateway.reload()
  t.same(res.changed, ['b'])
  const line = gw.logs.slice(before).find((l) => l.msg.startsWith('configuration reloaded'))
  t.equal(line?.msg, 'configuration reloaded: changed b')
  t.same(line?.changed, ['b'])
  t.notOk(line !== undefined && 'channels' in line, 'no table of every channel in the line')

  // A file that orders $refs (common.json) changes: orders changed, a and b did not.
  const common = join(gw.dir, 'schemas', 'common.json')
  const shared = JSON.parse(await readFile(common, 'utf8')) as Record<string, unknown>
  await writeFile(common, JSON.stringify({ ...shared, description: 'edited' }))
  t.same((await gw.app.gateway.reload()).changed, ['orders'], 'a change in a $ref-ed file is a change of the channels that use it')
  t.equal((await post(`${gw.url}/v1/b`, '{"y":1}')).status, 400, 'the edited schema applies')
})

// aws-kinesis-agg: an independent KPL de-aggregator (test-only dependency).
type Deaggregate = (record: { partitionKey: string, sequenceNumber: string, data: string }, computeChecksums: boolean,
  done: (err: Error | null, records?: Array<{ data: string }>) => void) => void
const { deaggregateSync } = createRequire(import.meta.url)('aws-kinesis-agg') as { deaggregateSync: Deaggregate }
const KPL_MAGIC = 'f3899ac2'

t.test('a reload keeps aggregate: true (channels are built by one function at start and reload)', async (t) => {
  const stream = uniqueStream()
  const other = uniqueStream()
  const doc = (n: number): unknown => ({
    channels: {
      events: { stream, schema: 'schemas/any.json', aggregate: true },
      // The reload changes another channel, so the table is really rebuilt.
      [`other${n}`]: { stream: other, schema: 'schemas/any.json' }
    }
  })
  const gw = await startLive(t, doc(1))
  await gw.write(doc(2))
  const result = await gw.app.gateway.reload('test')
  t.equal(result.result, 'applied')
  t.same(result.added, ['other2'])
  const batch = Array.from({ length: 20 }, (_, i) => ({ i }))
  t.equal((await post(`${gw.url}/v1/events`, JSON.stringify(batch))).status, 200)
  const records = await waitForRecords(reader, stream, 1)
  const aggregated = records.filter((r) => Buffer.from(r.data.subarray(0, 4)).toString('hex') === KPL_MAGIC)
  t.ok(aggregated.length >= 1, 'after the reload, events still go out as KPL aggregates')
  const events: unknown[] = []
  for (const r of records) {
    if (Buffer.from(r.data.subarray(0, 4)).toString('hex') !== KPL_MAGIC) { events.push(JSON.parse(r.text)); continue }
    deaggregateSync({ partitionKey: r.partitionKey, sequenceNumber: '1', data: Buffer.from(r.data).toString('base64') }, true, (err, users) => {
      if (err !== null && err !== undefined) throw err
      for (const u of users ?? []) events.push(JSON.parse(Buffer.from(u.data, 'base64').toString('utf8')))
    })
  }
  t.same(events.map((e) => (e as { data: { i: number } }).data.i).sort((a, b) => a - b), batch.map((e) => e.i), 'every event is in the aggregates')
})
