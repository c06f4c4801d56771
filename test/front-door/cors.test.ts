import t from 'tap'
import { startGateway, post, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { testKinesisClient, waitForRecords } from '../helpers/stream-reader.js'

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

const SHOP = 'https://shop.example.com'

t.test('CORS per channel: preflight, allowed and refused origins, headers on errors too', async (t) => {
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: {
      web: { stream: uniqueStream(), cors: [SHOP + '/'], partitionKey: 'header:x-session' },
      any: { stream: uniqueStream(), cors: ['*'] },
      backend: { stream: uniqueStream() }
    }
  })
  const pre = await fetch(`${gw.url}/v1/web`, {
    method: 'OPTIONS',
    headers: { origin: SHOP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, idempotency-key' }
  })
  t.equal(pre.status, 204)
  t.equal(pre.headers.get('access-control-allow-origin'), SHOP)
  t.match(pre.headers.get('access-control-allow-methods'), /POST/)
  t.match(pre.headers.get('access-control-allow-headers'), /content-type.*x-api-key.*idempotency-key.*x-session/)
  t.equal(pre.headers.get('vary'), 'Origin')

  const preBad = await fetch(`${gw.url}/v1/web`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } })
  t.equal(preBad.status, 403)
  t.equal(preBad.headers.get('access-control-allow-origin'), null)
  t.equal(((await preBad.json()) as { code: string }).code, 'GW_ERR_ORIGIN_NOT_ALLOWED')

  const ok = await post(`${gw.url}/v1/web`, '{"a":1}', { 'content-type': 'application/json', origin: SHOP })
  t.equal(ok.status, 200)
  t.equal(ok.headers.get('access-control-allow-origin'), SHOP)
  t.match(ok.headers.get('access-control-expose-headers'), /x-ratelimit-remaining/)

  const refused = await post(`${gw.url}/v1/web`, '{"a":1}', { 'content-type': 'application/json', origin: 'https://evil.example' })
  t.equal(refused.status, 403, 'a foreign page cannot post, even though it could not read the answer')

  const invalid = await post(`${gw.url}/v1/web`, 'nope', { 'content-type': 'application/json', origin: SHOP })
  t.equal(invalid.status, 400)
  t.equal(invalid.headers.get('access-control-allow-origin'), SHOP, 'a page can read why it was refused')

  const star = await post(`${gw.url}/v1/any`, '{}', { 'content-type': 'application/json', origin: 'https://whoever.example' })
  t.equal(star.headers.get('access-control-allow-origin'), 'https://whoever.example')

  const backend = await post(`${gw.url}/v1/backend`, '{}', { 'content-type': 'application/json', origin: SHOP })
  t.equal(backend.status, 200, 'a channel without cors ignores Origin')
  t.equal(backend.headers.get('access-control-allow-origin'), null)
  const noCorsPre = await fetch(`${gw.url}/v1/backend`, { method: 'OPTIONS', headers: { origin: SHOP } })
  t.equal(noCorsPre.status, 403)
})

t.test('navigator.sendBeacon bodies: text/plain JSON where the channel allows beacons', async (t) => {
  const beaconStream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { beacon: { stream: beaconStream, beacon: true, cors: [SHOP] }, plain: { stream: uniqueStream() } }
  })
  // What Chrome sends for navigator.sendBeacon(url, JSON.stringify(...)).
  const res = await post(`${gw.url}/v1/beacon`, '[{"page":"/cart"},{"page":"/pay"}]', { 'content-type': 'text/plain;charset=UTF-8', origin: SHOP })
  t.equal(res.status, 200)
  t.equal(res.json.accepted, 2)
  const records = await waitForRecords(reader, beaconStream, 2)
  t.same(records.map((r) => (JSON.parse(r.text) as { data: { page: string } }).data.page).sort(), ['/cart', '/pay'])

  const bad = await post(`${gw.url}/v1/beacon`, 'page=/cart', { 'content-type': 'text/plain;charset=UTF-8' })
  t.equal(bad.status, 400)
  t.equal(bad.json.code, 'GW_ERR_MALFORMED_BODY')

  const refused = await post(`${gw.url}/v1/plain`, '{"page":"/"}', { 'content-type': 'text/plain' })
  t.equal(refused.status, 415)
  t.equal(refused.json.code, 'GW_ERR_UNSUPPORTED_MEDIA_TYPE')
  t.match(refused.json.detail, /beacon: true/)
})
