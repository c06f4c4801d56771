import { createHash, randomUUID } from 'node:crypto'
import t from 'tap'
import { post, startGateway, uniqueStream, type RunningGateway, type Teardown } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { until } from '../helpers/redis.js'
import { OwnRedis } from '../helpers/redis-server.js'
import { readAllRecords, testKinesisClient } from '../helpers/stream-reader.js'

// Issue 17, item 5: daily quotas while Redis flaps. One instance never admits more than its quota,
// whatever Redis does (frozen then thawed: commands time out and run late; restarted without
// persistence: the counter is gone). Several instances stay within the documented bound.

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

const QUOTA = 200
const API_KEY = 'quota-test-key'

async function startQuotaGateway (t: Teardown, redis: OwnRedis, stream: string, prefix: string): Promise<RunningGateway> {
  return await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream } },
    extra: {
      redis: { url: redis.url, keyPrefix: prefix, commandTimeoutMs: 250 },
      apiKeys: { partner: { sha256: createHash('sha256').update(API_KEY).digest('hex'), dailyQuota: QUOTA } }
    }
  })
}

const CONCURRENCY = 8

/** Sends `count` requests, CONCURRENCY at a time, round-robin over the gateways; returns how many were admitted (200). */
async function offer (gateways: readonly RunningGateway[], count: number): Promise<{ admitted: number, others: number[] }> {
  let next = 0
  let admitted = 0
  const others: number[] = []
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      const gw = gateways[i % gateways.length] as RunningGateway
      const res = await post(`${gw.url}/v1/events`, JSON.stringify({ i }), { 'content-type': 'application/json', 'x-api-key': API_KEY })
      if (res.status === 200) admitted++
      else if (res.status !== 429 || res.json.code !== 'GW_ERR_QUOTA_EXCEEDED') others.push(res.status)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return { admitted, others }
}

async function reached (check: () => boolean): Promise<boolean> {
  return await until(check, 10_000).then(() => true, () => false)
}

t.test('one instance: frozen, thawed, restarted without persistence, it admits exactly the quota', async (t) => {
  const redis = await OwnRedis.start(t)
  const stream = uniqueStream('quota')
  const gw = await startQuotaGateway(t, redis, stream, `kgw-quota-${randomUUID()}:`)
  await until(() => gw.app.frontDoor.sharedState() === 'shared')

  const shared = await offer([gw], 80)
  t.equal(shared.admitted, 80, 'below the quota, with Redis: all admitted')
  redis.freeze()
  const frozen = await offer([gw], 150)
  t.ok(gw.app.frontDoor.redisFallbacks() > 0, 'the freeze really happened')
  t.equal(frozen.admitted, QUOTA - 80, 'Redis frozen: the instance goes on from the count it last read, and stops at the quota')
  redis.thaw()
  t.ok(await reached(() => gw.app.frontDoor.sharedState() === 'shared'), 'Redis answers again')
  const thawed = await offer([gw], 50)
  t.equal(thawed.admitted, 0, 'thawed (the timed-out commands ran late): nothing more admitted')
  await redis.stop()
  await until(() => gw.app.frontDoor.sharedState() === 'local-fallback')
  await redis.startAgain()
  t.ok(await reached(() => gw.app.frontDoor.sharedState() === 'shared'), 'reconnected to the restarted, empty Redis')
  const restarted = await offer([gw], 50)
  t.equal(restarted.admitted, 0, 'restarted without persistence: the instance puts its count back, nothing more admitted')
  const total = shared.admitted + frozen.admitted + thawed.admitted + restarted.admitted
  t.same([...shared.others, ...frozen.others, ...thawed.others, ...restarted.others], [], 'every other answer is 429 GW_ERR_QUOTA_EXCEEDED')
  t.equal(total, QUOTA, `admitted ${total} in all for a quota of ${QUOTA}`)
  t.equal((await readAllRecords(reader, stream)).length, total, 'exactly the admitted requests are in the stream')
})

t.test('two instances: a restart without persistence loses no count; a freeze stays within quota + (N - 1) x the rest', async (t) => {
  const redis = await OwnRedis.start(t)
  const stream = uniqueStream('quota')
  const prefix = `kgw-quota-${randomUUID()}:`
  const a = await startQuotaGateway(t, redis, stream, prefix)
  const b = await startQuotaGateway(t, redis, stream, prefix)
  const bothShared = (): boolean => a.app.frontDoor.sharedState() === 'shared' && b.app.frontDoor.sharedState() === 'shared'
  await until(bothShared)

  const before = await offer([a, b], 120)
  t.equal(before.admitted, 120, '120 admitted through Redis, 60 on each instance')

  // Each instance, alone during a freeze, may admit the rest of the quota (80) on its own.
  redis.freeze()
  const frozen = await offer([a, b], 300)
  redis.thaw()
  // S is the day's count an instance last read from Redis: at least 120 minus what the other
  // instance admitted meanwhile (at most the 8 requests in flight).
  const lastRead = before.admitted - CONCURRENCY
  const bound = QUOTA + (2 - 1) * (QUOTA - lastRead)
  const total = before.admitted + frozen.admitted
  t.ok(total <= bound, `frozen: ${total} admitted in all, within quota + (N - 1) x (quota - S) = ${bound}`)
  t.ok(total >= QUOTA, 'and at least the quota: the instances went on serving without Redis')
  t.ok(await reached(bothShared), 'both use Redis again')
  const thawed = await offer([a, b], 50)
  t.equal(thawed.admitted, 0, 'thawed: the day is over its quota for both, nothing more admitted')

  await redis.stop()
  await until(() => a.app.frontDoor.sharedState() === 'local-fallback' && b.app.frontDoor.sharedState() === 'local-fallback')
  await redis.startAgain()
  t.ok(await reached(bothShared), 'both reconnected to the restarted, empty Redis')
  // Each instance writes its own share back when it reconnects.
  const peek = redis.client(t)
  const day = new Date().toISOString().slice(0, 10)
  const restored = async (): Promise<number> => (await peek.hvals(`${prefix}quotas:partner:${day}`)).reduce((n, v) => n + Number(v), 0)
  const end = Date.now() + 10_000
  while (await restored() < total && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(await restored(), total, 'the restarted Redis holds the day\'s count again (both shares)')
  const afterRestart = await offer([a, b], 50)
  t.equal(afterRestart.admitted, 0, 'after the restart, nothing more admitted')
  t.same([...before.others, ...afterRestart.others, ...frozen.others, ...thawed.others], [], 'every other answer is 429 GW_ERR_QUOTA_EXCEEDED')
})
