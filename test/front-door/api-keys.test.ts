import { createHash } from 'node:crypto'
import { Writable } from 'node:stream'
import t from 'tap'
import { startGateway, post, uniqueStream, testConfig } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { REDIS_URL, redisPrefix, until } from '../helpers/redis.js'
import { testKinesisClient, waitForRecords, readAllRecords } from '../helpers/stream-reader.js'
import { ConfigError } from '../../src/config/config-error.js'

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

const sha = (key: string): string => createHash('sha256').update(key).digest('hex')
const json = (key?: string): Record<string, string> => key === undefined
  ? { 'content-type': 'application/json' }
  : { 'content-type': 'application/json', 'x-api-key': key }

t.test('keys: 401 missing or unknown, 403 on a channel not allowed, open channels, client_id in the envelope, key never logged', async (t) => {
  const streams = { orders: uniqueStream(), clicks: uniqueStream(), open: uniqueStream() }
  const lines: string[] = []
  const logStream = new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb() } })
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: {
      orders: { stream: streams.orders },
      clicks: { stream: streams.clicks },
      open: { stream: streams.open, access: 'open' }
    },
    extra: {
      apiKeys: {
        'partner-a': { sha256: sha('secret-a-123'), channels: ['orders'] },
        'partner-b': { sha256: sha('secret-b-456').toUpperCase() }
      }
    },
    build: { logger: { level: 'trace', stream: logStream } }
  })
  const missing = await post(`${gw.url}/v1/orders`, '{"n":1}', json())
  t.equal(missing.status, 401)
  t.equal(missing.json.code, 'GW_ERR_API_KEY_MISSING')
  t.match(missing.json.detail, /x-api-key/)

  const unknown = await post(`${gw.url}/v1/orders`, '{"n":1}', json('secret-a-12'))
  t.equal(unknown.status, 401)
  t.equal(unknown.json.code, 'GW_ERR_API_KEY_INVALID')

  const forbidden = await post(`${gw.url}/v1/clicks`, '{"n":1}', json('secret-a-123'))
  t.equal(forbidden.status, 403)
  t.equal(forbidden.json.code, 'GW_ERR_API_KEY_FORBIDDEN')
  t.match(forbidden.json.detail, /partner-a/)

  const ok = await post(`${gw.url}/v1/orders`, '{"n":1}', json('secret-a-123'))
  t.equal(ok.status, 200)
  const all = await post(`${gw.url}/v1/clicks`, '{"n":2}', json('secret-b-456'))
  t.equal(all.status, 200, 'a key without a channel list may write to every channel (hash given in upper case)')

  const anon = await post(`${gw.url}/v1/open`, '{"n":3}', json())
  t.equal(anon.status, 200, 'an open channel needs no key')
  const wrongOnOpen = await post(`${gw.url}/v1/open`, '{"n":4}', json('nope'))
  t.equal(wrongOnOpen.status, 401, 'a wrong key is reported even on an open channel')
  const keyedOnOpen = await post(`${gw.url}/v1/open`, '{"n":5}', json('secret-b-456'))
  t.equal(keyedOnOpen.status, 200)

  const [order] = await waitForRecords(reader, streams.orders, 1)
  t.equal((JSON.parse(order!.text) as { client_id?: string }).client_id, 'partner-a', 'the key id is the envelope client_id')
  const opened = (await waitForRecords(reader, streams.open, 2)).map((r) => JSON.parse(r.text) as { client_id?: string, data: { n: number } })
  t.same(opened.map((e) => [e.data.n, e.client_id]).sort(), [[3, undefined], [5, 'partner-b']])

  // Whatever logs a request's headers (an error with the request, a debug line) gets the key redacted.
  gw.app.log.error({ req: { headers: { 'x-api-key': 'secret-a-123' } }, headers: { 'x-api-key': 'secret-b-456' } }, 'a line with headers')
  const logged = lines.join('')
  t.match(logged, /"x-api-key":"\[Redacted\]"/)
  for (const secret of ['secret-a-123', 'secret-b-456', 'secret-a-12']) t.notOk(logged.includes(secret), `the key ${secret} is never logged`)
})

