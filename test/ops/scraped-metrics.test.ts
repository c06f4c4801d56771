import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PutRecordsResultEntry } from '@aws-sdk/client-kinesis'
import t from 'tap'
import { createKinesisClient } from '../../src/kinesis/kinesis-client.js'
import { realSender as gatewaySender } from '../helpers/real-sender.js'
import type { PutRecordsSender } from '../../src/kinesis/sink.js'
import { post, startGateway, testConfig, uniqueStream, type Teardown } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { metricValue, scrape, type Sample } from '../helpers/metrics-text.js'
import { deadRedisUrl, REDIS_URL, redisPrefix, until } from '../helpers/redis.js'
import { readAllRecords, testKinesisClient, waitForRecords } from '../helpers/stream-reader.js'

// The metrics wired from the front door, the spools, shard pacing and readiness: real traffic
// against kinesalite (and the real Redis), then /metrics scraped and compared with what happened.

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

const P = 'kinesis_gateway_'
const sha = (key: string): string => createHash('sha256').update(key).digest('hex')
const json = (key?: string, extra: Record<string, string> = {}): Record<string, string> =>
  ({ 'content-type': 'application/json', ...(key === undefined ? {} : { 'x-api-key': key }), ...extra })

/** Scrapes until `check` holds (figures that move after the answer, e.g. shipping), at most 10 s. */
async function scrapeUntil (url: string, check: (m: Sample[]) => boolean): Promise<Sample[]> {
  let m = await scrape(url)
  const end = Date.now() + 10_000
  while (!check(m) && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 25))
    m = await scrape(url)
  }
  return m
}

/** The real sender to kinesalite; `hold` keeps calls for some streams waiting until released. */
function realSender (t: Teardown, opts: { denied?: string } = {}): { send: PutRecordsSender, hold: (stream: string) => () => void } {
  const kinesisConfig = testConfig({ endpoint: kinesis.endpoint, channels: { x: { stream: 'x' } } }).kinesis
  const client = createKinesisClient(kinesisConfig, { maxAttempts: 1 })
  t.teardown(() => client.destroy())
  const real = gatewaySender(kinesisConfig, client)
  const gates = new Map<string, Promise<void>>()
  const send: PutRecordsSender = async (stream, records) => {
    if (stream === opts.denied) return records.map((): PutRecordsResultEntry => ({ ErrorCode: 'AccessDeniedException', ErrorMessage: 'denied by the test' }))
    await gates.get(stream)
    return await real(stream, records)
  }
  const hold = (stream: string): (() => void) => {
    let release = (): void => {}
    gates.set(stream, new Promise((resolve) => { release = resolve }))
    return () => { gates.delete(stream); release() }
  }
  return { send, hold }
}

