import type { PutRecordsResultEntry } from '@aws-sdk/client-kinesis'
import t from 'tap'
import { parseConfig } from '../../src/config/load-config.js'
import { createKinesisClient } from '../../src/kinesis/kinesis-client.js'
import { realSender } from '../helpers/real-sender.js'
import type { PutRecordsSender } from '../../src/kinesis/sink.js'
import { PUT_PAYLOAD_UNIT_BYTES } from '../../src/ops/metrics.js'
import { post, startGateway, testConfig, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { metricValue, scrape } from '../helpers/metrics-text.js'
import { readAllRecords, testKinesisClient, waitForRecords } from '../helpers/stream-reader.js'

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

const P = 'kinesis_gateway_'

t.test('counters move by exactly the traffic sent: requests, events, records, shards, payload units', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream }, orders: { stream: uniqueStream(), schema: 'schemas/order.json' }, small: { stream: uniqueStream(), maxEventsPerRequest: 2 } },
    extra: { kinesis: { shards: 2 } }
  })
  const url = `${gw.url}/v1/events`
  t.equal((await post(url, '{"a":1}')).status, 200)
  t.equal((await post(url, JSON.stringify([{ b: 1 }, { b: 2 }, { b: 3 }]))).status, 200)
  t.equal((await post(url, '{"c":1}\n{"c":2}\n', { 'content-type': 'application/x-ndjson' })).status, 200)
  // About 60 KB: three PUT payload units for one record.
  t.equal((await post(url, JSON.stringify({ big: 'x'.repeat(60_000) }))).status, 200)
  // Refused: a schema failure (4 events), a body that does not parse, an unknown channel.
  const bad = await post(`${gw.url}/v1/orders`, JSON.stringify([{ order_id: 'o' }, { order_id: 'p', user_id: 'u', amount: 1 }, {}, {}]))
  t.equal(bad.status, 400)
  t.equal((await post(url, '{"broken"')).status, 400)
  t.equal((await post(`${gw.url}/v1/nope-${Date.now()}`, '{}')).status, 404)
  t.equal((await post(`${gw.url}/v1/small`, '[{},{},{}]')).status, 413)

  const records = await waitForRecords(reader, stream, 7)
  t.equal(records.length, 7)
  const m = await scrape(`${gw.url}/metrics`)

  t.equal(metricValue(m, P + 'http_requests_total', { route: '/v1/:channel', channel: 'events', status: '200' }), 4)
  t.equal(metricValue(m, P + 'http_requests_total', { channel: 'events', status: '400' }), 1)
  t.equal(metricValue(m, P + 'http_requests_total', { channel: 'orders', status: '400' }), 1)
  t.equal(metricValue(m, P + 'http_requests_total', { route: '/v1/:channel', channel: '', status: '404' }), 1,
    'an unknown channel is not a label value (clients cannot create series)')
  t.notOk(m.some((s) => (s.labels.channel ?? '').startsWith('nope-')))

  t.equal(metricValue(m, P + 'events_accepted_total', { channel: 'events' }), 7)
  t.equal(metricValue(m, P + 'events_accepted_total', { channel: 'orders' }), 0)
  t.equal(metricValue(m, P + 'events_rejected_total', { channel: 'orders', reason: 'GW_ERR_INVALID_EVENTS' }), 4, 'the whole atomic batch is rejected')
  t.equal(metricValue(m, P + 'requests_rejected_total', { channel: 'orders', reason: 'GW_ERR_INVALID_EVENTS' }), 1)
  t.equal(metricValue(m, P + 'requests_rejected_total', { channel: 'events', reason: 'GW_ERR_MALFORMED_BODY' }), 1)
  t.equal(metricValue(m, P + 'events_rejected_total', { channel: 'events' }), 0, 'a body that never parsed has no events to count')
  t.equal(metricValue(m, P + 'events_rejected_total', { channel: 'small', reason: 'GW_ERR_TOO_MANY_EVENTS' }), 3)

  t.equal(metricValue(m, P + 'records_sent_total', { stream }), 7)
  t.equal(metricValue(m, P + 'putrecords_batch_records_sum', { stream }), 7)
  t.ok(metricValue(m, P + 'putrecords_batch_records_count', { stream }) >= 1)
  t.ok(metricValue(m, P + 'putrecords_duration_seconds_count', { stream }) >= 1)
  t.equal(metricValue(m, P + 'ack_duration_seconds_count', { channel: 'events' }), 4, 'one receipt-to-ack time per acknowledged request')

  // Per shard, and the billed units, computed from what GetRecords returns.
  const perShard = new Map<string, number>()
  let units = 0
  let bytes = 0
  for (const r of records) {
    perShard.set(r.shardId, (perShard.get(r.shardId) ?? 0) + 1)
    const size = Buffer.byteLength(r.text) + Buffer.byteLength(r.partitionKey)
    bytes += size
    units += Math.ceil(size / PUT_PAYLOAD_UNIT_BYTES)
  }
  for (const [shard, n] of perShard) t.equal(metricValue(m, P + 'shard_records_total', { stream, shard }), n, `records of ${shard}`)
  t.equal(metricValue(m, P + 'shard_records_total', { stream }), 7)
  t.equal(metricValue(m, P + 'put_payload_bytes_total', { stream }), bytes)
  t.equal(metricValue(m, P + 'put_payload_units_total', { stream }), units)
  t.equal(units, 6 + 3, 'six small records of one unit, one of three')

  t.equal(metricValue(m, P + 'buffer_bytes', { stream }), 0, 'nothing held once everything is acknowledged')
  t.equal(metricValue(m, P + 'buffer_queued_records', { stream }), 0)
  t.ok(m.some((s) => s.name === P + 'buffer_bytes' && s.labels.stream === stream), 'the buffer gauge has a series per stream')
  t.equal(metricValue(m, P + 'info', { version: gw.app.gateway.version }), 1)
  t.ok(m.some((s) => s.name === 'process_cpu_user_seconds_total'), 'process metrics are there too')

  gw.app.gateway.metrics.throttled('events')
  gw.app.gateway.metrics.throttled()
  const after = await scrape(`${gw.url}/metrics`)
  t.equal(metricValue(after, P + 'requests_throttled_total', { channel: 'events' }), 1)
  t.equal(metricValue(after, P + 'requests_throttled_total'), 2)
  t.equal(metricValue(after, P + 'http_requests_total', { route: '/metrics', status: '200' }), 1, 'the first scrape was counted')
})

