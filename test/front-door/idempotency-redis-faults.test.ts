import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import t from 'tap'
import { startFaultyKinesis } from '../helpers/fault-proxy.js'
import { post, startGateway, uniqueStream, type GatewayOptions, type RunningGateway, type Teardown } from '../helpers/gateway.js'
import { until } from '../helpers/redis.js'
import { OwnRedis } from '../helpers/redis-server.js'
import { readAllRecords } from '../helpers/stream-reader.js'

// Issue 17, item 1: an acknowledged request retried with its Idempotency-Key is never written
// again, whatever Redis did in between: frozen (SIGSTOP, so commands time out on the client and
// run late in Redis), thawed, or restarted without persistence (every key lost).

const { proxy, reader } = await startFaultyKinesis(t)

const KEYS = 120
const CONCURRENCY = 8

interface Answer { status: number, replayed: boolean, code: unknown, body: string }

async function send (gw: RunningGateway, key: string): Promise<Answer> {
  const res = await post(`${gw.url}/v1/events`, JSON.stringify({ key }), { 'content-type': 'application/json', 'idempotency-key': key })
  return { status: res.status, replayed: res.headers.get('idempotent-replayed') === 'true', code: res.json.code, body: JSON.stringify(res.json) }
}

/** Sends one request per key, CONCURRENCY at a time; `onAnswered(n)` runs after each answer. */
async function sendAll (keys: readonly string[], pick: (i: number) => RunningGateway, onAnswered: (n: number) => Promise<void> | void = () => {}): Promise<Answer[]> {
  const answers: Answer[] = new Array<Answer>(keys.length)
  let next = 0
  let answered = 0
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const i = next++
      answers[i] = await send(pick(i), keys[i] as string)
      await onAnswered(++answered)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return answers
}

/** Waits (at most 10 s) for a condition; says whether it was reached. */
async function reached (check: () => boolean): Promise<boolean> {
  return await until(check, 10_000).then(() => true, () => false)
}

/** Keys whose Redis value is not a stored answer, once they all are or after 10 s. */
async function notDoneAfterWait (peek: Redis, prefix: string, keys: readonly string[]): Promise<number> {
  const end = Date.now() + 10_000
  for (;;) {
    const values = await peek.mget(keys.map((k) => `${prefix}idem:-|events|${k}`))
    const notDone = values.filter((v) => v === null || !v.includes('"state":"done"')).length
    if (notDone === 0 || Date.now() > end) return notDone
    await sleep(50)
  }
}

/** A Redis of the test's own, a stream, and the options of a gateway on both (the fault proxy passes all). */
async function setUp (t: Teardown): Promise<{ redis: OwnRedis, peek: Redis, prefix: string, stream: string, opts: GatewayOptions }> {
  const redis = await OwnRedis.start(t)
  const prefix = `kgw-idem-${randomUUID()}:`
  const stream = uniqueStream('idem')
  proxy.setPlan({})
  const opts = { endpoint: proxy.endpoint, channels: { events: { stream } }, extra: { redis: { url: redis.url, keyPrefix: prefix, commandTimeoutMs: 1000 } } }
  return { redis, peek: redis.client(t), prefix, stream, opts }
}