t.test('daily quota: one quota across two instances on Redis, 429 GW_ERR_QUOTA_EXCEEDED until midnight UTC', async (t) => {
  const stream = uniqueStream()
  const opts = {
    endpoint: kinesis.endpoint,
    channels: { events: { stream } },
    extra: {
      redis: { url: REDIS_URL, keyPrefix: redisPrefix(t) },
      apiKeys: { metered: { sha256: sha('metered-key'), dailyQuota: 5 } }
    }
  }
  const a = await startGateway(t, opts)
  const b = await startGateway(t, opts)
  await until(() => a.app.frontDoor.sharedState() === 'shared' && b.app.frontDoor.sharedState() === 'shared')
  // An idempotent request counts once; its replays (on either instance) write nothing and spend no quota.
  const idem = { ...json('metered-key'), 'idempotency-key': 'order-1' }
  t.equal((await post(`${a.url}/v1/events`, '{"i":-1}', idem)).status, 200)
  for (const gw of [a, b]) t.equal((await post(`${gw.url}/v1/events`, '{"i":-1}', idem)).headers.get('idempotent-replayed'), 'true')
  const statuses: number[] = []
  let last: Awaited<ReturnType<typeof post>> | undefined
  for (let i = 0; i < 7; i++) {
    last = await post(`${(i % 2 === 0 ? a : b).url}/v1/events`, `{"i":${i}}`, json('metered-key'))
    statuses.push(last.status)
  }
  t.same(statuses, [200, 200, 200, 200, 429, 429, 429])
  t.equal(last!.json.code, 'GW_ERR_QUOTA_EXCEEDED')
  const retryAfter = Number(last!.headers.get('retry-after'))
  t.ok(retryAfter >= 1 && retryAfter <= 86_400, `Retry-After ${retryAfter} s points at the next UTC midnight`)
  const dry = await post(`${a.url}/v1/events/validate`, '{"i":9}', json('metered-key'))
  t.equal(dry.status, 200, 'the dry run spends no quota and is not refused by it')
  t.equal((await readAllRecords(reader, stream)).length, 5, 'only the requests within the quota were written')
})

t.test('daily quota without Redis is counted in memory', async (t) => {
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream: uniqueStream() } },
    extra: { apiKeys: { metered: { sha256: sha('m'), dailyQuota: 2 } } }
  })
  const statuses: number[] = []
  for (let i = 0; i < 3; i++) statuses.push((await post(`${gw.url}/v1/events`, '{}', json('m'))).status)
  t.same(statuses, [200, 200, 429])
  t.equal(gw.app.frontDoor.sharedState(), 'off')
})

t.test('configuration errors name the key and the fix', async (t) => {
  const bad = (extra: Record<string, unknown>, channels: Record<string, Record<string, unknown>> = { events: {} }): string => {
    try {
      testConfig({ endpoint: kinesis.endpoint, channels: Object.fromEntries(Object.entries(channels).map(([k, v]) => [k, { stream: 's', ...v }])), extra })
    } catch (err) {
      t.type(err, ConfigError)
      return (err as Error).message
    }
    return 'no error'
  }
  t.match(bad({ apiKeys: { p1: { sha256: 'my-secret-key' } } }), /apiKeys\.p1\.sha256: not a SHA-256 hex digest.*Fix: .*node -e/)
  t.match(bad({ apiKeys: { p1: { sha256: sha('x'), channels: ['nope'] } } }), /apiKeys\.p1\.channels: no channel named "nope"/)
  t.match(bad({ apiKeys: { p1: { sha256: sha('x') }, p2: { sha256: sha('x') } } }), /apiKeys\.p2\.sha256: the same key hash as apiKeys\.p1/)
  t.match(bad({ apiKeys: { 'bad id!': { sha256: sha('x') } } }), /apiKeys: key id "bad id!" is not allowed/)
  t.match(bad({ apiKeys: { p1: { sha256: sha('x'), key: 'plain' } } }), /apiKeys\.p1\.key: unknown key/)
  t.match(bad({ rateLimit: { burst: 10 } }), /rateLimit\.perSecond: missing\. Fix: add rateLimit\.perSecond/)
  t.match(bad({ redis: { url: 'http://x' } }), /redis\.url: .*Fix: give a URL such as redis:\/\/127\.0\.0\.1:6379/)
  t.match(bad({}, { events: { access: 'api-key' } }), /channels\.events\.access: "api-key" but no apiKeys are configured.*Fix: add clients under apiKeys, or set access: open/)
  t.match(bad({}, { events: { cors: ['https://shop.example.com/checkout'] } }), /channels\.events\.cors\.0: must match pattern .*Fix: list allowed browser origins as scheme:\/\/host/)
  t.match(bad({}, { events: { access: 'public' } }), /channels\.events\.access: must be one of "open", "api-key"\. Fix: use "open"/)

  const ok = testConfig({ endpoint: kinesis.endpoint, channels: { a: { stream: 's' }, b: { stream: 's', access: 'open' } }, extra: { apiKeys: { p1: { sha256: sha('x') } } } })
  t.equal(ok.channels.get('a')?.access, 'api-key', 'with keys configured, channels need a key unless open')
  t.equal(ok.channels.get('b')?.access, 'open')
  t.same(ok.frontDoor.rateLimit, { perSecond: 10_000, burst: 5_000 }, 'the global default is API Gateway\'s 10,000/s with 5,000 burst')
  const none = testConfig({ endpoint: kinesis.endpoint, channels: { a: { stream: 's' } } })
  t.equal(none.channels.get('a')?.access, 'open', 'without keys, channels are open as before')
  const env = testConfig({ endpoint: kinesis.endpoint, channels: { a: { stream: 's' } }, env: { REDIS_URL: 'redis://10.0.0.1:6380' } })
  t.equal(env.frontDoor.redis?.url, 'redis://10.0.0.1:6380', 'REDIS_URL configures Redis')
})
