import { gzipSync } from 'node:zlib'
import t from 'tap'
import { startGateway, post, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { rawRequest } from '../helpers/raw-http.js'

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())

const gw = await startGateway(t, {
  endpoint: kinesis.endpoint,
  channels: { events: { stream: uniqueStream() }, small: { stream: uniqueStream(), maxEventsPerRequest: 10 } },
  extra: { server: { bodyLimitBytes: 256 * 1024, headersTimeoutMs: 1_000, requestTimeoutMs: 1_500, keepAliveTimeoutMs: 500, maxHeaderBytes: 8192 } }
})
const url = `${gw.url}/v1/events`

interface Case { name: string, body: string | Buffer, headers?: Record<string, string>, status: number, code: string, path?: string }

const cases: Case[] = [
  { name: 'empty body', body: '', status: 400, code: 'GW_ERR_EMPTY_BODY' },
  { name: 'empty batch', body: '[]', status: 400, code: 'GW_ERR_EMPTY_BATCH' },
  { name: 'blank NDJSON', body: '\n\n', headers: { 'content-type': 'application/x-ndjson' }, status: 400, code: 'GW_ERR_EMPTY_BODY' },
  { name: 'JSON scalar', body: '42', status: 400, code: 'GW_ERR_NOT_AN_OBJECT' },
  { name: 'truncated JSON', body: '{"a":', status: 400, code: 'GW_ERR_MALFORMED_BODY' },
  { name: 'nesting deeper than 64', body: '['.repeat(100) + ']'.repeat(100), status: 400, code: 'GW_ERR_MALFORMED_BODY' },
  { name: 'deep nesting inside an event', body: '{"a":' + '{"b":'.repeat(80) + '1' + '}'.repeat(81), status: 400, code: 'GW_ERR_MALFORMED_BODY' },
  { name: '__proto__ key', body: '{"__proto__":{"polluted":true}}', status: 400, code: 'GW_ERR_MALFORMED_BODY' },
  { name: 'constructor.prototype key', body: '{"constructor":{"prototype":{"polluted":true}}}', status: 400, code: 'GW_ERR_MALFORMED_BODY' },
  { name: '__proto__ in NDJSON line', body: '{"a":1}\n{"__proto__":{}}', headers: { 'content-type': 'application/x-ndjson' }, status: 400, code: 'GW_ERR_MALFORMED_BODY' },
  { name: 'invalid UTF-8', body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), status: 400, code: 'GW_ERR_MALFORMED_BODY' },
  { name: 'overlong UTF-8 encoding', body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d]), status: 400, code: 'GW_ERR_MALFORMED_BODY' },
  { name: 'wrong content type', body: '<event/>', headers: { 'content-type': 'application/xml' }, status: 415, code: 'GW_ERR_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'form content type', body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, code: 'GW_ERR_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'text/plain on a channel without beacons', body: '{}', headers: { 'content-type': 'text/plain' }, status: 415, code: 'GW_ERR_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'unknown content encoding', body: '{}', headers: { 'content-type': 'application/json', 'content-encoding': 'br' }, status: 415, code: 'GW_ERR_UNSUPPORTED_ENCODING' },
  { name: 'gzip header on plain text', body: '{"a":1}', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, status: 400, code: 'GW_ERR_MALFORMED_BODY' },
  // Found by the fuzz test: nothing reads the inflater when the content type is refused; its error crashed the process.
  { name: 'corrupt gzip with an unsupported content type', body: 'not gzip', headers: { 'content-type': 'application/xml', 'content-encoding': 'gzip' }, status: 415, code: 'GW_ERR_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'body over the limit', body: JSON.stringify({ pad: 'x'.repeat(300 * 1024) }), status: 413, code: 'GW_ERR_BODY_TOO_LARGE' },
  {
    name: 'gzip bomb (20 MiB of zeros in ~20 KiB)',
    body: gzipSync(Buffer.alloc(20 * 1024 * 1024, 0x20)),
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    status: 413,
    code: 'GW_ERR_BODY_TOO_LARGE'
  },
  { name: 'huge batch', body: JSON.stringify(Array.from({ length: 11 }, () => ({}))), status: 413, code: 'GW_ERR_TOO_MANY_EVENTS', path: '/v1/small' },
  { name: 'NUL in a key outside JSON rules', body: '{"a\u0000":1}', status: 400, code: 'GW_ERR_MALFORMED_BODY' }
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    const res = await post(c.path === undefined ? url : gw.url + c.path, c.body, c.headers ?? { 'content-type': 'application/json' })
    t.equal(res.status, c.status)
    t.equal(res.json.code, c.code)
    t.match(res.headers.get('content-type'), /^application\/problem\+json/)
    t.type(res.json.detail, 'string')
  })
}

