import { randomUUID } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { startGateway, post, uniqueStream, type RunningGateway } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { REDIS_URL, redisPrefix, until } from '../helpers/redis.js'
import { testKinesisClient, readAllRecords, waitForRecords } from '../helpers/stream-reader.js'

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

const withKey = (key: string): Record<string, string> => ({ 'content-type': 'application/json', 'idempotency-key': key })

async function retriesReplayTheFirstAnswer (t: Test, gateways: RunningGateway[], stream: string): Promise<void> {
  const key = randomUUID()
  const body = '[{"order":1},{"order":2}]'
  const first = await post(`${gateways[0]!.url}/v1/events`, body, withKey(key))
  t.equal(first.status, 200)
  t.equal(first.headers.get('idempotent-replayed'), null, 'the first answer is not a replay')
  for (const gw of gateways) {
    const again = await post(`${gw.url}/v1/events`, body, withKey(key))
    t.equal(again.status, 200)
    t.same(again.json, first.json, 'a retry gets the first answer: same ids, shards and sequence numbers')
    t.equal(again.headers.get('idempotent-replayed'), 'true')
  }
  await waitForRecords(reader, stream, 2)
  t.equal((await readAllRecords(reader, stream)).length, 2, 'the retries wrote nothing')

  const reused = await post(`${gateways[0]!.url}/v1/events`, '{"order":3}', withKey(key))
  t.equal(reused.status, 422)
  t.equal(reused.json.code, 'GW_ERR_IDEMPOTENCY_KEY_REUSED')

  // Only a 200 is remembered: a refused request can be corrected and sent again with its key.
  const key2 = randomUUID()
  const invalid = await post(`${gateways[0]!.url}/v1/events`, '[{"a":1}, 5]', withKey(key2))
  t.equal(invalid.status, 400)
  const fixed = await post(`${gateways[gateways.length - 1]!.url}/v1/events`, '[{"a":1}, {"b":5}]', withKey(key2))
  t.equal(fixed.status, 200)
  t.equal(fixed.headers.get('idempotent-replayed'), null)

  const badKey = await post(`${gateways[0]!.url}/v1/events`, '{}', withKey('has spaces in it'))
  t.equal(badKey.status, 400)
  t.equal(badKey.json.code, 'GW_ERR_BAD_IDEMPOTENCY_KEY')
}

t.test('one instance, in memory: a retry returns the first answer and writes nothing', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream } } })
  await retriesReplayTheFirstAnswer(t, [gw], stream)
})

t.test('two instances on Redis: a retry on either returns the first answer', async (t) => {
  const stream = uniqueStream()
  const opts = { endpoint: kinesis.endpoint, channels: { events: { stream } }, extra: { redis: { url: REDIS_URL, keyPrefix: redisPrefix(t) } } }
  const a = await startGateway(t, opts)
  const b = await startGateway(t, opts)
  await until(() => a.app.frontDoor.sharedState() === 'shared' && b.app.frontDoor.sharedState() === 'shared')
  await retriesReplayTheFirstAnswer(t, [a, b], stream)
})

t.test('concurrent duplicates on two instances: exactly one writes, the others get 409 or the replay', async (t) => {
  const stream = uniqueStream()
  const opts = { endpoint: kinesis.endpoint, channels: { events: { stream } }, extra: { redis: { url: REDIS_URL, keyPrefix: redisPrefix(t) } } }
  const a = await startGateway(t, opts)
  const b = await startGateway(t, opts)
  await until(() => a.app.frontDoor.sharedState() === 'shared' && b.app.frontDoor.sharedState() === 'shared')
  const keys = Array.from({ length: 10 }, () => randomUUID())
  const answers = await Promise.all(keys.flatMap((key, k) => Array.from({ length: 6 }, (_, i) =>
    post(`${(i % 2 === 0 ? a : b).url}/v1/events`, JSON.stringify({ k }), withKey(key)))))
  const statuses = answers.map((r) => r.status)
  t.same(statuses.filter((s) => s !== 200 && s !== 409), [], 'every duplicate is answered 200 (first or replay) or 409 (in progress)')
  for (const r of answers.filter((r) => r.status === 409)) t.equal(r.json.code, 'GW_ERR_IDEMPOTENCY_IN_PROGRESS')
  const fresh = answers.filter((r) => r.status === 200 && r.headers.get('idempotent-replayed') === null)
  t.equal(fresh.length, keys.length, 'one original answer per key')
  await waitForRecords(reader, stream, keys.length)
  const records = await readAllRecords(reader, stream)
  t.equal(records.length, keys.length, 'one record per key, however many duplicates raced')
})

t.test('the key is scoped to the caller: two clients may use the same Idempotency-Key', async (t) => {
  const stream = uniqueStream()
  const { createHash } = await import('node:crypto')
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream } },
    extra: { apiKeys: { one: { sha256: createHash('sha256').update('k1').digest('hex') }, two: { sha256: createHash('sha256').update('k2').digest('hex') } } }
  })
  const key = randomUUID()
  const r1 = await post(`${gw.url}/v1/events`, '{"x":1}', { ...withKey(key), 'x-api-key': 'k1' })
  const r2 = await post(`${gw.url}/v1/events`, '{"x":1}', { ...withKey(key), 'x-api-key': 'k2' })
  t.equal(r1.status, 200)
  t.equal(r2.status, 200)
  t.equal(r2.headers.get('idempotent-replayed'), null, 'another client\'s key is its own')
  t.equal((await waitForRecords(reader, stream, 2)).length, 2)
})

t.test('buffered and spool channels: a retried 202 is replayed and writes nothing again', async (t) => {
  const streams = { buffered: uniqueStream(), spool: uniqueStream() }
  const spoolDir = join(tmpdir(), `kgw-idem-${randomUUID()}`)
  t.teardown(async () => { await rm(spoolDir, { recursive: true, force: true }) })
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { quick: { stream: streams.buffered, ack: 'buffered' }, safe: { stream: streams.spool, ack: 'spool' } },
    extra: { spool: { dir: spoolDir } }
  })
  for (const [channel, stream] of [['quick', streams.buffered], ['safe', streams.spool]] as const) {
    const key = randomUUID()
    const body = '[{"n":1},{"n":2},{"n":3}]'
    const first = await post(`${gw.url}/v1/${channel}`, body, withKey(key))
    t.equal(first.status, 202, `${channel}: taken`)
    const again = await post(`${gw.url}/v1/${channel}`, body, withKey(key))
    t.equal(again.status, 202, `${channel}: the replay keeps the status of the first answer`)
    t.equal(again.headers.get('idempotent-replayed'), 'true')
    t.same(again.json, first.json, `${channel}: same ids`)
    const records = await waitForRecords(reader, stream, 3)
    await new Promise((resolve) => setTimeout(resolve, 300))
    t.equal((await readAllRecords(reader, stream)).length, 3, `${channel}: the retry wrote nothing (read back: ${records.length})`)
  }
})
