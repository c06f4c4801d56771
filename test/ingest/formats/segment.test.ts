import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { Analytics } from '@segment/analytics-node'
import t from 'tap'
import { startFaultyKinesis } from '../../helpers/fault-proxy.js'
import { post, startGateway, uniqueStream } from '../../helpers/gateway.js'
import { startKinesalite } from '../../helpers/kinesis-servers.js'
import { REDIS_URL, redisPrefix, until } from '../../helpers/redis.js'
import { readAllRecords, testKinesisClient, waitForRecords, type ReadRecord } from '../../helpers/stream-reader.js'

/**
 * Issue 15: the official Segment Node client (@segment/analytics-node), pointed at a `format: segment`
 * channel with its `host` and `path` options, sends to the real gateway over HTTP; the records are
 * read back from kinesalite with GetRecords and compared, message by message, with what the SDK sent.
 */

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

const WRITE_KEY = 'wk_live_3f9a1c'
const sha = (key: string): string => createHash('sha256').update(key).digest('hex')
const apiKeys = { 'shop-web': { sha256: sha(WRITE_KEY), channels: ['segment'] } }

type Message = Record<string, unknown> & { messageId: string, type: string }
interface Envelope { event_id: string, channel: string, client_id?: string, data: Message }

/** Every message the SDK put on the wire, by messageId (from its own http_request events). */
function wireLog (analytics: Analytics): { sent: Map<string, Message>, statuses: number[], errors: unknown[] } {
  const sent = new Map<string, Message>()
  const statuses: number[] = []
  const errors: unknown[] = []
  analytics.on('http_request', (req) => {
    for (const m of (JSON.parse(req.body) as { batch: Message[] }).batch) sent.set(m.messageId, m)
  })
  analytics.on('http_response', (res) => { statuses.push(res.status) })
  analytics.on('error', (err) => { errors.push(err) })
  return { sent, statuses, errors }
}

function client (url: string, options: { path?: string, writeKey?: string, flushAt?: number, maxRetries?: number } = {}): Analytics {
  return new Analytics({
    writeKey: options.writeKey ?? WRITE_KEY,
    host: url,
    path: options.path ?? '/v1/segment',
    flushAt: options.flushAt ?? 10,
    flushInterval: 50,
    maxRetries: options.maxRetries ?? 3
  })
}

function envelopes (records: readonly ReadRecord[]): Envelope[] {
  return records.map((r) => JSON.parse(r.text) as Envelope)
}

/** 36 calls of every type the spec has, with ids that tell who sent them. */
function sendCalls (analytics: Analytics, count = 36): void {
  for (let i = 0; i < count; i++) {
    const who = i % 3 === 0 ? { anonymousId: `anon-${i % 5}` } : { userId: `user-${i % 4}` }
    switch (i % 6) {
      case 0: analytics.track({ ...who, event: 'Product Viewed', properties: { sku: `sku-${i}`, price: i + 0.5 } }); break
      case 1: analytics.identify({ ...who, traits: { plan: 'pro', n: i } }); break
      case 2: analytics.page({ ...who, name: `page-${i}`, properties: { path: `/p/${i}` } }); break
      case 3: analytics.screen({ ...who, name: `screen-${i}` }); break
      case 4: analytics.group({ ...who, groupId: `org-${i}`, traits: { seats: i } }); break
      default: analytics.alias({ userId: `user-${i}`, previousId: `anon-${i}` })
    }
  }
}

