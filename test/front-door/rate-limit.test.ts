import t from 'tap'
import { createHash } from 'node:crypto'
import { Writable } from 'node:stream'
import { startGateway, post, uniqueStream, type RunningGateway } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { deadRedisUrl, REDIS_URL, redisPrefix, until } from '../helpers/redis.js'
import { testKinesisClient, readAllRecords } from '../helpers/stream-reader.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Offers `perSecond` requests/s for `seconds`, round-robin over the gateways; returns statuses and elapsed time. */
async function offer (gateways: RunningGateway[], perSecond: number, seconds: number, headers: Record<string, string> = {}):
Promise<{ statuses: number[], elapsedMs: number, retryAfter: Set<string> }> {
  const total = Math.round(perSecond * seconds)
  const pending: Array<Promise<void>> = []
  const statuses: number[] = []
  const retryAfter = new Set<string>()
  const start = performance.now()
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / perSecond
    const wait = due - performance.now()
    if (wait > 1) await sleep(wait)
    const gw = gateways[i % gateways.length] as RunningGateway
    pending.push(post(`${gw.url}/v1/events`, JSON.stringify({ i }), { 'content-type': 'application/json', ...headers }).then((res) => {
      statuses.push(res.status)
      if (res.status === 429) retryAfter.add(res.headers.get('retry-after') ?? '')
    }))
  }
  await Promise.all(pending)
  return { statuses, elapsedMs: performance.now() - start, retryAfter }
}

t.test('two instances on one Redis together admit no more than the global limit, and 429 beyond it', async (t) => {
  const stream = uniqueStream()
  const prefix = redisPrefix(t)
  const limit = { perSecond: 50, burst: 10 }
  const opts = { endpoint: kinesis.endpoint, channels: { events: { stream } }, extra: { rateLimit: limit, redis: { url: REDIS_URL, keyPrefix: prefix } } }
  const a = await startGateway(t, opts)
  const b = await startGateway(t, opts)
  await until(() => a.app.frontDoor.sharedState() === 'shared' && b.app.frontDoor.sharedState() === 'shared')

  // 1.5x the limit for 3 s, alternating between the instances.
  const { statuses, elapsedMs, retryAfter } = await offer([a, b], 75, 3)
  const admitted = statuses.filter((s) => s === 200).length
  const refused = statuses.filter((s) => s === 429).length
  t.equal(admitted + refused, statuses.length, 'every answer is 200 or 429')
  const bound = limit.burst + limit.perSecond * elapsedMs / 1000
  t.comment(`offered ${statuses.length} in ${Math.round(elapsedMs)} ms; admitted ${admitted}, refused ${refused}; bound ${bound.toFixed(1)}`)
  t.ok(admitted <= Math.ceil(bound), `admitted ${admitted} <= burst + rate x elapsed = ${bound.toFixed(1)}`)
  t.ok(admitted >= limit.burst, 'at least the burst is admitted')
  if (statuses.length > Math.ceil(bound)) t.ok(refused > 0, 'more was offered than the bound: the excess is refused')
  t.same([...retryAfter], ['1'], 'Retry-After says when the next token comes')
  t.equal(a.app.frontDoor.redisFallbacks() + b.app.frontDoor.redisFallbacks(), 0, 'no decision was taken locally')

  const records = await readAllRecords(reader, stream)
  t.equal(records.length, admitted, 'exactly the admitted requests were written; refused ones wrote nothing')
})

t.test('429 is problem+json with Retry-After and rate-limit headers; per-channel and per-key buckets', async (t) => {
  const prefix = redisPrefix(t)
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: {
      events: { stream: uniqueStream(), rateLimit: { perSecond: 1, burst: 3 } },
      other: { stream: uniqueStream(), access: 'open' }
    },
    extra: {
      redis: { url: REDIS_URL, keyPrefix: prefix },
      apiKeys: {
        slow: { sha256: sha('slow-key'), rateLimit: { perSecond: 1, burst: 2 } },
        fast: { sha256: sha('fast-key') }
      }
    }
  })
  await until(() => gw.app.frontDoor.sharedState() === 'shared')
  // Channel bucket: 3 at once, then refused, for every key (the channel's limit is shared by its clients).
  const statuses: number[] = []
  let last: Awaited<ReturnType<typeof post>> | undefined
  for (let i = 0; i < 5; i++) {
    last = await post(`${gw.url}/v1/events`, '{}', { 'content-type': 'application/json', 'x-api-key': 'fast-key' })
    statuses.push(last.status)
  }
  t.same(statuses.slice(0, 3), [200, 200, 200])
  t.equal(statuses[4], 429)
  const res = last as Awaited<ReturnType<typeof post>>
  t.match(res.headers.get('content-type'), /^application\/problem\+json/)
  t.equal(res.json.code, 'GW_ERR_RATE_LIMITED')
  t.match(res.json.detail, /channel events/)
  t.equal(res.headers.get('retry-after'), '1')
  t.equal(res.headers.get('x-ratelimit-limit'), '3')
  t.equal(res.headers.get('x-ratelimit-remaining'), '0')

  // Key bucket: "slow" gets 2 at once on a channel without its own limit.
  const keyed: number[] = []
  for (let i = 0; i < 4; i++) keyed.push((await post(`${gw.url}/v1/other`, '{}', { 'content-type': 'application/json', 'x-api-key': 'slow-key' })).status)
  t.same(keyed.slice(0, 2), [200, 200])
  t.equal(keyed[3], 429)
  const other = await post(`${gw.url}/v1/other`, '{}', { 'content-type': 'application/json', 'x-api-key': 'fast-key' })
  t.equal(other.status, 200, 'another key is not affected by slow-key\'s bucket')
  t.equal(other.headers.get('x-ratelimit-limit'), '5000', 'headers describe the bucket that applied (the global one)')

  // Refused before the body is read: a 429 comes back even for a body that would be invalid.
  const early = await post(`${gw.url}/v1/events`, 'not json at all', { 'content-type': 'application/json', 'x-api-key': 'fast-key' })
  t.equal(early.status, 429)
})

