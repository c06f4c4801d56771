import { setTimeout as sleep } from 'node:timers/promises'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { realSender } from '../helpers/real-sender.js'
import { post, startGateway, testConfig, uniqueStream, type TestChannel } from '../helpers/gateway.js'
import { startKinesalite, startKinesisLocal } from '../helpers/kinesis-servers.js'
import { metricValue, scrape } from '../helpers/metrics-text.js'
import { readAllRecords, testKinesisClient, waitForRecords, type ReadRecord } from '../helpers/stream-reader.js'
import { createKinesisClient } from '../../src/kinesis/kinesis-client.js'
import type { PutRecordsSender } from '../../src/kinesis/sink.js'

/** Issue 13, items 1 and 2: per-event outcomes (207) and the quarantine stream, against kinesalite. */
const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

const good = (n: number): Record<string, unknown> => ({ order_id: `o-${n}`, user_id: `u-${n}`, amount: n })
const P = 'kinesis_gateway_'

interface Result { index: number, status: number, event_id?: string, shard_id?: string, sequence_number?: string, errors?: Array<{ pointer: string, reason: string }>, quarantined?: boolean }
interface MultiStatus { accepted: number, rejected: number, quarantined?: number, results: Result[] }
interface Quarantined { channel: string, event_id: string, reason: string, client_id: string | null, received_at: string, errors: Array<{ pointer: string, reason: string }>, event?: unknown, text?: string }

/** Resolves once `check` holds, polling; fails after `ms`. */
async function eventually (check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!await check()) {
    if (Date.now() > end) throw new Error('condition not reached in time')
    await sleep(50)
  }
}

const json = (r: ReadRecord): Record<string, unknown> => JSON.parse(r.text) as Record<string, unknown>

function channels (extra: Record<string, unknown> = {}): { stream: string, quarantine: string, config: TestChannel } {
  const stream = uniqueStream()
  const quarantine = uniqueStream('quarantine')
  return { stream, quarantine, config: { stream, schema: 'schemas/order.json', invalid: 'partial', quarantine, ...extra } }
}

t.test('invalid: partial — a mixed batch: 207, valid events written, invalid ones quarantined as sent', async (t) => {
  const ch = channels()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { orders: ch.config } })
  // Event 1 is missing amount, event 3 has a wrong type; the spacing of event 3 is kept in quarantine.
  const body = `[${JSON.stringify(good(0))},{"order_id":"o-1","user_id":"u-1"},${JSON.stringify(good(2))},{"order_id": "o-3", "user_id":"u-3","amount":"many"}]`
  const res = await post(`${gw.url}/v1/orders`, body)
  t.equal(res.status, 207)
  const answer = res.json as unknown as MultiStatus
  t.equal(answer.accepted, 2)
  t.equal(answer.rejected, 2)
  t.equal(answer.quarantined, 2)
  t.same(answer.results.map((r) => r.status), [200, 400, 200, 400], 'one result per event, in request order')
  t.match(answer.results[0], { index: 0, event_id: /^[0-9a-f-]{36}$/, shard_id: /^shardId-/, sequence_number: /^\d+$/ })
  t.same(answer.results[1]?.errors, [{ pointer: '/amount', reason: 'is required' }])
  t.match(answer.results[3], { index: 3, status: 400, quarantined: true, errors: [{ pointer: '/amount' }] })

  const written = await waitForRecords(reader, ch.stream, 2)
  t.same(written.map((r) => (json(r).data as { order_id: string }).order_id).sort(), ['o-0', 'o-2'], 'the valid events, nothing else')
  t.same(written.map((r) => json(r).event_id).sort(), [answer.results[0]?.event_id, answer.results[2]?.event_id].sort())

  const kept = (await waitForRecords(reader, ch.quarantine, 2)).map((r) => json(r) as unknown as Quarantined)
  t.equal(kept.length, 2)
  const byId = new Map(kept.map((q) => [(q.event as { order_id: string }).order_id, q]))
  t.match(byId.get('o-1'), { channel: 'orders', reason: 'schema', client_id: null, errors: [{ pointer: '/amount', reason: 'is required' }], event: { order_id: 'o-1', user_id: 'u-1' } })
  t.match(byId.get('o-3')?.received_at, /^\d{4}-\d\d-\d\dT/)
  const raw = (await readAllRecords(reader, ch.quarantine)).find((r) => r.text.includes('"o-3"'))?.text ?? ''
  t.ok(raw.includes('"event":{"order_id": "o-3", "user_id":"u-3","amount":"many"}'), 'the event exactly as sent, spacing included')
  t.ok(raw.endsWith('}\n'), 'one newline-terminated JSON record')

  const m = await scrape(`${gw.url}/metrics`)
  t.equal(metricValue(m, P + 'events_quarantined_total', { channel: 'orders', reason: 'schema' }), 2)
  t.equal(metricValue(m, P + 'events_accepted_total', { channel: 'orders' }), 2)
})