t.test('the Node SDK: every call of every type lands once, as sent, keyed by userId or anonymousId, with the write key as the API key', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { segment: { stream, format: 'segment' } },
    extra: { apiKeys }
  })
  const analytics = client(gw.url)
  const wire = wireLog(analytics)
  sendCalls(analytics)
  await analytics.closeAndFlush({ timeout: 20_000 })
  t.same(wire.errors, [], 'the SDK reported no failure')
  t.ok(wire.statuses.length >= 4 && wire.statuses.every((s) => s === 200), `batches answered 200 (${wire.statuses.join(',')})`)
  t.equal(wire.sent.size, 36)

  const records = await waitForRecords(reader, stream, 36)
  t.equal(records.length, 36, 'one record per call, none twice')
  for (const record of records) {
    const e = JSON.parse(record.text) as Envelope
    const sent = wire.sent.get(e.data.messageId)
    if (sent === undefined) { t.fail(`a record the SDK never sent: ${record.text}`); continue }
    const { sentAt, ...message } = e.data
    t.same(message, sent, `${sent.type} ${sent.messageId} is stored as sent`)
    t.type(sentAt, 'string', 'the batch\'s sentAt is copied into the message')
    t.equal(record.partitionKey, String(sent.userId ?? sent.anonymousId), 'partition key: userId, else anonymousId')
    t.equal(e.client_id, 'shop-web', 'the write key authenticated as API key shop-web')
    t.notOk(record.text.includes(WRITE_KEY), 'the write key never lands')
  }
})

t.test('the SDK with an unknown write key gets 401 and gives up; nothing lands', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { segment: { stream, format: 'segment' } }, extra: { apiKeys } })
  const analytics = client(gw.url, { writeKey: 'wk_wrong' })
  const wire = wireLog(analytics)
  analytics.track({ userId: 'u1', event: 'Signed Up' })
  await analytics.closeAndFlush({ timeout: 10_000 })
  t.same(wire.statuses, [401], 'one try: 401 is not retried')
  t.equal(wire.errors.length, 1, 'the SDK reports the failure')
  t.equal((await readAllRecords(reader, stream)).length, 0)
})

t.test('a message the channel schema refuses is rejected alone: the rest of its batch lands and the SDK sees success', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { segment: { stream, format: 'segment', schema: 'schemas/segment-shop.json' } },
    extra: { apiKeys }
  })
  const analytics = client(gw.url, { flushAt: 5 })
  const wire = wireLog(analytics)
  for (let i = 0; i < 5; i++) {
    analytics.track({ userId: 'u7', event: 'Order Completed', properties: { total: i === 2 ? 'twelve' : 12 + i, order: `o-${i}` } })
  }
  await analytics.closeAndFlush({ timeout: 10_000 })
  t.same(wire.statuses, [200], 'one batch, 200: the SDK would drop a whole batch on a 400')
  t.same(wire.errors, [])
  const records = await waitForRecords(reader, stream, 4)
  const orders = envelopes(records).map((e) => (e.data.properties as { order: string }).order).sort()
  t.same(orders, ['o-0', 'o-1', 'o-3', 'o-4'], 'the four valid orders landed, the invalid one did not')

  // The same batch by hand shows the counts in the answer.
  const batch = [...wire.sent.values()].map((m) => ({ ...m, messageId: `again-${m.messageId}` }))
  const res = await post(`${gw.url}/v1/segment`, JSON.stringify({ batch, writeKey: WRITE_KEY }))
  t.equal(res.status, 200)
  t.match(res.json, { success: true, accepted: 4, rejected: 1, duplicates: 0, errors: [{ index: 2, pointer: '/properties/total' }] })
})

t.test('retries after a 503 from the gateway: no loss, and messages written before the 503 are not written twice (messageId)', async (t) => {
  const { proxy, reader: direct } = await startFaultyKinesis(t, { seed: 15 })
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: proxy.endpoint,
    channels: { segment: { stream, format: 'segment' } },
    extra: { apiKeys, delivery: { recordDeadlineMs: 200, retryBaseMs: 5_000, retryMaxMs: 5_000, lingerMs: 5 } }
  })
  const analytics = client(gw.url, { flushAt: 20, maxRetries: 5 })
  const wire = wireLog(analytics)
  // Half the records of each PutRecords call fail until the SDK has seen the gateway's 503.
  proxy.setPlan({ recordFailureRate: 0.5 })
  let writtenBeforeRetry = -1
  analytics.on('http_response', (res) => {
    if (res.status === 503 && writtenBeforeRetry < 0) {
      writtenBeforeRetry = proxy.counters.recordsForwarded
      proxy.setPlan({})
    }
  })
  sendCalls(analytics, 20)
  await analytics.closeAndFlush({ timeout: 30_000 })
  t.same(wire.errors, [], 'the SDK delivered everything in the end')
  t.equal(wire.statuses[0], 503, 'the first try was answered 503')
  t.equal(wire.statuses.at(-1), 200, 'the retry was answered 200')
  t.ok(writtenBeforeRetry > 0 && writtenBeforeRetry < 20, `part of the batch (${writtenBeforeRetry} of 20) was written before the 503`)

  const records = await waitForRecords(direct, stream, 20)
  const ids = envelopes(records).map((e) => e.data.messageId)
  t.equal(records.length, 20, 'each message once')
  t.same(new Set(ids), new Set(wire.sent.keys()), 'every message the SDK sent is in the stream')
})

