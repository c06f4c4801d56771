import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ListShardsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis'
import { stringify } from 'yaml'
import t, { type Test } from 'tap'
import { post, startGateway, uniqueStream } from '../helpers/gateway.js'
import { freePort, startKinesalite } from '../helpers/kinesis-servers.js'
import { collect, runCli, spawnCli } from '../helpers/run-cli.js'
import { readAllRecords, testKinesisClient } from '../helpers/stream-reader.js'

const ANY_SCHEMA = fileURLToPath(new URL('../fixtures/schemas/any.json', import.meta.url))

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

/** A configuration file as a user writes it: channel name -> stream. */
function configFile (t: Test, channels: Record<string, string>): string {
  const dir = t.testdir({})
  const file = join(dir, 'kinesis-gateway.yaml')
  const entries = Object.fromEntries(Object.entries(channels).map(([name, stream]) => [name, { stream, schema: ANY_SCHEMA }]))
  writeFileSync(file, stringify({ channels: entries }))
  return file
}

interface Envelope { event_id: string, channel: string, data: Record<string, unknown> }

function sortedLines (text: string): string[] {
  return text.split(/(?<=\n)/).filter((l) => l !== '').sort()
}

t.test('tail --once --from-start prints exactly the records the real gateway wrote, across shards', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { clicks: { stream } }, extra: { kinesis: { shards: 3 } } })
  const sent = [{ one: 1 }, ...Array.from({ length: 40 }, (_, i) => ({ n: i, text: `event ${i} ü €` })), { nd: 1 }, { nd: 2 }]
  const ids: string[] = []
  for (const body of [JSON.stringify(sent[0]), JSON.stringify(sent.slice(1, 41))]) {
    const res = await post(`${gw.url}/v1/clicks`, body)
    t.equal(res.status, 200)
    ids.push(...(res.json.events as Array<{ id: string }>).map((e) => e.id))
  }
  const nd = await post(`${gw.url}/v1/clicks`, '{"nd":1}\n{"nd":2}\n', { 'content-type': 'application/x-ndjson' })
  ids.push(...(nd.json.events as Array<{ id: string }>).map((e) => e.id))

  const file = configFile(t, { clicks: stream })
  const run = await runCli(['tail', 'clicks', '--once', '--from-start'], { env: { GATEWAY_CONFIG: file, KINESIS_ENDPOINT: kinesis.endpoint } })
  t.equal(run.code, 0, run.stderr)
  t.match(run.stderr, new RegExp(`reading stream ${stream} \\(channel clicks\\).*3 shards, from the start`))

  const stored = await readAllRecords(reader, stream)
  t.equal(stored.length, 43)
  t.same(sortedLines(run.stdout), stored.map((r) => r.text).sort(), 'stdout is the stored record data, one record per line, nothing else')
  const envelopes = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Envelope)
  t.same(envelopes.map((e) => e.event_id).sort(), [...ids].sort(), 'every acknowledged event is printed once')
  const byId = new Map(envelopes.map((e) => [e.event_id, e.data]))
  ids.forEach((id, i) => { t.same(byId.get(id), sent[i]) })

  // A stream name works as well as a channel name; --limit stops early; --raw writes the bytes as stored.
  const limited = await runCli(['tail', stream, '--once', '--from-start', '--limit', '5', '--raw'], { env: { GATEWAY_CONFIG: file, KINESIS_ENDPOINT: kinesis.endpoint } })
  t.equal(limited.code, 0, limited.stderr)
  t.equal(limited.stdout.split('\n').length - 1, 5)
  t.ok(sortedLines(limited.stdout).every((l) => stored.some((r) => r.text === l)))

  // Without --from-start only new records are read: with --once, nothing.
  const latest = await runCli(['tail', 'clicks', '--once'], { env: { GATEWAY_CONFIG: file, KINESIS_ENDPOINT: kinesis.endpoint } })
  t.equal(latest.code, 0)
  t.equal(latest.stdout, '')
})