t.test('invalid: partial — all valid is the usual 200, none valid the usual 400', async (t) => {
  const ch = channels()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { orders: ch.config } })
  const ok = await post(`${gw.url}/v1/orders`, JSON.stringify([good(1), good(2)]))
  t.equal(ok.status, 200)
  t.equal(ok.json.accepted, 2)
  const bad = await post(`${gw.url}/v1/orders`, JSON.stringify([{ order_id: 'x' }, { amount: -1 }]))
  t.equal(bad.status, 400)
  t.equal(bad.json.code, 'GW_ERR_INVALID_EVENTS')
  t.equal(bad.json.quarantined, 2, 'the problem says the events were quarantined')
  t.equal((await waitForRecords(reader, ch.quarantine, 2)).length, 2)
})

t.test('invalid: reject (default) with a quarantine: 400, nothing written, the invalid events kept', async (t) => {
  const ch = channels({ invalid: 'reject' })
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { orders: ch.config } })
  const res = await post(`${gw.url}/v1/orders`, JSON.stringify([good(1), { order_id: 'o-2', user_id: 'u-2', amount: 'x' }]))
  t.equal(res.status, 400)
  t.equal(res.json.code, 'GW_ERR_INVALID_EVENTS')
  t.equal(res.json.quarantined, 1)
  const kept = await waitForRecords(reader, ch.quarantine, 1)
  t.match(json(kept[0] as ReadRecord), { reason: 'schema', event: { order_id: 'o-2' } }, 'only the invalid event is quarantined')
  t.equal((await readAllRecords(reader, ch.stream)).length, 0, 'all or nothing: the valid event is not written')
})

t.test('NDJSON with a broken line, gzip, and a body that is not JSON at all', async (t) => {
  const ch = channels()
  const strict = channels({ invalid: 'reject' })
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { orders: ch.config, strict: strict.config } })
  const ndjson = `${JSON.stringify(good(1))}\n{"order_id": broken\n${JSON.stringify(good(3))}\n`
  const res = await post(`${gw.url}/v1/orders`, gzipSync(ndjson), { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' })
  t.equal(res.status, 207)
  const answer = res.json as unknown as MultiStatus
  t.same(answer.results.map((r) => r.status), [200, 400, 200])
  t.match(answer.results[1]?.errors?.[0]?.reason, /not valid JSON/)
  const kept = await waitForRecords(reader, ch.quarantine, 1)
  t.match(json(kept[0] as ReadRecord), { reason: 'malformed', text: '{"order_id": broken' }, 'the broken line is kept as text')
  t.equal((await waitForRecords(reader, ch.stream, 2)).length, 2)

  // Not JSON at all, on a reject channel: 400 as before, and the body is kept with its parse error.
  const notJson = await post(`${gw.url}/v1/strict`, 'this is { not json')
  t.equal(notJson.status, 400)
  t.equal(notJson.json.code, 'GW_ERR_MALFORMED_BODY')
  t.equal(notJson.json.quarantined, 1)
  const body = await waitForRecords(reader, strict.quarantine, 1)
  t.match(json(body[0] as ReadRecord), { channel: 'strict', reason: 'malformed', text: 'this is { not json', errors: [{ reason: /not valid JSON/ }] })
  const m = await scrape(`${gw.url}/metrics`)
  t.equal(metricValue(m, P + 'events_quarantined_total', { channel: 'strict', reason: 'malformed' }), 1)
})