t.test('retried, failed and duplicate records are counted by stream and Kinesis error code', async (t) => {
  // The real sender, to kinesalite; the first call of each stream answers as Kinesis does when throttled,
  // and every call for the "denied" stream answers with a per-record error that is not retried.
  const kinesisConfig = testConfig({ endpoint: kinesis.endpoint, channels: { x: { stream: 'x' } } }).kinesis
  const client = createKinesisClient(kinesisConfig, { maxAttempts: 1 })
  t.teardown(() => client.destroy())
  const real = realSender(kinesisConfig, client)
  const throttledOnce = new Set<string>()
  const denied = uniqueStream('denied')
  const send: PutRecordsSender = async (s, records) => {
    if (s === denied) return records.map((): PutRecordsResultEntry => ({ ErrorCode: 'AccessDeniedException', ErrorMessage: 'denied by the test' }))
    if (!throttledOnce.has(s)) {
      throttledOnce.add(s)
      return records.map((): PutRecordsResultEntry => ({ ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' }))
    }
    return await real(s, records)
  }
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream }, locked: { stream: denied } },
    extra: { delivery: { retryBaseMs: 5, retryMaxMs: 20 } },
    build: { send }
  })
  const ok = await post(`${gw.url}/v1/events`, JSON.stringify([{ n: 1 }, { n: 2 }, { n: 3 }]))
  t.equal(ok.status, 200, 'throttled once, then written')
  t.equal((await readAllRecords(reader, stream)).length, 3)
  const no = await post(`${gw.url}/v1/locked`, JSON.stringify([{ n: 1 }, { n: 2 }]))
  t.equal(no.status, 503)
  t.equal(no.json.code, 'GW_ERR_NOT_DELIVERED')

  const m = await scrape(`${gw.url}/metrics`)
  t.equal(metricValue(m, P + 'records_retried_total', { stream, error_code: 'ProvisionedThroughputExceededException' }), 3)
  t.equal(metricValue(m, P + 'records_sent_total', { stream }), 3)
  t.equal(metricValue(m, P + 'records_failed_total', { stream }), 0)
  t.equal(metricValue(m, P + 'records_failed_total', { stream: denied, error_code: 'AccessDeniedException' }), 2)
  t.equal(metricValue(m, P + 'records_sent_total', { stream: denied }), 0)
  t.equal(metricValue(m, P + 'put_payload_units_total', { stream: denied }), 0, 'records not written cost nothing')
  t.equal(metricValue(m, P + 'events_accepted_total', { channel: 'events' }), 3)
  t.equal(metricValue(m, P + 'events_rejected_total', { channel: 'locked', reason: 'GW_ERR_NOT_DELIVERED' }), 2)
  t.equal(metricValue(m, P + 'putrecords_batch_records_sum', { stream }), 6, 'two calls of three records: the throttled one and the retry')
})

