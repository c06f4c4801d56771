import { createHash } from 'node:crypto'
import t from 'tap'
import { EXCERPT_CHARS } from '../../src/console/rejection-ring.js'
import { startGateway, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const FORM = { 'content-type': 'application/json', 'x-kinesis-gateway-console': '1' }
const SECRET = 'partner-secret-key-never-shown'

t.test('hostile use of the console: limits, problem+json, no 5xx, nothing leaked', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream, access: 'open' }, keyed: { stream, access: 'api-key' }, orders: { stream, schema: 'schemas/order.json', access: 'open' } },
    extra: { apiKeys: { partner: { sha256: createHash('sha256').update(SECRET).digest('hex') } } }
  })
  const statuses: number[] = []
  const expectProblem = async (label: string, res: Response, status: number, code?: string): Promise<void> => {
    statuses.push(res.status)
    const text = await res.text()
    t.equal(res.status, status, `${label}: ${status}`)
    t.match(res.headers.get('content-type'), /^application\/problem\+json/, `${label}: problem+json`)
    if (code !== undefined) t.equal((JSON.parse(text) as { code: string }).code, code, `${label}: ${code}`)
  }
  const tryUrl = `${gw.url}/console/try/events?mode=send`
  await expectProblem('a body over 64 KiB', await fetch(tryUrl, { method: 'POST', headers: FORM, body: JSON.stringify({ pad: 'x'.repeat(70_000) }) }), 413, 'GW_ERR_BODY_TOO_LARGE')
  await expectProblem('text/plain', await fetch(tryUrl, { method: 'POST', headers: { ...FORM, 'content-type': 'text/plain' }, body: '{}' }), 415, 'GW_ERR_UNSUPPORTED_MEDIA_TYPE')
  await expectProblem('no console header (a cross-site form)', await fetch(tryUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }), 400, 'GW_ERR_BAD_REQUEST')
  await expectProblem('an unknown mode', await fetch(`${gw.url}/console/try/events?mode=drop`, { method: 'POST', headers: FORM, body: '{}' }), 400, 'GW_ERR_BAD_REQUEST')
  await expectProblem('an unknown channel', await fetch(`${gw.url}/console/try/${'n'.repeat(60)}?mode=send`, { method: 'POST', headers: FORM, body: '{}' }), 404, 'GW_ERR_UNKNOWN_CHANNEL')
  await expectProblem('a channel name too long', await fetch(`${gw.url}/console/try/${'n'.repeat(300)}?mode=send`, { method: 'POST', headers: FORM, body: '{}' }), 414, 'GW_ERR_URL_TOO_LONG')
  await expectProblem('GET on the form', await fetch(`${gw.url}/console/try/events`), 405, 'GW_ERR_METHOD_NOT_ALLOWED')
  await expectProblem('a malformed path', await fetch(`${gw.url}/console/%zz`), 400, 'GW_ERR_BAD_REQUEST')
  await expectProblem('an unknown console path', await fetch(`${gw.url}/console/../../etc/passwd`), 404, 'GW_ERR_ROUTE_NOT_FOUND')

  // What the gateway answers a malformed event is passed on, not turned into an error of the console.
  const malformed = await fetch(tryUrl, { method: 'POST', headers: FORM, body: '{"a":' })
  statuses.push(malformed.status)
  t.match(await malformed.json(), { status: 400, body: { code: 'GW_ERR_MALFORMED_BODY' } }, 'a malformed event: the gateway\'s 400, shown')

  // The ring keeps no API key and only a short excerpt, whatever is sent.
  await (await fetch(`${gw.url}/v1/keyed`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': SECRET + 'x' }, body: '{"a":1}' })).arrayBuffer()
  await (await fetch(`${gw.url}/v1/keyed`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` }, body: '{"a":1}' })).arrayBuffer()
  const big = JSON.stringify({ order_id: 1, note: 'y'.repeat(200_000), nested: Array.from({ length: 1000 }, (_, i) => ({ i })) })
  await (await fetch(`${gw.url}/v1/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big })).arrayBuffer()
  const viaForm = await fetch(`${gw.url}/console/try/keyed?mode=send`, { method: 'POST', headers: { ...FORM, 'x-api-key': SECRET }, body: '{"a":"from the form"}' })
  t.match(await viaForm.json(), { status: 200, body: { accepted: 1 } }, 'the form passes an API key on to the gateway')
  const feedText = await (await fetch(`${gw.url}/console/feed`)).text()
  t.notOk(feedText.includes(SECRET), 'no API key in the feed')
  const feed = JSON.parse(feedText) as { rejections: Array<{ channel: string, status: number, excerpt: string | null }> }
  t.ok(feed.rejections.some((r) => r.channel === 'keyed' && r.status === 401), 'the refused keys are listed')
  const order = feed.rejections.find((r) => r.channel === 'orders')
  t.ok(order !== undefined && order.excerpt !== null && order.excerpt.length <= EXCERPT_CHARS, `the excerpt of a 200 KB event is at most ${EXCERPT_CHARS} characters`)
  t.ok(feedText.length < 20_000, `the feed stays small (${feedText.length} bytes)`)

  // Bursts: the console's own limits answer 429 with Retry-After.
  const reads = await Promise.all(Array.from({ length: 160 }, async () => {
    const res = await fetch(`${gw.url}/console/feed`)
    await res.arrayBuffer()
    return { status: res.status, retryAfter: res.headers.get('retry-after'), type: res.headers.get('content-type') ?? '' }
  }))
  statuses.push(...reads.map((r) => r.status))
  const limited = reads.filter((r) => r.status === 429)
  t.ok(limited.length > 0, `a burst of 160 feed requests is limited (${limited.length} got 429)`)
  t.ok(limited.every((r) => r.retryAfter !== null && /problem\+json/.test(r.type)), 'with Retry-After, as problem+json')
  const tries = await Promise.all(Array.from({ length: 40 }, async () => {
    const res = await fetch(`${gw.url}/console/try/events?mode=validate`, { method: 'POST', headers: FORM, body: '{"a":1}' })
    await res.arrayBuffer()
    return res.status
  }))
  statuses.push(...tries)
  t.ok(tries.includes(429), `a burst of 40 tries is limited (${tries.filter((s) => s === 429).length} got 429)`)
  t.same(statuses.filter((s) => s >= 500), [], 'no 5xx anywhere')
})
