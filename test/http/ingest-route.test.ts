import { gzipSync } from 'node:zlib'
import t from 'tap'
import { startGateway, post, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { testKinesisClient, waitForRecords, readAllRecords } from '../helpers/stream-reader.js'

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

interface Envelope { event_id: string, received_at: string, channel: string, source_ip: string, user_agent: string | null, data: Record<string, unknown> }

t.test('a single event is acknowledged with shard and sequence number, and lands as an envelope line', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream } } })
  const res = await post(`${gw.url}/v1/events`, '{"key1":"value1", "key2":"value2"}', { 'content-type': 'application/json', 'user-agent': 'tap-test/1' })
  t.equal(res.status, 200)
  const events = res.json.events as Array<{ id: string, shardId: string, sequenceNumber: string }>
  t.equal(res.json.accepted, 1)
  t.equal(events.length, 1)

  const records = await waitForRecords(reader, stream, 1)
  t.equal(records.length, 1)
  const record = records[0]!
  t.ok(record.text.endsWith('\n'), 'each record is one JSON line')
  t.equal(record.text.indexOf('\n'), record.text.length - 1, 'exactly one newline, at the end')
  const envelope = JSON.parse(record.text) as Envelope
  t.same(envelope.data, { key1: 'value1', key2: 'value2' })
  t.equal(envelope.event_id, events[0]!.id)
  t.equal(envelope.channel, 'events')
  t.equal(envelope.source_ip, '127.0.0.1')
  t.equal(envelope.user_agent, 'tap-test/1')
  t.ok(Math.abs(Date.parse(envelope.received_at) - Date.now()) < 60_000, 'received_at is the receive time')
  t.equal(record.sequenceNumber, events[0]!.sequenceNumber)
  t.equal(record.shardId, events[0]!.shardId)
  t.equal(record.partitionKey, events[0]!.id, 'random partition key is the event id')
})

t.test('a JSON array is a batch: every event is written, in order, each with its own id', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream } } })
  const batch = Array.from({ length: 250 }, (_, i) => ({ n: i, text: `event ${i}` }))
  const res = await post(`${gw.url}/v1/events`, JSON.stringify(batch))
  t.equal(res.status, 200)
  t.equal(res.json.accepted, 250)
  const ids = (res.json.events as Array<{ id: string }>).map((e) => e.id)
  t.equal(new Set(ids).size, 250, 'ids are unique')
  const records = await waitForRecords(reader, stream, 250)
  const byId = new Map(records.map((r) => { const e = JSON.parse(r.text) as Envelope; return [e.event_id, e.data] }))
  t.equal(records.length, 250)
  ids.forEach((id, i) => { t.same(byId.get(id), batch[i], `event ${i} stored under its id`) })
})

t.test('NDJSON and gzip bodies', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream } } })
  const ndjson = '{"line":1}\n\n{"line":2}\r\n{"line":3}'
  const res = await post(`${gw.url}/v1/events`, ndjson, { 'content-type': 'application/x-ndjson' })
  t.equal(res.status, 200)
  t.equal(res.json.accepted, 3)

  const gz = await post(`${gw.url}/v1/events`, gzipSync('[{"zipped":1},{"zipped":2}]'), { 'content-type': 'application/json', 'content-encoding': 'gzip' })
  t.equal(gz.status, 200)
  t.equal(gz.json.accepted, 2)

  const gzNd = await post(`${gw.url}/v1/events`, gzipSync('{"zipnd":1}\n{"zipnd":2}\n'), { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' })
  t.equal(gzNd.status, 200)

  const records = await waitForRecords(reader, stream, 7)
  const data = records.map((r) => (JSON.parse(r.text) as Envelope).data)
  t.same(data.filter((d) => 'line' in d).map((d) => d.line).sort(), [1, 2, 3])
  t.same(data.filter((d) => 'zipped' in d).map((d) => d.zipped).sort(), [1, 2])
  t.same(data.filter((d) => 'zipnd' in d).map((d) => d.zipnd).sort(), [1, 2])
})