t.test('Redis unreachable: the gateway serves with local limits, logs it once, says so in its state, never 5xx', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb() } })
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream: uniqueStream(), access: 'open' } },
    extra: {
      rateLimit: { perSecond: 1, burst: 5 },
      redis: { url: await deadRedisUrl(), commandTimeoutMs: 100 },
      apiKeys: { metered: { sha256: sha('metered'), dailyQuota: 1 } }
    },
    build: { logger: { level: 'info', stream } }
  })
  const started = performance.now()
  const statuses = (await Promise.all(Array.from({ length: 8 }, async () => (await post(`${gw.url}/v1/events`, '{}')).status))).sort()
  const elapsed = (performance.now() - started) / 1000
  t.same(statuses.filter((s) => s !== 200 && s !== 429), [], 'served while Redis is down: 200 or 429, never 5xx')
  const admitted = statuses.filter((s) => s === 200).length
  t.ok(admitted >= 5, 'the burst is admitted')
  t.ok(admitted <= 5 + Math.floor(elapsed), `the local bucket still throttles: ${admitted} admitted in ${elapsed.toFixed(2)} s`)
  await sleep(1_100) // one token back
  const h = { 'content-type': 'application/json', 'x-api-key': 'metered', 'idempotency-key': 'k-1' }
  const first = await post(`${gw.url}/v1/events`, '{"q":1}', h)
  t.equal(first.status, 200, 'quota counted locally')
  await sleep(1_100) // a retry is throttled like any request
  const replay = await post(`${gw.url}/v1/events`, '{"q":1}', h)
  t.equal(replay.headers.get('idempotent-replayed'), 'true', 'idempotency keys remembered locally; a replay spends no quota')
  await sleep(1_100)
  const over = await post(`${gw.url}/v1/events`, '{"q":2}', { 'content-type': 'application/json', 'x-api-key': 'metered' })
  t.equal(over.json.code, 'GW_ERR_QUOTA_EXCEEDED', 'the local quota still applies')
  t.equal(gw.app.frontDoor.sharedState(), 'local-fallback')
  t.ok(gw.app.frontDoor.redisFallbacks() >= 8, 'every decision was counted as a local fallback')
  await sleep(2_500) // ioredis retries in the background meanwhile
  const down = lines.filter((l) => l.includes('redis unreachable'))
  t.equal(down.length, 1, 'logged once, not per request or per reconnect attempt')
})

t.test('Redis lost and back: local limits meanwhile, shared limits again after', async (t) => {
  const lines: string[] = []
  const logStream = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb() } })
  const proxy = new TcpProxy(Number(new URL(REDIS_URL).port || 6379))
  const port = await proxy.start()
  t.teardown(() => proxy.stop())
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream: uniqueStream() } },
    extra: { redis: { url: `redis://127.0.0.1:${port}`, keyPrefix: redisPrefix(t), commandTimeoutMs: 200 } },
    build: { logger: { level: 'info', stream: logStream } }
  })
  await until(() => gw.app.frontDoor.sharedState() === 'shared')
  t.equal((await post(`${gw.url}/v1/events`, '{}')).status, 200)

  await proxy.stop()
  await until(() => gw.app.frontDoor.sharedState() === 'local-fallback')
  for (let i = 0; i < 5; i++) t.equal((await post(`${gw.url}/v1/events`, '{}')).status, 200, 'served without Redis')

  await proxy.start(port)
  await until(() => gw.app.frontDoor.sharedState() === 'shared', 10_000)
  const before = gw.app.frontDoor.redisFallbacks()
  t.equal((await post(`${gw.url}/v1/events`, '{}')).status, 200)
  t.equal(gw.app.frontDoor.redisFallbacks(), before, 'decided in Redis again')
  t.equal(lines.filter((l) => l.includes('redis unreachable')).length, 1)
  t.equal(lines.filter((l) => l.includes('redis reachable again')).length, 1)
})

function sha (key: string): string {
  return createHash('sha256').update(key).digest('hex')
}