t.test('an aggregated channel (aggregate: true): one JSON line per event; --raw keeps the KPL bytes; --limit counts events', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { agg: { stream, aggregate: true } } })
  const sent = Array.from({ length: 120 }, (_, i) => ({ i, text: `event ${i} ü €` }))
  const res = await post(`${gw.url}/v1/agg`, JSON.stringify(sent))
  t.equal(res.status, 200)
  const stored = await readAllRecords(reader, stream)
  t.ok(stored.length < sent.length, `the events are packed: ${stored.length} Kinesis records for ${sent.length} events`)

  const file = configFile(t, { agg: stream })
  const env = { GATEWAY_CONFIG: file, KINESIS_ENDPOINT: kinesis.endpoint }
  const run = await runCli(['tail', 'agg', '--once', '--from-start'], { env })
  t.equal(run.code, 0, run.stderr)
  const lines = run.stdout.split(/(?<=\n)/).filter((l) => l !== '')
  t.equal(lines.length, sent.length, 'one line per event, not per Kinesis record')
  const envelopes = lines.map((l) => JSON.parse(l) as Envelope)
  t.same(envelopes.map((e) => e.data), sent, 'each line is the event\'s envelope, in order')
  t.same(envelopes.map((e) => e.event_id), (res.json.events as Array<{ id: string }>).map((e) => e.id))
  t.notMatch(run.stdout, /\uFFFD/, 'no binary')

  const raw = await runCli(['tail', 'agg', '--once', '--from-start', '--raw'], { env })
  t.equal(raw.code, 0, raw.stderr)
  t.match(raw.stdout, /\uFFFD/, '--raw writes the stored bytes (the KPL magic is not UTF-8)')

  const limited = await runCli(['tail', 'agg', '--once', '--from-start', '--limit', '7'], { env })
  t.equal(limited.code, 0, limited.stderr)
  t.same(limited.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as Envelope).data), sent.slice(0, 7), '--limit 7: the first seven events')
})

t.test('--endpoint overrides the configured target; records without a trailing newline get one', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { raw: { stream, record: 'raw' } } })
  t.equal((await post(`${gw.url}/v1/raw`, '[{"a":1},{"a":2}]')).status, 200)
  // The configuration names no endpoint (embedded mode on a port where nothing listens).
  const file = configFile(t, { raw: stream })
  const run = await runCli(['tail', 'raw', '--once', '--from-start', '--endpoint', kinesis.endpoint],
    { env: { GATEWAY_CONFIG: file, KINESIS_LOCAL_PORT: String(await freePort()) } })
  t.equal(run.code, 0, run.stderr)
  t.same(sortedLines(run.stdout), ['{"a":1}\n', '{"a":2}\n'])
})

t.test('after a reshard, the closed parent is read to its end and then its children', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream } } })
  const before = await post(`${gw.url}/v1/events`, JSON.stringify(Array.from({ length: 10 }, (_, i) => ({ phase: 'before', i }))))
  t.equal(before.status, 200)
  const parent = (await reader.send(new ListShardsCommand({ StreamName: stream }))).Shards?.[0]
  await reader.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: parent?.ShardId, NewStartingHashKey: (2n ** 127n).toString() }))
  let after
  for (let attempt = 0; attempt < 50; attempt++) {
    after = await post(`${gw.url}/v1/events`, JSON.stringify(Array.from({ length: 10 }, (_, i) => ({ phase: 'after', i }))))
    if (after.status === 200) break
    await new Promise((resolve) => setTimeout(resolve, 100)) // the stream is UPDATING for a moment
  }
  t.equal(after?.status, 200)
  const shards = (await reader.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? []
  t.equal(shards.length, 3, 'one closed parent, two children')

  const file = configFile(t, { events: stream })
  const run = await runCli(['tail', 'events', '--once', '--from-start'], { env: { GATEWAY_CONFIG: file, KINESIS_ENDPOINT: kinesis.endpoint } })
  t.equal(run.code, 0, run.stderr)
  t.match(run.stderr, /1 shard,/, 'starts at the parent only')
  const data = run.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as Envelope).data)
  t.equal(data.length, 20)
  t.same(data.slice(0, 10).map((d) => d.phase), Array(10).fill('before'), 'the parent first')
  t.same(data.slice(10).map((d) => d.phase), Array(10).fill('after'), 'then the children')
})

