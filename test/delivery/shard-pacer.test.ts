import { SplitShardCommand } from '@aws-sdk/client-kinesis'
import t from 'tap'
import { hashKeyOf } from '../../src/delivery/shard-map.js'
import { ShardPacer } from '../../src/delivery/shard-pacer.js'
import type { OutgoingRecord } from '../../src/delivery/stream-producer.js'
import { post, startGateway, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { testKinesisClient, waitForRecords } from '../helpers/stream-reader.js'

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const client = testKinesisClient(kinesis.endpoint)
t.teardown(() => client.destroy())

function rec (key: string, size = 100): OutgoingRecord {
  return { data: Buffer.alloc(size - Buffer.byteLength(key)), partitionKey: key, size }
}

t.test('MD5 hash key of a partition key (128-bit, big-endian)', async (t) => {
  // md5("") = d41d8cd98f00b204e9800998ecf8427e
  t.equal(hashKeyOf(''), 0xd41d8cd98f00b204e9800998ecf8427en)
  // md5("The quick brown fox jumps over the lazy dog") = 9e107d9d372bb6826bd81d3542a419d6 (RFC 1321 test suite style vector)
  t.equal(hashKeyOf('The quick brown fox jumps over the lazy dog'), 0x9e107d9d372bb6826bd81d3542a419d6n)
})

t.test('partition keys map to the shard Kinesis chose (4 shards, kinesalite)', async (t) => {
  const stream = uniqueStream('shards')
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream, partitionKey: '/user' } },
    extra: { kinesis: { shards: 4 } }
  })
  const pacer = gw.app.gateway.shards.forStream(stream)
  t.ok(pacer, 'shard-aware sending is on by default')
  t.equal(pacer?.shardMap.shards.length, 4, 'ListShards found the 4 shards')
  const batch = Array.from({ length: 200 }, (_, i) => ({ user: `user-${i}` }))
  const res = await post(`${gw.url}/v1/events`, JSON.stringify(batch))
  t.equal(res.status, 200)
  const events = res.json.events as Array<{ shardId: string }>
  let same = 0
  batch.forEach((e, i) => { if (pacer?.shardMap.shardIdFor(e.user) === events[i]?.shardId) same++ })
  t.equal(same, 200, 'every record landed on the shard the MD5 mapping predicted')
  t.equal(new Set(events.map((e) => e.shardId)).size, 4, 'the keys spread over all shards')
})

t.test('token buckets: at most the per-shard limits, refilled over time (fake clock)', async (t) => {
  let now = 0
  const pacer = new ShardPacer(client, 'unused', { recordsPerSecond: 1000, bytesPerSecond: 1024 * 1024, refreshMs: 60_000, now: () => now })
  pacer.setShards([
    { ShardId: 'a', HashKeyRange: { StartingHashKey: '0', EndingHashKey: String(2n ** 127n - 1n) }, SequenceNumberRange: { StartingSequenceNumber: '1' } },
    { ShardId: 'b', HashKeyRange: { StartingHashKey: String(2n ** 127n), EndingHashKey: String(2n ** 128n - 1n) }, SequenceNumberRange: { StartingSequenceNumber: '1' } },
    // A closed parent shard (resharded away) takes no writes and is ignored.
    { ShardId: 'closed', HashKeyRange: { StartingHashKey: '0', EndingHashKey: String(2n ** 128n - 1n) }, SequenceNumberRange: { StartingSequenceNumber: '0', EndingSequenceNumber: '5' } }
  ])
  t.same(pacer.shardMap.shards.map((s) => s.shardId), ['a', 'b'])
  const hot = 'hot-key'
  let admitted = 0
  for (let i = 0; i < 1500; i++) if (pacer.admit(rec(hot))) admitted++
  t.equal(admitted, 1000, '1,000 records per second per shard')
  now += 100
  admitted = 0
  for (let i = 0; i < 500; i++) if (pacer.admit(rec(hot))) admitted++
  t.equal(admitted, 100, '100 ms later, 100 more')
  const other = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'].find((k) => pacer.shardMap.shardIdFor(k) !== pacer.shardMap.shardIdFor(hot)) as string
  t.ok(pacer.admit(rec(other)), 'a hot shard does not hold back the other shard')

  now += 1000
  admitted = 0
  for (let i = 0; i < 20; i++) if (pacer.admit(rec(hot, 100 * 1024))) admitted++
  t.equal(admitted, 10, '1 MiB per second per shard: ten 100 KiB records')
  now += 1000
  const load = pacer.load()
  const hotLoad = load.find((l) => l.shardId === pacer.shardMap.shardIdFor(hot))
  t.equal(hotLoad?.records, 1110, 'per-shard load counts what was sent')
  t.ok((hotLoad?.deferred ?? 0) > 0, 'and how often the hot shard held records back')
})

t.test('a hot key through the real gateway is paced and visible per shard; resharding is followed', async (t) => {
  const stream = uniqueStream('hot')
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream, partitionKey: '/user' } },
    extra: { kinesis: { shards: 2 }, delivery: { shardRecordsPerSecond: 200 } }
  })
  const pacer = gw.app.gateway.shards.forStream(stream)
  const batch = Array.from({ length: 500 }, () => ({ user: 'the-hot-user' }))
  const res = await post(`${gw.url}/v1/events`, JSON.stringify(batch))
  t.equal(res.status, 200, 'every record written although the shard limit was exceeded 2.5 times')
  const load = gw.app.gateway.shards.load()[stream] ?? []
  const hotId = pacer?.shardMap.shardIdFor('the-hot-user')
  const hot = load.find((l) => l.shardId === hotId)
  t.equal(hot?.records, 500, 'the hot shard carried all 500')
  t.ok((hot?.deferred ?? 0) > 0, 'records waited for the hot shard instead of being throttled')
  t.equal(load.filter((l) => l.shardId !== hotId).reduce((n, l) => n + l.records, 0), 0, 'the other shard carried none')
  t.equal((await waitForRecords(client, stream, 500)).length, 500)

  // Resharding: split the hot shard; a refresh follows it.
  const parent = pacer?.shardMap.shards.find((s) => s.shardId === hotId)
  const middle = ((parent?.start ?? 0n) + (parent?.end ?? 0n)) / 2n
  await client.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: hotId, NewStartingHashKey: String(middle) }))
  for (let i = 0; i < 50; i++) {
    await pacer?.refresh()
    if (pacer?.shardMap.shards.length === 3) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(pacer?.shardMap.shards.length, 3, 'the split is seen: two children replace the parent')
  t.notOk(pacer?.shardMap.shards.some((s) => s.shardId === hotId), 'the closed parent takes no more writes')
  const after = await post(`${gw.url}/v1/events`, JSON.stringify([{ user: 'the-hot-user' }]))
  t.equal((after.json.events as Array<{ shardId: string }>)[0]?.shardId, pacer?.shardMap.shardIdFor('the-hot-user'), 'and maps keys to the child shard Kinesis uses')
})