t.test('an idempotent retry of a 207 replays it, and writes nothing again', async (t) => {
  const ch = channels()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { orders: ch.config } })
  const body = JSON.stringify([good(1), { order_id: 'bad' }])
  const headers = { 'content-type': 'application/json', 'idempotency-key': 'retry-207' }
  const first = await post(`${gw.url}/v1/orders`, body, headers)
  t.equal(first.status, 207)
  const again = await post(`${gw.url}/v1/orders`, body, headers)
  t.equal(again.status, 207)
  t.equal(again.headers.get('idempotent-replayed'), 'true')
  t.same(again.json, first.json, 'the stored answer, event ids included')
  await waitForRecords(reader, ch.stream, 1)
  await waitForRecords(reader, ch.quarantine, 1)
  t.equal((await readAllRecords(reader, ch.stream)).length, 1, 'the valid event is in the stream once')
  t.equal((await readAllRecords(reader, ch.quarantine)).length, 1, 'and the invalid one quarantined once')
})

t.test('a quarantine stream that cannot be written never holds valid events; its records are retried', async (t) => {
  const ch = channels({ ack: 'delivered' })
  const config = testConfig({ endpoint: kinesis.endpoint, channels: { orders: ch.config } })
  const client = createKinesisClient(config.kinesis, { maxAttempts: 1 })
  t.teardown(() => client.destroy())
  const real = realSender(config.kinesis, client)
  let quarantineDown = true
  // The real sender; calls to the quarantine stream fail as a Kinesis outage would, until healed.
  const send: PutRecordsSender = async (stream, records) => {
    if (stream === ch.quarantine && quarantineDown) throw Object.assign(new Error('injected: quarantine stream unavailable'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } })
    return await real(stream, records)
  }
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { orders: ch.config }, extra: { delivery: { retryBaseMs: 5, retryMaxMs: 20 } }, build: { send } })
  const res = await post(`${gw.url}/v1/orders`, JSON.stringify([good(1), { order_id: 'bad' }, good(3)]))
  t.equal(res.status, 207, 'answered while the quarantine is failing')
  t.equal((res.json as unknown as MultiStatus).accepted, 2)
  t.equal((await waitForRecords(reader, ch.stream, 2)).length, 2, 'valid events landed')
  await eventually(async () => metricValue(await scrape(`${gw.url}/metrics`), P + 'records_retried_total', { stream: ch.quarantine, error_code: 'ServiceUnavailable' }) >= 1)
  t.pass('the quarantine record is retried like any other (records_retried_total counts it)')
  quarantineDown = false
  const kept = await waitForRecords(reader, ch.quarantine, 1)
  t.match(json(kept[0] as ReadRecord), { event: { order_id: 'bad' } }, 'and written once the stream takes writes')
})

t.test('kinesis-local: the 207 path against a second Kinesis implementation', async (t) => {
  const stream = uniqueStream()
  const quarantine = uniqueStream('quarantine')
  const local = await startKinesisLocal([stream, quarantine])
  t.teardown(() => local.close())
  const localReader = testKinesisClient(local.endpoint)
  t.teardown(() => localReader.destroy())
  const gw = await startGateway(t, { endpoint: local.endpoint, channels: { orders: { stream, quarantine, schema: 'schemas/order.json', invalid: 'partial' } } })
  const res = await post(`${gw.url}/v1/orders`, JSON.stringify([good(1), { nope: true }]))
  t.equal(res.status, 207)
  t.match((res.json as unknown as MultiStatus).results, [{ status: 200, shard_id: /^shardId-/ }, { status: 400, quarantined: true }])
  t.equal((await waitForRecords(localReader, stream, 1, 30_000)).length, 1)
  t.match(json((await waitForRecords(localReader, quarantine, 1, 30_000))[0] as ReadRecord), { event: { nope: true } })
})