t.test('429s are counted as throttled by channel and reason; replays and dry runs are not accepted events', async (t) => {
  const streams = { orders: uniqueStream(), limited: uniqueStream(), events: uniqueStream() }
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: {
      orders: { stream: streams.orders },
      limited: { stream: streams.limited, access: 'open', rateLimit: { perSecond: 1, burst: 2 } },
      events: { stream: streams.events, access: 'open' }
    },
    extra: {
      apiKeys: {
        quota: { sha256: sha('quota-key'), dailyQuota: 2 },
        slow: { sha256: sha('slow-key'), rateLimit: { perSecond: 1, burst: 1 } }
      }
    }
  })
  const statuses: number[] = []
  const send = async (path: string, body: string, headers: Record<string, string>): Promise<number> => {
    const res = await post(`${gw.url}${path}`, body, headers)
    statuses.push(res.status)
    return res.status
  }
  // Daily quota of 2 requests: the third is refused.
  t.same([await send('/v1/orders', '{"n":1}', json('quota-key')), await send('/v1/orders', '{"n":2}', json('quota-key')),
    await send('/v1/orders', '{"n":3}', json('quota-key'))], [200, 200, 429])
  // The key's own bucket holds one request (refilled at 1/s).
  t.same([await send('/v1/orders', '{"n":4}', json('slow-key')), await send('/v1/orders', '{"n":5}', json('slow-key'))], [200, 429])
  // The channel's bucket holds two.
  t.same([await send('/v1/limited', '{"n":1}', json()), await send('/v1/limited', '{"n":2}', json()), await send('/v1/limited', '{"n":3}', json())], [200, 200, 429])

  // An idempotent retry is answered from the store; a dry run writes nothing.
  const idem = json(undefined, { 'idempotency-key': 'metrics-test-1' })
  const first = await post(`${gw.url}/v1/events`, '[{"a":1},{"a":2}]', idem)
  const again = await post(`${gw.url}/v1/events`, '[{"a":1},{"a":2}]', idem)
  t.equal(first.status, 200)
  t.equal(again.status, 200)
  t.equal(again.headers.get('idempotent-replayed'), 'true')
  t.same(again.json, first.json)
  const dry = await post(`${gw.url}/v1/events/validate`, '[{"a":1},{"a":2},{"a":3}]', json())
  t.equal(dry.status, 200)
  t.equal(dry.json.valid, true)
  t.equal((await readAllRecords(reader, streams.events)).length, 2, 'two events in the stream: the replay and the dry run wrote nothing')

  const m = await scrape(`${gw.url}/metrics`)
  t.equal(metricValue(m, P + 'requests_throttled_total', { channel: 'orders', reason: 'daily_quota' }), 1)
  t.equal(metricValue(m, P + 'requests_throttled_total', { channel: 'orders', reason: 'api_key_rate_limit' }), 1)
  t.equal(metricValue(m, P + 'requests_throttled_total', { channel: 'limited', reason: 'channel_rate_limit' }), 1)
  t.equal(metricValue(m, P + 'requests_throttled_total'), statuses.filter((s) => s === 429).length, 'every 429 is a throttled request')
  t.equal(metricValue(m, P + 'requests_rejected_total', { channel: 'orders', reason: 'GW_ERR_QUOTA_EXCEEDED' }), 1)
  t.equal(metricValue(m, P + 'requests_rejected_total', { reason: 'GW_ERR_RATE_LIMITED' }), 2)
  t.equal(metricValue(m, P + 'events_accepted_total', { channel: 'orders' }), 3)
  t.equal(metricValue(m, P + 'events_accepted_total', { channel: 'limited' }), 2)

  t.equal(metricValue(m, P + 'events_accepted_total', { channel: 'events' }), 2, 'the replay and the dry run add no accepted events')
  t.equal(metricValue(m, P + 'idempotent_replays_total', { channel: 'events' }), 1)
  t.equal(metricValue(m, P + 'ack_duration_seconds_count', { channel: 'events' }), 1, 'only the real write is an acknowledgement')
  t.equal(metricValue(m, P + 'http_requests_total', { route: '/v1/:channel', channel: 'events', status: '200' }), 2)
  t.equal(metricValue(m, P + 'http_requests_total', { route: '/v1/:channel/validate', channel: 'events', status: '200' }), 1)
  t.equal(metricValue(m, P + 'records_sent_total', { stream: streams.events }), 2)
  t.equal(metricValue(m, P + 'events_rejected_total', { channel: 'events' }), 0)
})

t.test('a replayed 202 (ack: buffered) counts as a replay, not as a second acknowledgement', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream, access: 'open', ack: 'buffered' } } })
  const idem = json(undefined, { 'idempotency-key': 'metrics-test-202' })
  const first = await post(`${gw.url}/v1/events`, '[{"a":1},{"a":2}]', idem)
  const again = await post(`${gw.url}/v1/events`, '[{"a":1},{"a":2}]', idem)
  t.equal(first.status, 202)
  t.equal(again.status, 202, 'the stored 202 is replayed')
  t.equal(again.headers.get('idempotent-replayed'), 'true')
  await waitForRecords(reader, stream, 2)
  // The figures move after the answers (onResponse, the buffered send): wait until both answers are counted.
  const m = await scrapeUntil(`${gw.url}/metrics`, (s) => metricValue(s, P + 'http_requests_total', { channel: 'events', status: '202' }) === 2 &&
    metricValue(s, P + 'records_sent_total', { stream }) === 2)
  t.equal(metricValue(m, P + 'idempotent_replays_total', { channel: 'events' }), 1, 'the replay is counted as one')
  t.equal(metricValue(m, P + 'ack_duration_seconds_count', { channel: 'events' }), 1, 'only the first answer is an acknowledgement')
  t.equal(metricValue(m, P + 'events_accepted_total', { channel: 'events' }), 2, 'the replay accepted no events')
})

