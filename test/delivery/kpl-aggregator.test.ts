import { createRequire } from 'node:module'
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { aggregate, aggregatingSink } from '../../src/delivery/kpl-aggregator.js'
import { entriesOf, senderSink } from '../../src/kinesis/sink.js'
import type { OutgoingRecord } from '../../src/delivery/stream-producer.js'
import { startGateway, post, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { readAllRecords, testKinesisClient } from '../helpers/stream-reader.js'

// An independent implementation of the KPL format (protobufjs-based), used only to check ours.
interface UserRecord { partitionKey: string, sequenceNumber: string, subSequenceNumber: number, data: string }
type Deaggregate = (record: { partitionKey: string, sequenceNumber: string, data: string }, computeChecksums: boolean,
  done: (err: Error | null, records?: UserRecord[]) => void) => void
const { deaggregateSync } = createRequire(import.meta.url)('aws-kinesis-agg') as { deaggregateSync: Deaggregate }

/** De-aggregates one Kinesis record with aws-kinesis-agg, checking the MD5. */
function unpack (data: Uint8Array, partitionKey: string, sequenceNumber = '1'): Array<{ key: string, text: string }> {
  let out: UserRecord[] = []
  deaggregateSync({ partitionKey, sequenceNumber, data: Buffer.from(data).toString('base64') }, true, (err, records) => {
    if (err !== null && err !== undefined) throw err
    out = records ?? []
  })
  return out.map((r) => ({ key: r.partitionKey, text: Buffer.from(r.data, 'base64').toString('utf8') }))
}

function rec (text: string, partitionKey: string): OutgoingRecord {
  const data = Buffer.from(text)
  return { data, partitionKey, size: data.length + Buffer.byteLength(partitionKey) }
}

t.test('random keys: events pack into aggregates that aws-kinesis-agg unpacks, MD5 included', async (t) => {
  const records = Array.from({ length: 500 }, (_, i) => rec(JSON.stringify({ i, pad: 'x'.repeat(i % 300), u: 'ü€😀' }) + '\n', randomUUID()))
  const { records: packed, holder } = aggregate(records, { maxBytes: 25_000, maxEvents: 1000, mixKeys: true })
  t.ok(packed.length < 10, `500 events in ${packed.length} Kinesis records`)
  for (const p of packed) {
    t.ok(p.size <= 25_000, 'each aggregate within maxBytes')
    t.equal(p.size, p.data.byteLength + Buffer.byteLength(p.partitionKey))
    t.same([...p.data.subarray(0, 4)], [0xf3, 0x89, 0x9a, 0xc2], 'KPL magic number')
  }
  const unpacked = packed.flatMap((p) => unpack(p.data, p.partitionKey))
  t.same(unpacked, records.map((r) => ({ key: r.partitionKey, text: Buffer.from(r.data).toString('utf8') })), 'every event, in order, with its own key')
  t.same([...holder].slice(0, 3), [0, 0, 0])
})

t.test('keyed channels: an aggregate holds one partition key; maxEvents and lone records', async (t) => {
  const keys = ['a', 'b', 'c']
  const records = Array.from({ length: 60 }, (_, i) => rec(`{"n":${i}}\n`, keys[i % 3] as string))
  const { records: packed, holder } = aggregate(records, { maxBytes: 25_000, maxEvents: 8, mixKeys: false })
  for (const [index, p] of packed.entries()) {
    const inside = unpack(p.data, p.partitionKey)
    t.ok(inside.every((u) => u.key === p.partitionKey), `aggregate ${index} holds only key ${p.partitionKey}`)
    t.ok(inside.length <= 8, 'at most maxEvents')
  }
  const byKey = new Map<string, string[]>()
  for (const p of packed) for (const u of unpack(p.data, p.partitionKey)) byKey.set(u.key, [...(byKey.get(u.key) ?? []), u.text])
  for (const k of keys) {
    t.same(byKey.get(k), records.filter((r) => r.partitionKey === k).map((r) => Buffer.from(r.data).toString()), `key ${k}: all events, in order`)
  }
  records.forEach((r, i) => { t.equal((packed[holder[i] as number] as OutgoingRecord).partitionKey, r.partitionKey) })

  const big = rec('y'.repeat(3000), 'k')
  const lone = aggregate([big, rec('{}', 'other')], { maxBytes: 2048, maxEvents: 10, mixKeys: false })
  t.equal(lone.records[0], big, 'a record too big for an aggregate goes as it is')
  t.same(unpack(lone.records[1]!.data, 'other'), [{ key: 'other', text: '{}' }], 'a lone record is passed through (de-aggregators keep it as is)')
})

t.test('the sender maps the answer back to every event', async (t) => {
  const calls: number[] = []
  const sink = aggregatingSink(senderSink(async (_stream, recs) => {
    calls.push(recs.length)
    return recs.map((_, i) => i === 1 ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'slow down' } : { ShardId: 's', SequenceNumber: `seq${i}` })
  }), { maxBytes: 1024, maxEvents: 1000, mixKeys: true })
  const records = Array.from({ length: 30 }, (_, i) => rec(`{"event":${i},"pad":"${'p'.repeat(80)}"}`, `k${i}`))
  const entries = entriesOf(await sink.put('s', records))
  t.equal(entries.length, 30)
  t.equal(calls.length, 1)
  const { holder } = aggregate(records, { maxBytes: 1024, maxEvents: 1000, mixKeys: true })
  entries.forEach((e, i) => {
    if (holder[i] === 1) t.equal(e.ErrorCode, 'ProvisionedThroughputExceededException', `event ${i} shares the failure of its aggregate`)
    else t.equal(e.SequenceNumber, `seq${holder[i]}`, `event ${i} has its aggregate's sequence number`)
  })
})