t.test('following: new records appear as they are written; SIGINT ends it cleanly', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { live: { stream } } })
  t.equal((await post(`${gw.url}/v1/live`, '{"old":true}')).status, 200)
  const file = configFile(t, { live: stream })
  const child = spawnCli(['tail', 'live'], { env: { GATEWAY_CONFIG: file, KINESIS_ENDPOINT: kinesis.endpoint } })
  const done = collect(child, 30_000)
  let stdout = ''
  child.stdout?.on('data', (s: string) => { stdout += s })
  await new Promise<void>((resolve) => {
    let stderr = ''
    child.stderr?.on('data', (s: string) => { stderr += s; if (stderr.includes('Ctrl-C to stop')) resolve() })
    child.once('close', () => resolve())
  })
  const res = await post(`${gw.url}/v1/live`, '[{"new":1},{"new":2}]')
  t.equal(res.status, 200)
  const until = Date.now() + 15_000
  while (stdout.split('\n').length < 3 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100))
  child.kill('SIGINT')
  const run = await done
  t.equal(run.code, 0, 'exit code 0 after Ctrl-C')
  const data = run.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as Envelope).data)
  t.same(data, [{ new: 1 }, { new: 2 }], 'only records written after the start, in order')
})

t.test('friendly errors: nothing listening, missing stream', async (t) => {
  const file = configFile(t, { events: 'events' })
  const embedded = await runCli(['tail', 'events', '--once'], { env: { GATEWAY_CONFIG: file, KINESIS_LOCAL_PORT: String(await freePort()) } })
  t.equal(embedded.code, 1)
  t.match(embedded.stderr, /cannot reach the embedded development server at http:\/\/127\.0\.0\.1:\d+ \(none of KINESIS_MODE, KINESIS_ENDPOINT, AWS_REGION, AWS_DEFAULT_REGION is set\): ECONNREFUSED\. is `npm start` running\?/)
  t.notMatch(embedded.stderr, /\n\s+at /, 'no stack trace')

  const endpoint = await runCli(['tail', 'events', '--once'], { env: { GATEWAY_CONFIG: file, KINESIS_ENDPOINT: `http://127.0.0.1:${await freePort()}` } })
  t.equal(endpoint.code, 1)
  t.match(endpoint.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+ \(chosen by KINESIS_ENDPOINT=http:\/\/127\.0\.0\.1:\d+\): ECONNREFUSED/)

  const missing = await runCli(['tail', 'no-such-stream', '--once'], { env: { GATEWAY_CONFIG: file, KINESIS_ENDPOINT: kinesis.endpoint } })
  t.equal(missing.code, 1)
  t.match(missing.stderr, /stream no-such-stream does not exist .*Configured channels: events -> events/)

  const usage = await runCli(['tail', '--limit', 'x', 'events'], { env: { GATEWAY_CONFIG: file } })
  t.equal(usage.code, 2)
  t.match(usage.stderr, /--limit must be a positive integer/)
})

t.test('tail --quarantine reads what the channel refused, with the errors', async (t) => {
  const stream = uniqueStream()
  const quarantine = uniqueStream('quarantine')
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { orders: { stream, quarantine, schema: 'schemas/order.json', invalid: 'partial' } } })
  const res = await post(`${gw.url}/v1/orders`, JSON.stringify([{ order_id: 'ok', user_id: 'u', amount: 1 }, { order_id: 'bad' }]))
  t.equal(res.status, 207)
  const dir = t.testdir({})
  const file = join(dir, 'kinesis-gateway.yaml')
  writeFileSync(file, stringify({ channels: { orders: { stream, quarantine, schema: ANY_SCHEMA } } }))
  let run = await runCli(['tail', 'orders', '--quarantine', '--once', '--from-start'], { env: { GATEWAY_CONFIG: file, KINESIS_ENDPOINT: kinesis.endpoint } })
  for (let i = 0; i < 50 && run.stdout === ''; i++) {
    // The quarantine record is queued without a deadline: read again until it is there.
    run = await runCli(['tail', 'orders', '--quarantine', '--once', '--from-start'], { env: { GATEWAY_CONFIG: file, KINESIS_ENDPOINT: kinesis.endpoint } })
  }
  t.equal(run.code, 0, run.stderr)
  t.match(run.stderr, new RegExp(`stream ${quarantine} \\(quarantine of channel orders\\)`))
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  t.equal(lines.length, 1)
  t.match(lines[0], { channel: 'orders', reason: 'schema', event: { order_id: 'bad' }, errors: [{ pointer: '/user_id', reason: 'is required' }] })
  const none = await runCli(['tail', 'nope', '--quarantine', '--once'], { env: { GATEWAY_CONFIG: file, KINESIS_ENDPOINT: kinesis.endpoint } })
  t.equal(none.code, 2)
  t.match(none.stderr, /--quarantine takes a channel name/)
})