t.test('Redis state: 1 while shared, 0 and counted fallbacks while Redis is down', async (t) => {
  const shared = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream: uniqueStream() } },
    extra: { redis: { url: REDIS_URL, keyPrefix: redisPrefix(t) } }
  })
  await until(() => shared.app.frontDoor.sharedState() === 'shared')
  for (let i = 0; i < 3; i++) t.equal((await post(`${shared.url}/v1/events`, '{"n":1}')).status, 200)
  const s = await scrape(`${shared.url}/metrics`)
  t.equal(metricValue(s, P + 'redis_shared_limits'), 1)
  t.equal(metricValue(s, P + 'redis_fallbacks_total'), 0)

  const down = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream: uniqueStream() } },
    extra: { redis: { url: await deadRedisUrl(), keyPrefix: 'kgw-dead:' } }
  })
  const before = await scrape(`${down.url}/metrics`)
  t.equal(metricValue(before, P + 'redis_shared_limits'), 0, 'Redis unreachable: local limits')
  t.ok(before.some((x) => x.name === P + 'redis_shared_limits'), 'the gauge has a sample while Redis is configured')
  const base = metricValue(before, P + 'redis_fallbacks_total')
  for (let i = 0; i < 4; i++) t.equal((await post(`${down.url}/v1/events`, '{"n":1}')).status, 200, 'served without Redis')
  const after = await scrape(`${down.url}/metrics`)
  t.equal(metricValue(after, P + 'redis_fallbacks_total') - base, 4, 'one local decision (the gateway-wide bucket) per request')
  t.equal(metricValue(after, P + 'redis_fallbacks_total'), down.app.frontDoor.redisFallbacks())

  const off = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream: uniqueStream() } } })
  const o = await scrape(`${off.url}/metrics`)
  t.notOk(o.some((x) => x.name === P + 'redis_shared_limits'), 'no Redis configured: no state sample')
  t.equal(metricValue(o, P + 'redis_fallbacks_total'), 0)
})

t.test('spool depth, buffered records lost, and draining', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kgw-metrics-spool-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const spooled = uniqueStream()
  const denied = uniqueStream('denied')
  const { send, hold } = realSender(t, { denied })
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { spooled: { stream: spooled, ack: 'spool' }, lossy: { stream: denied, ack: 'buffered' } },
    extra: { spool: { dir, checkpointIntervalMs: 50 } },
    build: { send }
  })
  const url = `${gw.url}/metrics`
  const release = hold(spooled)
  t.equal((await post(`${gw.url}/v1/spooled`, JSON.stringify([{ n: 1 }, { n: 2 }, { n: 3 }]))).status, 202)
  t.equal((await post(`${gw.url}/v1/spooled`, '{"n":4}\n{"n":5}\n', { 'content-type': 'application/x-ndjson' })).status, 202)

  // Kinesis is held back: everything is still in the spool, and the shipper has read it. The shipper
  // may read the first request's records before the second is appended, and then the rest in a later
  // read: wait until it has read all five, not just the first of them.
  const held = await scrapeUntil(url, (m) => metricValue(m, P + 'spool_records_appended_total', { stream: spooled }) === 5 &&
    metricValue(m, P + 'spool_shipping_bytes', { stream: spooled }) === metricValue(m, P + 'spool_unshipped_bytes', { stream: spooled }))
  const depth = metricValue(held, P + 'spool_unshipped_bytes', { stream: spooled })
  t.equal(metricValue(held, P + 'spool_records_appended_total', { stream: spooled }), 5)
  t.equal(metricValue(held, P + 'spool_records_shipped_total', { stream: spooled }), 0)
  t.equal(metricValue(held, P + 'spool_segments', { stream: spooled }), 1)
  t.equal(metricValue(held, P + 'spool_disk_bytes', { stream: spooled }), depth, 'a fresh spool: everything on disk is unshipped')
  t.equal(metricValue(held, P + 'spool_shipping_bytes', { stream: spooled }), depth)

  release()
  const records = await waitForRecords(reader, spooled, 5)
  // Each spooled record is a 10-byte header, the partition key and the data (docs/reliability.md).
  let expected = 0
  for (const r of records) expected += 10 + Buffer.byteLength(r.partitionKey) + Buffer.byteLength(r.text)
  t.equal(depth, expected, 'the unshipped bytes were exactly the five records')
  const shipped = await scrapeUntil(url, (m) => metricValue(m, P + 'spool_records_shipped_total', { stream: spooled }) === 5)
  t.equal(metricValue(shipped, P + 'spool_records_shipped_total', { stream: spooled }), 5)
  t.equal(metricValue(shipped, P + 'spool_unshipped_bytes', { stream: spooled }), 0)
  t.equal(metricValue(shipped, P + 'spool_shipping_bytes', { stream: spooled }), 0)
  t.equal(metricValue(shipped, P + 'spool_corrupt_tails_total', { stream: spooled }), 0)
  t.notOk(shipped.some((s) => s.name === P + 'spool_unshipped_bytes' && s.labels.stream === denied), 'only spooled streams have spool series')

  // ack: buffered answers 202, then Kinesis refuses the records for good: they are lost, and counted.
  t.equal((await post(`${gw.url}/v1/lossy`, JSON.stringify([{ n: 1 }, { n: 2 }, { n: 3 }]))).status, 202)
  const lost = await scrapeUntil(url, (m) => metricValue(m, P + 'records_lost_total', { stream: denied }) > 0)
  t.equal(metricValue(lost, P + 'records_lost_total', { stream: denied, mode: 'buffered', error_code: 'AccessDeniedException' }), 3)
  t.equal(metricValue(lost, P + 'events_accepted_total', { channel: 'lossy' }), 3, 'acknowledged (202) before they were lost')

  t.equal(metricValue(lost, P + 'draining'), 0)
  gw.app.gateway.readiness.startDraining()
  t.equal(metricValue(await scrape(url), P + 'draining'), 1, 'draining, as /readyz says')
  t.equal((await fetch(`${gw.url}/readyz`)).status, 503)
})

