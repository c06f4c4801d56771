import { createHash } from 'node:crypto'
import t from 'tap'
import { ConfigError } from '../../src/config/config-error.js'
import { post, startGateway, testConfig, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { testKinesisClient, waitForRecords } from '../helpers/stream-reader.js'

/** Issue 13, items 3 and 5: stage-path aliases from API Gateway, 405, the channel list and published schemas behind keys. */
const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())
const sha = (key: string): string => createHash('sha256').update(key).digest('hex')

t.test('aliases: an API Gateway stage path writes to its channel; other methods there get 405 with Allow', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream } }, extra: { aliases: { '/prod/v1': 'events' } } })
  // What the AWS study note's client posts, with only the host changed.
  const res = await post(`${gw.url}/prod/v1`, JSON.stringify({ key1: 'value1' }))
  t.equal(res.status, 200)
  const got = await waitForRecords(reader, stream, 1)
  t.match(JSON.parse(got[0]?.text ?? '{}'), { channel: 'events', data: { key1: 'value1' } })
  const get = await fetch(`${gw.url}/prod/v1`)
  t.equal(get.status, 405)
  t.equal(get.headers.get('allow'), 'OPTIONS, POST')
  t.match(await get.json(), { code: 'GW_ERR_METHOD_NOT_ALLOWED', detail: /GET is not allowed on \/prod\/v1/ })
  const unknown = await fetch(`${gw.url}/prod/v2`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
  t.equal(unknown.status, 404, `an unknown path stays 404: ${await unknown.text()}`)
})

t.test('aliases are checked at start: the channel must exist, the gateway\'s own paths are not for the taking', async (t) => {
  const bad = (aliases: Record<string, string>): string => {
    try {
      testConfig({ endpoint: kinesis.endpoint, channels: { events: { stream: 's' } }, extra: { aliases } })
    } catch (err) {
      if (err instanceof ConfigError) return err.message
      throw err
    }
    return 'accepted'
  }
  t.match(bad({ '/prod/v1': 'nope' }), /aliases\.\/prod\/v1: channel "nope" is not configured\. Fix: name one of events/)
  t.match(bad({ '/v1/other': 'events' }), /aliases\.\/v1\/other: the gateway's own routes use this path/)
  t.match(bad({ '/healthz': 'events' }), /aliases\.\/healthz/)
  t.match(bad({ 'prod/v1': 'events' }), /aliases/, 'a path starts with /')
  t.equal(bad({ '/prod/v1': 'events', '/dev/v1/': 'events' }), 'accepted')
})

t.test('GET /v1/channels lists what a key may write; schemas of keyed channels need the key', async (t) => {
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream: uniqueStream(), access: 'open' }, orders: { stream: uniqueStream(), schema: 'schemas/order.json', access: 'api-key' }, billing: { stream: uniqueStream(), access: 'api-key' } },
    extra: { apiKeys: { shop: { sha256: sha('shop-key'), channels: ['orders'] } } }
  })
  const names = async (headers: Record<string, string> = {}): Promise<string[]> =>
    ((await (await fetch(`${gw.url}/v1/channels`, { headers })).json()) as { channels: Array<{ name: string }> }).channels.map((c) => c.name).sort()
  t.same(await names(), ['events'], 'without a key: the open channels')
  t.same(await names({ 'x-api-key': 'shop-key' }), ['events', 'orders'], 'with a key: also the channels it may write')
  t.equal((await fetch(`${gw.url}/v1/channels`, { headers: { 'x-api-key': 'wrong' } })).status, 401)
  t.equal((await fetch(`${gw.url}/v1/orders/schema`)).status, 401, 'a keyed channel\'s schema needs the key')
  t.equal((await fetch(`${gw.url}/v1/billing/schema`, { headers: { 'x-api-key': 'shop-key' } })).status, 403, 'and a key allowed on that channel')
  const schema = await fetch(`${gw.url}/v1/orders/schema`, { headers: { 'x-api-key': 'shop-key' } })
  t.equal(schema.status, 200)
  const body = await schema.json() as { required: string[], definitions: Record<string, { $id: string }> }
  t.same(body.required, ['order_id', 'user_id', 'amount'])
  t.equal(body.definitions['common.json']?.$id, 'common.json', 'referenced schemas are embedded: the schema is self-contained')
  t.equal((await fetch(`${gw.url}/v1/nope/schema`)).status, 404)
})
