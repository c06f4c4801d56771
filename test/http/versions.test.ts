import t from 'tap'
import { ConfigError } from '../../src/config/config-error.js'
import { post, startGateway, testConfig, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite, startKinesisLocal } from '../helpers/kinesis-servers.js'
import { metricValue, scrape } from '../helpers/metrics-text.js'
import { testKinesisClient, waitForRecords } from '../helpers/stream-reader.js'

/** Issue 13, items 4 and 6: schema versions side by side, deprecation headers, large records. */
const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

t.test('two versions of a channel side by side; the deprecated one says so and is counted', async (t) => {
  const v1 = uniqueStream()
  const v2 = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: {
      orders: { stream: v1, schema: 'schemas/order.json', version: 1, deprecated: { since: '2026-11-01', sunset: '2027-06-30', successor: '/v2/orders' } },
      'orders-v2': { stream: v2, schema: 'schemas/order-v2.json', version: 2, path: 'orders' }
    }
  })
  const old = await post(`${gw.url}/v1/orders`, JSON.stringify({ order_id: 'o1', user_id: 'u1', amount: 9.5 }))
  t.equal(old.status, 200)
  t.equal(old.headers.get('deprecation'), `@${Date.parse('2026-11-01') / 1000}`, 'RFC 9745 Deprecation: when it was deprecated')
  t.equal(old.headers.get('sunset'), 'Wed, 30 Jun 2027 00:00:00 GMT', 'RFC 8594 Sunset, an HTTP-date')
  t.equal(old.headers.get('link'), '</v2/orders>; rel="successor-version"')
  const invalidOld = await post(`${gw.url}/v1/orders`, '{"order_id":"o2"}')
  t.equal(invalidOld.status, 400)
  t.ok(invalidOld.headers.get('deprecation'), 'errors of a deprecated version carry the headers too')

  const current = await post(`${gw.url}/v2/orders`, JSON.stringify({ order_id: 'o3', amount_cents: 950, currency: 'EUR' }))
  t.equal(current.status, 200)
  t.equal(current.headers.get('deprecation'), null, 'the current version is not deprecated')
  const v1Event = await post(`${gw.url}/v2/orders`, JSON.stringify({ order_id: 'o4', user_id: 'u1', amount: 9.5 }))
  t.equal(v1Event.status, 400, 'each version validates against its own schema')
  t.match(v1Event.json.errors, [{ pointer: '/amount_cents', reason: 'is required' }])

  const r1 = await waitForRecords(reader, v1, 1)
  const r2 = await waitForRecords(reader, v2, 1)
  t.match(JSON.parse(r1[0]?.text ?? '{}'), { channel: 'orders', schema_version: 1, data: { order_id: 'o1' } }, 'the envelope names the version')
  t.match(JSON.parse(r2[0]?.text ?? '{}'), { channel: 'orders-v2', schema_version: 2, data: { order_id: 'o3' } }, 'each version writes to its stream')

  const schema = await (await fetch(`${gw.url}/v2/orders/schema`)).json() as { $id: string }
  t.equal(schema.$id, 'order-v2.json', 'GET /v2/orders/schema serves that version')
  const list = await (await fetch(`${gw.url}/v1/channels`)).json() as { channels: Array<{ name: string, url: string, version: number, deprecated: boolean }> }
  t.match(list.channels.sort((a, b) => a.version - b.version), [{ url: '/v1/orders', version: 1, deprecated: true }, { url: '/v2/orders', version: 2, deprecated: false }])
  t.equal((await post(`${gw.url}/v3/orders`, '{}')).status, 404, 'no such version')

  const m = await scrape(`${gw.url}/metrics`)
  t.equal(metricValue(m, 'kinesis_gateway_deprecated_requests_total', { channel: 'orders', client_id: '' }), 2, 'who still sends to the old version')
})

t.test('versions and large records are checked at start', async (t) => {
  const problems = (channels: Record<string, Record<string, unknown>>): string => {
    try {
      testConfig({ endpoint: kinesis.endpoint, channels: channels as never })
    } catch (err) {
      if (err instanceof ConfigError) return err.message
      throw err
    }
    return 'accepted'
  }
  t.match(problems({ a: { stream: 's', path: 'orders', version: 2 }, b: { stream: 's', path: 'orders', version: 2 } }), /channels\.b: channel a is served at \/v2\/orders already\. Fix:/)
  t.match(problems({ a: { stream: 's', deprecated: { sunset: 'someday' } } }), /channels\.a\.deprecated\.sunset: "someday" is not a date/)
  t.match(problems({ a: { stream: 's', maxRecordBytes: 20 * 1024 * 1024 } }), /channels\.a\.maxRecordBytes.*10485760/)
})

t.test('large records: a channel with maxRecordBytes takes events past 1 MiB; others still refuse them', async (t) => {
  const stream = uniqueStream()
  const local = await startKinesisLocal([stream])
  t.teardown(() => local.close())
  const localReader = testKinesisClient(local.endpoint)
  t.teardown(() => localReader.destroy())
  const gw = await startGateway(t, {
    endpoint: local.endpoint,
    channels: { big: { stream, record: 'raw', maxRecordBytes: 2 * 1024 * 1024 }, small: { stream, record: 'raw' } },
    extra: { server: { bodyLimitBytes: 3 * 1024 * 1024 } }
  })
  const event = JSON.stringify({ blob: 'x'.repeat(1_500_000) })
  const small = await post(`${gw.url}/v1/small`, event)
  t.equal(small.status, 413)
  t.equal(small.json.code, 'GW_ERR_EVENT_TOO_LARGE', 'the default limit is 1 MiB')
  const tooBig = await post(`${gw.url}/v1/big`, JSON.stringify({ blob: 'x'.repeat(2_200_000) }))
  t.equal(tooBig.json.code, 'GW_ERR_EVENT_TOO_LARGE', 'past the channel\'s own limit: 413')
  t.match(tooBig.json.errors, [{ reason: /the limit is 2097152/ }])
  // The gateway sends it; whether the emulator stores it depends on its own record limit.
  const big = await post(`${gw.url}/v1/big`, event)
  t.not(big.status, 413, 'not refused by the gateway')
  if (big.status === 200) {
    const got = await waitForRecords(localReader, stream, 1, 30_000)
    t.equal(got[0]?.text.length, event.length + 1, 'the 1.5 MB record is stored whole')
  } else {
    t.equal(big.status, 503, `the emulator refused it (${String(big.json.detail)}): reported as not delivered, never a 5xx of our own`)
  }
})