t.test('partition keys: JSON pointer, header, fallback to random', async (t) => {
  const streams = { ptr: uniqueStream(), hdr: uniqueStream() }
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: {
      byuser: { stream: streams.ptr, partitionKey: '/user/id' },
      bytenant: { stream: streams.hdr, partitionKey: 'header:X-Tenant' }
    }
  })
  const res = await post(`${gw.url}/v1/byuser`, JSON.stringify([{ user: { id: 'u-1' } }, { user: { id: 42 } }, { other: true }]))
  t.equal(res.status, 200)
  const ids = (res.json.events as Array<{ id: string }>).map((e) => e.id)
  const ptrRecords = await waitForRecords(reader, streams.ptr, 3)
  const keyOf = new Map(ptrRecords.map((r) => [(JSON.parse(r.text) as Envelope).event_id, r.partitionKey]))
  t.equal(keyOf.get(ids[0]!), 'u-1')
  t.equal(keyOf.get(ids[1]!), '42', 'numbers become strings')
  t.equal(keyOf.get(ids[2]!), ids[2], 'missing pointer target falls back to the event id')

  const bad = await post(`${gw.url}/v1/byuser`, JSON.stringify([{ user: { id: 'ok' } }, { user: { id: { nested: 1 } } }, { user: { id: 'x'.repeat(257) } }]))
  t.equal(bad.status, 400)
  t.equal(bad.json.code, 'GW_ERR_INVALID_PARTITION_KEY')
  t.same((bad.json.errors as Array<{ index: number, pointer: string }>).map((e) => [e.index, e.pointer]), [[1, '/user/id'], [2, '/user/id']])

  const hdr = await post(`${gw.url}/v1/bytenant`, '{"a":1}', { 'content-type': 'application/json', 'x-tenant': 'acme' })
  t.equal(hdr.status, 200)
  const hdrRecords = await waitForRecords(reader, streams.hdr, 1)
  t.equal(hdrRecords[0]!.partitionKey, 'acme')
  const total = (await readAllRecords(reader, streams.ptr)).length
  t.equal(total, 3, 'the rejected batch wrote nothing')
})

t.test('raw record format writes the event as sent, one line', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { rawch: { stream, record: 'raw' } } })
  const res = await post(`${gw.url}/v1/rawch`, '{"x":1,"y":"two"}')
  t.equal(res.status, 200)
  const records = await waitForRecords(reader, stream, 1)
  t.equal(records[0]!.text, '{"x":1,"y":"two"}\n')
})

t.test('schema validation: a batch is atomic and every failing event is listed with pointer and reason', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { orders: { stream, schema: 'schemas/order.json' } } })
  const good = { order_id: 'o1', user_id: 'u1', amount: 10, currency: 'EUR', at: '2026-11-25T10:00:00Z' }
  const res = await post(`${gw.url}/v1/orders`, JSON.stringify([
    good,
    { order_id: 'o2', amount: -1 },
    good,
    { ...good, currency: 'JPY', extra: 1 },
    'not an object',
    { ...good, at: 'yesterday' }
  ]))
  t.equal(res.status, 400)
  t.match(res.headers.get('content-type'), /^application\/problem\+json/)
  t.equal(res.json.code, 'GW_ERR_INVALID_EVENTS')
  t.equal(res.json.status, 400)
  t.equal(res.json.type, 'urn:kinesis-gateway:problem:invalid-events')
  const errors = res.json.errors as Array<{ index: number, pointer: string, reason: string }>
  const pairs = errors.map((e) => `${e.index}:${e.pointer}`).sort()
  t.same(pairs, ['1:/amount', '1:/user_id', '3:/currency', '3:/extra', '4:', '5:/at'].sort())
  t.ok(errors.every((e) => e.reason.length > 0), 'every error has a reason')
  t.equal((await readAllRecords(reader, stream)).length, 0, 'nothing of the batch was written')

  const ok = await post(`${gw.url}/v1/orders`, JSON.stringify(good))
  t.equal(ok.status, 200, 'a valid event (with a $ref to shared definitions) passes')
})
