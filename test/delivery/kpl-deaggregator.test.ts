import { createRequire } from 'node:module'
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { aggregate } from '../../src/delivery/kpl-aggregator.js'
import { deaggregate, hasAggregateMagic } from '../../src/delivery/kpl-deaggregator.js'
import type { OutgoingRecord } from '../../src/delivery/stream-producer.js'

// Our decoder against our encoder and against an independent one (aws-kinesis-agg, protobufjs-based,
// which also writes explicit hash keys: a field ours skips).
interface AggInput { partitionKey: string, data: Buffer, explicitHashKey?: string }
interface Encoded { partitionKey: string, data: Buffer }
type AggregateFn = (records: AggInput[], onRecord: (encoded: Encoded, done: (err?: Error) => void) => void,
  afterAll: () => void, onError: (err: Error) => void) => void
const agg = createRequire(import.meta.url)('aws-kinesis-agg') as { aggregate: AggregateFn }

function rec (text: string, partitionKey: string): OutgoingRecord {
  const data = Buffer.from(text)
  return { data, partitionKey, size: data.length + Buffer.byteLength(partitionKey) }
}

t.test('unpacks what kpl-aggregator packs: every event, in order, with its partition key', async (t) => {
  const records = Array.from({ length: 300 }, (_, i) => rec(JSON.stringify({ i, pad: 'x'.repeat(i % 200), u: 'ü€😀' }) + '\n', `key-${i % 7}`))
  const { records: packed } = aggregate(records, { maxBytes: 25_000, maxEvents: 1000, mixKeys: true })
  t.ok(packed.length > 1 && packed.length < 20, `${packed.length} aggregates`)
  const out = packed.flatMap((p) => deaggregate(p.data, p.partitionKey) ?? [{ partitionKey: p.partitionKey, data: Buffer.from(p.data) }])
  t.same(out.map((r) => r.data.toString('utf8')), records.map((r) => Buffer.from(r.data).toString('utf8')))
  t.same(out.map((r) => r.partitionKey), records.map((r) => r.partitionKey))
})

t.test('unpacks aws-kinesis-agg aggregates, explicit hash keys included', async (t) => {
  const input: AggInput[] = Array.from({ length: 50 }, (_, i) => ({
    partitionKey: randomUUID(),
    data: Buffer.from(JSON.stringify({ i }) + '\n'),
    ...(i % 3 === 0 ? { explicitHashKey: String(BigInt(i) * 2n ** 100n) } : {})
  }))
  const encoded: Encoded[] = []
  await new Promise<void>((resolve, reject) => {
    agg.aggregate(input, (e, done) => { encoded.push(e); done() }, resolve, reject)
  })
  t.ok(encoded.length >= 1)
  const out = encoded.flatMap((e) => deaggregate(e.data, e.partitionKey) ?? [])
  t.same(out.map((r) => r.data.toString()), input.map((r) => r.data.toString()))
  t.same(out.map((r) => r.partitionKey), input.map((r) => r.partitionKey))
})

t.test('anything that is not a valid aggregate is not unpacked', async (t) => {
  const { records: [packed] } = aggregate([rec('{"a":1}\n', 'k'), rec('{"a":2}\n', 'k')], { maxBytes: 25_000, maxEvents: 1000, mixKeys: true })
  const good = Buffer.from((packed as OutgoingRecord).data)
  t.equal(deaggregate(good)?.length, 2)
  t.ok(hasAggregateMagic(good))

  const badMd5 = Buffer.from(good)
  badMd5[badMd5.length - 1] = (badMd5[badMd5.length - 1] as number) ^ 0xff
  t.equal(deaggregate(badMd5), undefined, 'a wrong MD5: an ordinary record (as the KCL treats it)')
  t.equal(deaggregate(good.subarray(0, 10)), undefined, 'too short')
  t.equal(deaggregate(Buffer.from('{"plain":"json"}\n')), undefined, 'plain JSON')
  t.equal(deaggregate(Buffer.alloc(0)), undefined, 'empty')
  // Magic and a matching MD5 around bytes that are not protobuf.
  const { createHash } = await import('node:crypto')
  const junk = Buffer.from([0xff, 0xff, 0xff])
  const forged = Buffer.concat([good.subarray(0, 4), junk, createHash('md5').update(junk).digest()])
  t.equal(deaggregate(forged), undefined, 'garbage inside: not unpacked, no exception')
})