t.test('missing content type with a body', async (t) => {
  const res = await fetch(url, { method: 'POST', body: new Uint8Array(Buffer.from('{"a":1}')) })
  t.equal(res.status, 415)
  t.match(res.headers.get('content-type'), /^application\/problem\+json/)
})

t.test('URLs the router refuses: too long a channel, broken percent-encoding', async (t) => {
  const long = await post(`${gw.url}/v1/${'c'.repeat(200)}`, '{}')
  t.equal(long.status, 414)
  t.equal(long.json.code, 'GW_ERR_URL_TOO_LONG')
  const broken = await rawRequest(gw.url, ['POST /v1/%zz HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}'])
  t.equal(broken.status, 400)
  t.match(broken.text, /application\/problem\+json/)
})

t.test('headers larger than maxHeaderBytes: 431 problem+json', async (t) => {
  const res = await fetch(url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'x-big': 'a'.repeat(10_000) } })
  t.equal(res.status, 431)
  t.equal(((await res.json()) as { code: string }).code, 'GW_ERR_HEADERS_TOO_LARGE')
})

t.test('not HTTP at all: 400 problem+json and the connection is closed', async (t) => {
  const res = await rawRequest(gw.url, ['HELLO THERE\r\n\r\n'])
  t.equal(res.status, 400)
  t.match(res.text, /GW_ERR_BAD_REQUEST/)
  t.ok(res.closedByServer)
})

t.test('slowloris: a client dribbling headers is cut off after headersTimeoutMs', async (t) => {
  const dribble = ['POST /v1/events HTTP/1.1\r\nHost: localhost\r\n', ...Array.from({ length: 40 }, (_, i) => `X-Slow-${i}: a\r\n`)]
  const res = await rawRequest(gw.url, dribble, { gapMs: 150, giveUpMs: 8_000 })
  t.ok(res.closedByServer, `closed by the gateway after ${Math.round(res.closedAfterMs)} ms (the client would dribble for 6 s)`)
  t.ok(res.closedAfterMs < 5_000, 'well before the client finished')
  t.equal(res.status, 408)
  t.match(res.text, /GW_ERR_REQUEST_TIMEOUT/)
})

t.test('slow body: a client dribbling the body is cut off after requestTimeoutMs', async (t) => {
  const head = 'POST /v1/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"a":"'
  const res = await rawRequest(gw.url, [head, ...Array.from({ length: 40 }, () => 'x')], { gapMs: 150, giveUpMs: 8_000 })
  t.ok(res.closedByServer, `closed after ${Math.round(res.closedAfterMs)} ms`)
  t.ok(res.closedAfterMs < 5_000)
  t.ok(res.status < 500, `answered ${res.status}, never a 5xx`)
})

t.test('idle keep-alive connections are closed after keepAliveTimeoutMs', async (t) => {
  const res = await rawRequest(gw.url, ['GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n'], { giveUpMs: 5_000 })
  t.equal(res.status, 200)
  t.ok(res.closedByServer, `idle connection closed after ${Math.round(res.closedAfterMs)} ms`)
})

t.test('Content-Length larger than the body sent, then the client closes: no crash, gateway still serves', async (t) => {
  await rawRequest(gw.url, ['POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":1}'], { giveUpMs: 300 })
  const res = await post(url, '{"still":"alive"}')
  t.equal(res.status, 200)
})