/** Records in the stream per key. */
async function writesPerKey (stream: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  for (const r of await readAllRecords(reader, stream)) {
    const key = (JSON.parse(r.text) as { data?: { key?: string } }).data?.key
    if (key !== undefined) counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return counts
}

t.test('Redis frozen, thawed, then restarted without persistence: no acknowledged key is written twice, no 409 after an answer', async (t) => {
  const { redis, peek, prefix, stream, opts } = await setUp(t)
  const a = await startGateway(t, opts)
  const b = await startGateway(t, opts)
  await until(() => a.app.frontDoor.sharedState() === 'shared' && b.app.frontDoor.sharedState() === 'shared')
  // Each PutRecords call takes 150 ms, so the freeze lands between claims and stored answers.
  proxy.setPlan({ latencyMs: 150 })

  const keys = Array.from({ length: KEYS }, () => randomUUID())
  // First requests, all on instance a; Redis frozen from the 30th answer to the 50th.
  const first = await sendAll(keys, () => a, (n) => {
    if (n === 30) redis.freeze()
    if (n === 50) redis.thaw()
  })
  t.same(first.filter((r) => r.status !== 200).map((r) => r.status), [], 'every first request is answered 200, frozen Redis or not')
  t.ok(a.app.frontDoor.redisFallbacks() > 0, `the freeze really happened (${a.app.frontDoor.redisFallbacks()} decisions taken locally)`)

  // Retries as soon as Redis is back: on the instance that answered, then on the other one.
  const retriesA = await sendAll(keys, () => a)
  t.same(retriesA.filter((r) => !(r.status === 200 && r.replayed)).map((r) => `${r.status} ${String(r.code)}`), [],
    'a retry on the instance that answered is a replay (never 409, never a new write)')
  // Once instance a is back on Redis, the answers it kept in memory are in Redis, none left pending.
  t.ok(await reached(() => a.app.frontDoor.sharedState() === 'shared'), 'instance a uses Redis again once it answers')
  t.equal(await notDoneAfterWait(peek, prefix, keys), 0, 'every key is stored as answered in Redis (no late SET NX left pending)')
  const retriesB = await sendAll(keys, () => b)
  t.same(retriesB.filter((r) => !(r.status === 200 && r.replayed)).map((r) => `${r.status} ${String(r.code)}`), [],
    'a retry on the other instance is a replay too')
  t.same(retriesB.map((r) => r.body), first.map((r) => r.body), 'each replay is the first answer: same ids, shards and sequence numbers')

  // Redis restarted without persistence: every key is gone from Redis.
  await peek.set(`${prefix}marker`, '1')
  await redis.restart()
  t.equal(await peek.get(`${prefix}marker`), null, 'the restarted Redis lost its keys')
  const afterRestartA = await sendAll(keys, () => a)
  t.same(afterRestartA.filter((r) => !(r.status === 200 && r.replayed)).map((r) => `${r.status} ${String(r.code)}`), [],
    'after the restart, a retry on the instance that answered is still a replay')
  t.ok(await reached(() => a.app.frontDoor.sharedState() === 'shared' && b.app.frontDoor.sharedState() === 'shared'), 'both instances reconnected')
  t.equal(await notDoneAfterWait(peek, prefix, keys), 0, 'instance a wrote its answers back into the new Redis')
  const afterRestartB = await sendAll(keys, () => b)
  t.same(afterRestartB.filter((r) => !(r.status === 200 && r.replayed)).map((r) => `${r.status} ${String(r.code)}`), [],
    'after the restart, a retry on the other instance is a replay too')

  proxy.setPlan({})
  const counts = await writesPerKey(stream)
  const twice = keys.filter((k) => (counts.get(k) ?? 0) > 1)
  const missing = keys.filter((k) => (counts.get(k) ?? 0) === 0)
  t.equal(twice.length, 0, `no key written twice (written twice: ${twice.length})`)
  t.equal(missing.length, 0, 'every answered key is in the stream')
})

t.test('a SET NX that timed out and ran late in Redis does not leave the key pending: the retry is a replay', async (t) => {
  const { redis, peek, prefix, stream, opts } = await setUp(t)
  const gw = await startGateway(t, opts)
  await until(() => gw.app.frontDoor.sharedState() === 'shared')
  const key = randomUUID()
  redis.freeze()
  // The claim's SET NX times out on the client (commandTimeoutMs): the gateway claims in memory and answers.
  const first = await send(gw, key)
  t.equal(first.status, 200, 'answered while Redis is frozen')
  redis.thaw()
  // The late SET NX runs now, in Redis. A retry must still be the first answer, not 409 for 60 s.
  t.ok(await reached(() => gw.app.frontDoor.sharedState() === 'shared'), 'the gateway uses Redis again once it answers')
  const retry = await send(gw, key)
  t.equal(retry.status, 200, `the retry is answered 200 (got ${retry.status} ${String(retry.code)})`)
  t.ok(retry.replayed, 'as a replay')
  t.equal(retry.body, first.body, 'of the first answer')
  const stored = await peek.get(`${prefix}idem:-|events|${key}`)
  t.match(stored, /"state":"done"/, 'Redis holds the answer, not the late pending claim')
  const counts = await writesPerKey(stream)
  t.equal(counts.get(key), 1, 'written once')
})