t.test('the HTTP API by hand: single calls, writeKey in the body, gzip, the spec\'s required fields, replays by messageId', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { segment: { stream, format: 'segment' } }, extra: { apiKeys } })
  const url = `${gw.url}/v1/segment`
  const basic = { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(WRITE_KEY + ':').toString('base64')}` }

  const single = await post(url, JSON.stringify({ writeKey: WRITE_KEY, type: 'track', userId: 'u1', event: 'Clicked', messageId: 'm-1' }))
  t.equal(single.status, 200, 'a single call, authenticated by the writeKey in its body')
  t.same(single.json, { success: true, accepted: 1, duplicates: 0, rejected: 0, errors: [] })
  const noKey = await post(url, JSON.stringify({ type: 'track', userId: 'u1', event: 'Clicked' }))
  t.equal(noKey.status, 401, 'no key anywhere: 401')
  const beaconLike = await post(url, JSON.stringify({ writeKey: WRITE_KEY, type: 'page', anonymousId: 'a1', messageId: 'm-2' }), { 'content-type': 'text/plain' })
  t.equal(beaconLike.status, 200, 'text/plain, as analytics.js sends it')

  const zipped = gzipSync(JSON.stringify({ batch: [{ type: 'identify', userId: 'u2', traits: { a: 1 }, messageId: 'm-3' }], context: { app: 'x' } }))
  const gz = await post(url, zipped, { ...basic, 'content-encoding': 'gzip' })
  t.equal(gz.status, 200, 'a gzip batch')

  const invalid = await post(url, JSON.stringify({
    batch: [
      { type: 'track', userId: 'u3' },
      { type: 'identify', traits: {} },
      { type: 'alias', userId: 'u3' },
      { type: 'group', userId: 'u3' },
      { type: 'launch', userId: 'u3' }
    ]
  }), basic)
  t.equal(invalid.status, 400, 'nothing valid: 400, nothing written')
  t.match(invalid.json, {
    code: 'GW_ERR_INVALID_EVENTS',
    errors: [{ index: 0, pointer: '/event' }, { index: 1, pointer: '' }, { index: 2, pointer: '/previousId' }, { index: 3, pointer: '/groupId' }, { index: 4, pointer: '/type' }]
  })

  const replay = await post(url, JSON.stringify({ batch: [{ type: 'track', userId: 'u1', event: 'Clicked', messageId: 'm-1' }, { type: 'track', userId: 'u1', event: 'Clicked', messageId: 'm-4' }] }), basic)
  t.same(replay.json, { success: true, accepted: 2, duplicates: 1, rejected: 0, errors: [] }, 'm-1 was taken already: only m-4 is written')

  const dry = await post(`${url}/validate`, JSON.stringify({ batch: [{ type: 'track', userId: 'u9', event: 'E' }, { type: 'track', userId: 'u9' }] }), basic)
  t.match(dry.json, { valid: false, events: 2, passed: 1, failed: 1, errors: [{ index: 1, pointer: '/event' }] }, 'the dry run judges each message as a send would')

  const records = await waitForRecords(reader, stream, 4)
  const data = envelopes(records).map((e) => e.data)
  t.same(data.map((d) => d.messageId).sort(), ['m-1', 'm-2', 'm-3', 'm-4'], 'each message once')
  t.same(data.find((d) => d.messageId === 'm-3')?.context, { app: 'x' }, 'the batch context is merged into its messages')
  t.notOk(records.some((r) => r.text.includes(WRITE_KEY)), 'the write key never lands')
})

t.test('a channel called batch takes the SDK with only its host changed (its default path is /v1/batch)', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { batch: { stream, format: 'segment' } } })
  const analytics = new Analytics({ writeKey: 'any', host: gw.url, flushAt: 1, flushInterval: 20 })
  const wire = wireLog(analytics)
  analytics.track({ userId: 'u1', event: 'Default Path' })
  await analytics.closeAndFlush({ timeout: 10_000 })
  t.same(wire.statuses, [200], 'open channel: the write key is not needed')
  const records = await waitForRecords(reader, stream, 1)
  t.equal(envelopes(records)[0]?.data.event, 'Default Path')
})

t.test('messages refused by the spec or the schema are kept in the quarantine stream, without the write key', async (t) => {
  const stream = uniqueStream()
  const quarantine = uniqueStream('quarantine')
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { segment: { stream, format: 'segment', schema: 'schemas/segment-shop.json', quarantine } },
    extra: { apiKeys }
  })
  const res = await post(`${gw.url}/v1/segment`, JSON.stringify({
    writeKey: WRITE_KEY,
    batch: [
      { type: 'track', userId: 'u1', event: 'Order Completed', properties: { total: 5 }, messageId: 'q-1' },
      { type: 'track', userId: 'u1', event: 'Order Completed', properties: { total: 'five' }, messageId: 'q-2' },
      { type: 'screen', messageId: 'q-3' }
    ]
  }))
  t.match(res.json, { success: true, accepted: 1, rejected: 2, quarantined: 2 })
  const kept = await waitForRecords(reader, quarantine, 2)
  t.equal(kept.length, 2)
  t.same(kept.map((r) => (JSON.parse(r.text) as { event: Message }).event.messageId).sort(), ['q-2', 'q-3'], 'the two refused messages, as decoded')
  t.notOk(kept.some((r) => r.text.includes(WRITE_KEY)), 'the write key never lands, not even in quarantine')
  t.equal((await waitForRecords(reader, stream, 1)).length, 1)
})

t.test('two instances on Redis: messageIds written through one are not written again through the other, even concurrently', async (t) => {
  const stream = uniqueStream()
  const opts = { endpoint: kinesis.endpoint, channels: { segment: { stream, format: 'segment' } }, extra: { apiKeys, redis: { url: REDIS_URL, keyPrefix: redisPrefix(t) } } }
  const a = await startGateway(t, opts)
  const b = await startGateway(t, opts)
  await until(() => a.app.frontDoor.sharedState() === 'shared' && b.app.frontDoor.sharedState() === 'shared')
  const analytics = client(a.url, { flushAt: 12 })
  const wire = wireLog(analytics)
  sendCalls(analytics, 12)
  await analytics.closeAndFlush({ timeout: 10_000 })
  t.same(wire.statuses, [200])
  // The same batch, as a retry would send it, to the other instance, several times at once.
  const batch = JSON.stringify({ batch: [...wire.sent.values()], writeKey: WRITE_KEY })
  const retries = await Promise.all([b, b, a].map(async (gw) => await post(`${gw.url}/v1/segment`, batch)))
  for (const r of retries) {
    t.ok(r.status === 200 || r.status === 503, `a retry is answered 200 or a retryable 503 (${r.status})`)
    if (r.status === 200) t.match(r.json, { accepted: 12, duplicates: 12, rejected: 0 }, 'every message was taken already')
  }
  await waitForRecords(reader, stream, 12)
  t.equal((await readAllRecords(reader, stream)).length, 12, 'each message once in the stream')
})

t.test('a write key sent in the body still gets its own rate limit', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { segment: { stream, format: 'segment' } },
    extra: { apiKeys: { 'shop-web': { sha256: sha(WRITE_KEY), rateLimit: { perSecond: 1, burst: 1 } } } }
  })
  const call = (n: number): string => JSON.stringify({ writeKey: WRITE_KEY, type: 'track', userId: 'u', event: 'E', messageId: `rl-${n}` })
  const first = await post(`${gw.url}/v1/segment`, call(1))
  const second = await post(`${gw.url}/v1/segment`, call(2))
  t.equal(first.status, 200)
  t.equal(second.status, 429, 'the key\'s bucket (one request) is spent')
  t.match(second.headers.get('retry-after'), /^\d+$/, 'with Retry-After, which the SDKs honour')
})