t.test('per-shard load from shard pacing agrees with the PutRecords results', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream } },
    // A low per-shard rate, so that pacing holds records back.
    extra: { kinesis: { shards: 2 }, delivery: { shardRecordsPerSecond: 20 } }
  })
  const events = Array.from({ length: 60 }, (_, i) => ({ i }))
  t.equal((await post(`${gw.url}/v1/events`, JSON.stringify(events))).status, 200)
  const records = await waitForRecords(reader, stream, 60)
  const m = await scrape(`${gw.url}/metrics`)
  const perShard = new Map<string, number>()
  for (const r of records) perShard.set(r.shardId, (perShard.get(r.shardId) ?? 0) + 1)
  t.equal(perShard.size, 2, 'both shards got records')
  for (const [shard, n] of perShard) {
    t.equal(metricValue(m, P + 'shard_paced_records_total', { stream, shard }), n, `paced records of ${shard}`)
    t.equal(metricValue(m, P + 'shard_records_total', { stream, shard }), n, `written records of ${shard}`)
    t.ok(m.some((s) => s.name === P + 'shard_records_last_second' && s.labels.shard === shard), `last-second gauge of ${shard}`)
  }
  t.equal(metricValue(m, P + 'shard_paced_bytes_total', { stream }), metricValue(m, P + 'put_payload_bytes_total', { stream }))
  t.ok(metricValue(m, P + 'shard_held_back_total', { stream }) > 0, '60 records over two shards of 20/s: some were held back')
})

t.test('spool depth after a restart counts what the previous process left on disk', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kgw-metrics-spool-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const stream = uniqueStream()
  const opts = {
    endpoint: kinesis.endpoint,
    channels: { spooled: { stream, ack: 'spool' } },
    extra: { spool: { dir, checkpointIntervalMs: 50 }, shutdown: { deadlineMs: 100 } }
  }
  // First process: Kinesis never answers, so the records stay in the spool when it stops.
  const first = realSender(t)
  first.hold(stream)
  const a = await startGateway(t, { ...opts, build: { send: first.send } })
  t.equal((await post(`${a.url}/v1/spooled`, JSON.stringify([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]))).status, 202)
  const left = metricValue(await scrape(`${a.url}/metrics`), P + 'spool_unshipped_bytes', { stream })
  t.ok(left > 0, 'records left in the spool')
  await a.app.close()

  // Second process on the same folder, Kinesis held back at first: the backlog is counted at once.
  const second = realSender(t)
  const release = second.hold(stream)
  const b = await startGateway(t, { ...opts, build: { send: second.send } })
  const m = await scrape(`${b.url}/metrics`)
  t.equal(metricValue(m, P + 'spool_unshipped_bytes', { stream }), left, 'the same depth as before the restart')
  t.equal(metricValue(m, P + 'spool_records_appended_total', { stream }), 0, 'nothing appended by this process')
  t.equal(metricValue(m, P + 'spool_segments', { stream }), 2, 'the old segment and the new active one')
  release()
  await waitForRecords(reader, stream, 4)
  const done = await scrapeUntil(`${b.url}/metrics`, (s) => metricValue(s, P + 'spool_records_shipped_total', { stream }) === 4)
  t.equal(metricValue(done, P + 'spool_records_shipped_total', { stream }), 4)
  t.equal(metricValue(done, P + 'spool_unshipped_bytes', { stream }), 0)
  const cleaned = await scrapeUntil(`${b.url}/metrics`, (s) => metricValue(s, P + 'spool_segments', { stream }) === 1)
  t.equal(metricValue(cleaned, P + 'spool_segments', { stream }), 1, 'the shipped segment is deleted after the checkpoint')
})
