import { gzipSync } from 'node:zlib'
import t from 'tap'
import { post, startGateway, uniqueStream } from '../helpers/gateway.js'
import { startKinesisLocal } from '../helpers/kinesis-servers.js'
import { testKinesisClient, waitForRecords, type ReadRecord } from '../helpers/stream-reader.js'

/**
 * End to end against a second, independent Kinesis implementation: kinesis-local (the
 * kinesis-mock engine LocalStack uses). The real app, real HTTP, the real SDK both ways.
 * Kept small: kinesis-local is slow.
 */

interface Envelope { event_id: string, received_at: string, channel: string, source_ip: string, user_agent: string | null, data: Record<string, unknown> }
interface Accepted { id: string, shardId: string, sequenceNumber: string }

const preexisting = uniqueStream('kl')
const kinesis = await startKinesisLocal([preexisting], 2)
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

t.test('single, batch, NDJSON and gzip through the real app into kinesis-local, read back with GetRecords', async (t) => {
  // One stream made by kinesis-local at start (2 shards), one created by the gateway itself.
  const created = uniqueStream('kl')
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: {
      events: { stream: preexisting, partitionKey: '/user' },
      rawch: { stream: created, record: 'raw' }
    }
  })
  const sent: Array<{ data: Record<string, unknown>, ack: Accepted, ua: string }> = []
  const keep = (body: Record<string, unknown>, data: Array<Record<string, unknown>>, ua: string): void => {
    const acks = body.events as Accepted[]
    data.forEach((d, i) => { sent.push({ data: d, ack: acks[i] as Accepted, ua }) })
  }

  const single = { key1: 'value1', key2: 'value2', user: 'u-single' }
  const one = await post(`${gw.url}/v1/events`, JSON.stringify(single), { 'content-type': 'application/json', 'user-agent': 'kl-single/1' })
  t.equal(one.status, 200, 'single event accepted')
  keep(one.json, [single], 'kl-single/1')

  const batch = Array.from({ length: 5 }, (_, i) => ({ n: i, user: `u-${i % 2}` }))
  const many = await post(`${gw.url}/v1/events`, JSON.stringify(batch), { 'content-type': 'application/json', 'user-agent': 'kl-batch/1' })
  t.equal(many.status, 200, 'batch accepted')
  t.equal(many.json.accepted, 5)
  keep(many.json, batch, 'kl-batch/1')

  const lines = [{ line: 1, user: 'u-nd' }, { line: 2, user: 'u-nd' }, { line: 3, user: 'u-nd' }]
  const nd = await post(`${gw.url}/v1/events`, lines.map((l) => JSON.stringify(l)).join('\n') + '\n',
    { 'content-type': 'application/x-ndjson', 'user-agent': 'kl-ndjson/1' })
  t.equal(nd.status, 200, 'NDJSON accepted')
  keep(nd.json, lines, 'kl-ndjson/1')

  const records = await waitForRecords(reader, preexisting, sent.length, 30_000)
  t.equal(records.length, sent.length, `${sent.length} records in the stream`)
  const bySeq = new Map<string, ReadRecord>(records.map((r) => [r.sequenceNumber, r]))
  for (const { data, ack, ua } of sent) {
    const record = bySeq.get(ack.sequenceNumber)
    t.ok(record, `the acknowledged sequence number ${ack.sequenceNumber} is in the stream`)
    if (record === undefined) continue
    t.equal(record.shardId, ack.shardId, 'on the acknowledged shard')
    t.equal(record.partitionKey, data.user, 'partition key from the /user pointer')
    t.ok(record.text.endsWith('}\n') && record.text.indexOf('\n') === record.text.length - 1, 'one JSON line')
    const envelope = JSON.parse(record.text) as Envelope
    t.equal(envelope.event_id, ack.id, 'event id as acknowledged')
    t.same(envelope.data, data, 'the event as sent')
    t.equal(envelope.channel, 'events')
    t.equal(envelope.source_ip, '127.0.0.1')
    t.equal(envelope.user_agent, ua)
    t.ok(Math.abs(Date.parse(envelope.received_at) - Date.now()) < 120_000, 'received_at is a recent ISO time')
  }

  // Raw records into the stream the gateway created, from a gzip body.
  const zipped = await post(`${gw.url}/v1/rawch`, gzipSync('[{"z":1},{"z":2,"s":"é ✓"}]'),
    { 'content-type': 'application/json', 'content-encoding': 'gzip' })
  t.equal(zipped.status, 200, 'gzip batch accepted')
  const raw = await waitForRecords(reader, created, 2, 30_000)
  t.same(raw.map((r) => r.text).sort(), ['{"z":1}\n', '{"z":2,"s":"é ✓"}\n'], 'raw events as sent, one line each, UTF-8 intact')
})