t.test('end to end: aggregated channels through kinesalite, every event read back and de-aggregated', async (t) => {
  const kinesis = await startKinesalite()
  t.teardown(() => kinesis.close())
  const reader = testKinesisClient(kinesis.endpoint)
  t.teardown(() => reader.destroy())
  const random = uniqueStream()
  const keyed = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: {
      clicks: { stream: random, aggregate: true },
      orders: { stream: keyed, partitionKey: '/user', aggregate: { maxBytes: 2048 } }
    }
  })
  interface Ack { id: string, shardId: string, sequenceNumber: string }
  const sent = new Map<string, { event: unknown, ack: Ack, stream: string }>()
  const batches = await Promise.all(Array.from({ length: 6 }, async (_, b) => {
    const events = Array.from({ length: 50 }, (_, i) => ({ b, i, user: `u${i % 4}`, text: 'ü'.repeat(i) }))
    return { events, res: await post(`${gw.url}/v1/${b % 2 === 0 ? 'clicks' : 'orders'}`, JSON.stringify(events)), stream: b % 2 === 0 ? random : keyed }
  }))
  const singles = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    const event = { single: i, user: 'solo' }
    return { events: [event], res: await post(`${gw.url}/v1/clicks`, JSON.stringify(event)), stream: random }
  }))
  for (const { events, res, stream } of [...batches, ...singles]) {
    t.equal(res.status, 200)
    const acks = res.json.events as Ack[]
    events.forEach((event, i) => { sent.set(acks[i]!.id, { event, ack: acks[i]!, stream }) })
  }
  t.equal(sent.size, 320, '150 keyed and 170 random events acknowledged')

  for (const stream of [random, keyed]) {
    const expected = [...sent.values()].filter((s) => s.stream === stream).length
    // Every event was acknowledged, so every record is already in the stream.
    const all = await readAllRecords(reader, stream)
    t.ok(all.length < expected, `${stream.slice(0, 12)}: ${expected} events in ${all.length} Kinesis records`)
    let seen = 0
    const wrong: string[] = []
    for (const r of all) {
      for (const u of unpack(r.data, r.partitionKey, r.sequenceNumber)) {
        const envelope = JSON.parse(u.text) as { event_id: string, data: unknown }
        const s = sent.get(envelope.event_id)
        if (s === undefined) { wrong.push(`unknown event ${envelope.event_id}`); continue }
        if (JSON.stringify(envelope.data) !== JSON.stringify(s.event)) wrong.push(`${envelope.event_id}: data differs`)
        if (s.ack.sequenceNumber !== r.sequenceNumber) wrong.push(`${envelope.event_id}: acked ${s.ack.sequenceNumber}, stored in ${r.sequenceNumber}`)
        if (stream === keyed && u.key !== (s.event as { user: string }).user) wrong.push(`${envelope.event_id}: key ${u.key}`)
        seen++
      }
    }
    t.same(wrong, [], 'every event equals what was sent, under its partition key, in the record its ack names')
    t.equal(seen, expected, 'every acknowledged event was read back')
  }
})