t.test('a PutRecords call whose answer is lost counts possible duplicates', async (t) => {
  let calls = 0
  const kinesisConfig = testConfig({ endpoint: kinesis.endpoint, channels: { x: { stream: 'x' } } }).kinesis
  const client = createKinesisClient(kinesisConfig, { maxAttempts: 1 })
  t.teardown(() => client.destroy())
  const real = realSender(kinesisConfig, client)
  const send: PutRecordsSender = async (s, records) => {
    const entries = await real(s, records)
    // The records are written, then the connection drops before the answer arrives.
    if (calls++ === 0) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
    return entries
  }
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream } }, extra: { delivery: { retryBaseMs: 5, retryMaxMs: 20 } }, build: { send } })
  t.equal((await post(`${gw.url}/v1/events`, JSON.stringify([{ n: 1 }, { n: 2 }]))).status, 200)
  t.equal((await readAllRecords(reader, stream)).length, 4, 'the records are in the stream twice, as counted')
  const m = await scrape(`${gw.url}/metrics`)
  t.equal(metricValue(m, P + 'records_possible_duplicates_total', { stream }), 2)
  t.equal(metricValue(m, P + 'putrecords_errors_total', { stream, error_code: 'ECONNRESET', retryable: 'true' }), 1)
  t.equal(metricValue(m, P + 'records_sent_total', { stream }), 2, 'records_sent counts answered writes only')
})

t.test('metrics.port: /metrics moves to its own listener and leaves the public one', async (t) => {
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream: uniqueStream() } }, extra: { metrics: { port: 0, host: '127.0.0.1' } } })
  const where = gw.app.gateway.metricsEndpoint.where()
  t.match(where, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.not(where, gw.url)
  const publicRes = await fetch(`${gw.url}/metrics`)
  t.equal(publicRes.status, 404, 'no /metrics on the public listener')
  t.equal((await publicRes.json() as { code: string }).code, 'GW_ERR_ROUTE_NOT_FOUND')
  t.equal((await post(`${gw.url}/v1/events`, '{"a":1}')).status, 200)
  const res = await fetch(`${where}/metrics`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/plain/)
  const m = await scrape(`${where}/metrics`)
  t.equal(metricValue(m, P + 'events_accepted_total', { channel: 'events' }), 1)
  await gw.app.close()
  await t.rejects(fetch(`${where}/metrics`), 'the metrics listener closes with the gateway')
})

t.test('METRICS_PORT listens on the host the docs say: metrics.host, else the server\'s HOST', async (t) => {
  const viaHost = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream: uniqueStream() } }, env: { METRICS_PORT: '0', HOST: '127.0.0.1' } })
  t.equal(viaHost.config.metrics.host, '127.0.0.1', 'HOST, when metrics.host is not set')
  t.match(viaHost.app.gateway.metricsEndpoint.where(), /^http:\/\/127\.0\.0\.1:\d+$/, 'bound there')
  const yaml = 'channels:\n  events: { stream: events, schema: schemas/any.json }\n'
  t.equal(parseConfig(yaml, '/srv/gw.yaml', { METRICS_PORT: '9464' }).metrics.host, '0.0.0.0', 'neither set: 0.0.0.0, as the server')
  t.equal(parseConfig('metrics: { host: 10.0.0.12 }\n' + yaml, '/srv/gw.yaml', { METRICS_PORT: '9464', HOST: '127.0.0.1' }).metrics.host, '10.0.0.12', 'metrics.host wins')
})

t.test('without metrics.port, /metrics is on the public listener', async (t) => {
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream: uniqueStream() } } })
  t.equal(gw.app.gateway.metricsEndpoint.where(), 'public')
  const res = await fetch(`${gw.url}/metrics`)
  t.equal(res.status, 200)
  t.match(await res.text(), /# TYPE kinesis_gateway_http_requests_total counter/)
})
