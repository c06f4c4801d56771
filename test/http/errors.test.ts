import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { gzipSync } from 'node:zlib'
import t, { type Test } from 'tap'
import { MAX_JSON_DEPTH } from '../../src/http/body-parsers.js'
import { startGateway, post, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { readAllRecords, testKinesisClient, waitForRecords } from '../helpers/stream-reader.js'

/**
 * Every class of client mistake, over real HTTP against the real app with kinesalite behind it.
 * Each answer must be a 4xx RFC 9457 problem (never a 5xx), say what is wrong, and write nothing.
 */

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

const SMALL_BODY_LIMIT = 64 * 1024
const streams = { events: uniqueStream(), small: uniqueStream(), limited: uniqueStream() }

// One gateway with the default limits (5 MiB bodies, 500 events), one channel with a lower event count.
const gw = await startGateway(t, {
  endpoint: kinesis.endpoint,
  channels: { events: { stream: streams.events }, small: { stream: streams.small, maxEventsPerRequest: 3 } }
})
// One gateway with a small body limit, for body-size and gzip-bomb cases.
const limited = await startGateway(t, {
  endpoint: kinesis.endpoint,
  channels: { events: { stream: streams.limited } },
  extra: { server: { bodyLimitBytes: SMALL_BODY_LIMIT } }
})

interface Reply { status: number, contentType: string, json: Record<string, unknown> }
interface EventError { index: number, pointer: string, reason: string }

const JSON_TYPE = { 'content-type': 'application/json' }
const NDJSON_TYPE = { 'content-type': 'application/x-ndjson' }

async function send (url: string, body: string | Uint8Array | undefined, headers: Record<string, string> = JSON_TYPE, method = 'POST'): Promise<Reply> {
  const res = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}) })
  const text = await res.text()
  let json: Record<string, unknown>
  try { json = JSON.parse(text) as Record<string, unknown> } catch { json = { unparsed: text } }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', json }
}

/** Sends bytes on a fresh TCP connection (to get Content-Length wrong on purpose) and parses the answer. */
async function sendRaw (url: string, head: string, body: string | Buffer, endWrite: boolean): Promise<Reply> {
  const { hostname, port } = new URL(url)
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), allowHalfOpen: true })
    let out = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer; got ${JSON.stringify(out)}`)) }, 10_000)
    socket.on('data', (chunk: Buffer) => { out += chunk.toString('utf8') })
    socket.on('close', () => { clearTimeout(timer); resolve(out) })
    socket.on('end', () => socket.end())
    socket.on('error', () => { /* a reset after the answer is fine; 'close' follows */ })
    socket.write(Buffer.concat([Buffer.from(head + '\r\n\r\n'), Buffer.from(body)]))
    if (endWrite) socket.end()
  })
  // The last answer: a request framed by a Content-Length shorter than its body is answered first
  // (pipelined requests are answered in order), then what follows it, which is not HTTP.
  const [headerText = '', bodyText = ''] = text.slice(Math.max(0, text.lastIndexOf('HTTP/1.1 '))).split('\r\n\r\n')
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headerText)?.[1] ?? 0)
  const contentType = /\r\ncontent-type: ([^\r]*)/i.exec(headerText)?.[1] ?? ''
  let json: Record<string, unknown>
  try { json = JSON.parse(bodyText) as Record<string, unknown> } catch { json = { unparsed: text } }
  return { status, contentType, json }
}

/** A chunked upload (no Content-Length), so the limit is enforced while the body streams in. */
async function sendChunked (url: string, chunks: readonly Buffer[], headers: Record<string, string>): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => {
        let json: Record<string, unknown>
        try { json = JSON.parse(text) as Record<string, unknown> } catch { json = { unparsed: text } }
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), json })
      })
    })
    // The gateway may answer and close before the whole upload went out: that is the point.
    req.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err) })
    for (const c of chunks) req.write(c)
    req.end()
  })
}

interface Expect {
  status: number
  code: string
  /** What the detail must say (the useful part). */
  detail: RegExp
  /** Expected [index, pointer] of each entry of errors[], in order. */
  errors?: Array<[number, string]>
}

/** Asserts a well-formed RFC 9457 problem with the expected status, code, detail and errors. */
function assertProblem (t: Test, res: Reply, want: Expect): void {
  t.equal(res.status, want.status, `status ${want.status}`)
  t.ok(res.status >= 400 && res.status < 500, 'a client error, never a 5xx')
  t.match(res.contentType, /^application\/problem\+json/, 'problem+json')
  t.equal(res.json.code, want.code, `code ${want.code}`)
  t.equal(res.json.status, want.status, 'status repeated in the body')
  t.match(res.json.type, /^urn:kinesis-gateway:problem:/, 'type URI')
  t.type(res.json.title, 'string', 'title')
  t.match(res.json.detail, want.detail, 'detail says what is wrong')
  if (want.errors !== undefined) {
    const errors = res.json.errors as EventError[] | undefined
    t.same(errors?.map((e) => [e.index, e.pointer]), want.errors, 'errors[] index and pointer')
    t.ok(errors?.every((e) => typeof e.reason === 'string' && e.reason.length > 0), 'each error has a reason')
  }
}

/** Records each stream should hold: only what tests wrote on purpose with a valid request. */
const expected: Record<keyof typeof streams, number> = { events: 0, small: 0, limited: 0 }

/** Ends each case: the rejected requests wrote nothing to any stream (read back with GetRecords). */
async function assertNothingWritten (t: Test): Promise<void> {
  for (const key of Object.keys(streams) as Array<keyof typeof streams>) {
    const records = await readAllRecords(reader, streams[key])
    t.equal(records.length, expected[key], `stream ${key} holds only the records written on purpose`)
  }
}

t.test('unknown channel, unknown routes and bad URLs: 404, 400, 414', async (t) => {
  assertProblem(t, await send(`${gw.url}/v1/nope`, '{"a":1}'),
    { status: 404, code: 'GW_ERR_UNKNOWN_CHANNEL', detail: /"nope".*events, small/ })
  assertProblem(t, await send(`${gw.url}/v2/events`, '{"a":1}'),
    { status: 404, code: 'GW_ERR_ROUTE_NOT_FOUND', detail: /POST \/v2\/events.*POST \/v1\/<channel>/ })
  // A known path with another method: 405 with Allow (issue 13), not 404.
  assertProblem(t, await send(`${gw.url}/v1/x`, undefined, {}, 'GET'),
    { status: 405, code: 'GW_ERR_METHOD_NOT_ALLOWED', detail: /GET is not allowed on \/v1\/x; it answers OPTIONS, POST/ })
  const get = await fetch(`${gw.url}/v1/events`)
  t.equal(get.status, 405)
  t.equal(get.headers.get('allow'), 'OPTIONS, POST')
  assertProblem(t, await send(`${gw.url}/v1/events`, undefined, {}, 'DELETE'),
    { status: 405, code: 'GW_ERR_METHOD_NOT_ALLOWED', detail: /DELETE is not allowed on \/v1\/events/ })
  assertProblem(t, await send(`${gw.url}/v1/events/extra`, '{"a":1}'),
    { status: 404, code: 'GW_ERR_ROUTE_NOT_FOUND', detail: /POST \/v1\/events\/extra/ })
  // Router errors: a malformed percent-encoding, and a channel segment longer than any channel name.
  assertProblem(t, await send(`${gw.url}/v1/%E0%A4%A`, '{"a":1}'),
    { status: 400, code: 'GW_ERR_BAD_REQUEST', detail: /malformed percent-encoding/ })
  assertProblem(t, await send(`${gw.url}/v1/${'c'.repeat(500)}`, '{"a":1}'),
    { status: 414, code: 'GW_ERR_URL_TOO_LONG', detail: /at most 64 characters/ })
  await assertNothingWritten(t)
})

t.test('content type and content encoding', async (t) => {
  for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded']) {
    assertProblem(t, await send(`${gw.url}/v1/events`, '{"a":1}', { 'content-type': type }),
      { status: 415, code: 'GW_ERR_UNSUPPORTED_MEDIA_TYPE', detail: /Content-Type .*(is not accepted here|accepted only).*application\/json.*application\/x-ndjson/ })
  }
  // A Uint8Array body: fetch adds no Content-Type of its own.
  assertProblem(t, await send(`${gw.url}/v1/events`, Buffer.from('{"a":1}'), {}),
    { status: 415, code: 'GW_ERR_UNSUPPORTED_MEDIA_TYPE', detail: /"\(none\)".*application\/json/ })
  // No Content-Type and no body at all.
  assertProblem(t, await send(`${gw.url}/v1/events`, undefined, {}),
    { status: 400, code: 'GW_ERR_EMPTY_BODY', detail: /no body/ })
  for (const encoding of ['br', 'compress', 'zstd', 'gzip, br']) {
    assertProblem(t, await send(`${gw.url}/v1/events`, gzipSync('{"a":1}'), { ...JSON_TYPE, 'content-encoding': encoding }),
      { status: 415, code: 'GW_ERR_UNSUPPORTED_ENCODING', detail: /is not supported; send gzip, deflate or no encoding/ })
  }
  await assertNothingWritten(t)
})

t.test('empty and malformed bodies: 400', async (t) => {
  assertProblem(t, await send(`${gw.url}/v1/events`, ''),
    { status: 400, code: 'GW_ERR_EMPTY_BODY', detail: /empty/ })
  assertProblem(t, await send(`${gw.url}/v1/events`, '', NDJSON_TYPE),
    { status: 400, code: 'GW_ERR_EMPTY_BODY', detail: /empty/ })
  assertProblem(t, await send(`${gw.url}/v1/events`, '\n\n  \n', NDJSON_TYPE),
    { status: 400, code: 'GW_ERR_EMPTY_BODY', detail: /no events/ })
  for (const bad of ['{"a":', '{a:1}', "{'a':1}", '[{"a":1},]', '{"a":1} {"b":2}', 'undefined', '{"a":1}\n{"b":2}']) {
    assertProblem(t, await send(`${gw.url}/v1/events`, bad),
      { status: 400, code: 'GW_ERR_MALFORMED_BODY', detail: /not valid JSON/ })
  }
  await assertNothingWritten(t)
})

t.test('NDJSON: a bad line is named by its index', async (t) => {
  const res = await send(`${gw.url}/v1/events`, '{"ok":1}\n{"ok":2}\n{"broken":\n{"ok":4}\n', NDJSON_TYPE)
  assertProblem(t, res, { status: 400, code: 'GW_ERR_MALFORMED_BODY', detail: /Line 3 of the NDJSON body/, errors: [[2, '']] })
  // Blank lines are skipped and do not count: the index is that of the event.
  const blank = await send(`${gw.url}/v1/events`, '{"ok":1}\n\n[1,\n', NDJSON_TYPE)
  assertProblem(t, blank, { status: 400, code: 'GW_ERR_MALFORMED_BODY', detail: /NDJSON/, errors: [[1, '']] })
  // A line that is JSON but not an object is a validation error at its index.
  const scalar = await send(`${gw.url}/v1/events`, '{"ok":1}\n42\n{"ok":3}\nnull', NDJSON_TYPE)
  assertProblem(t, scalar, { status: 400, code: 'GW_ERR_INVALID_EVENTS', detail: /2 of 4 event/, errors: [[1, ''], [3, '']] })
  await assertNothingWritten(t)
})

t.test('JSON that is not an object or an array of objects', async (t) => {
  for (const [body, kind] of [['42', 'number'], ['"text"', 'string'], ['true', 'boolean'], ['null', 'null']] as const) {
    assertProblem(t, await send(`${gw.url}/v1/events`, body),
      { status: 400, code: 'GW_ERR_NOT_AN_OBJECT', detail: new RegExp(`JSON ${kind}; send a JSON object`) })
  }
  assertProblem(t, await send(`${gw.url}/v1/events`, '[]'),
    { status: 400, code: 'GW_ERR_EMPTY_BATCH', detail: /empty array/ })
  const mixed = await send(`${gw.url}/v1/events`, '[{"a":1}, 2, {"b":2}, [3], null, "s"]')
  assertProblem(t, mixed, {
    status: 400,
    code: 'GW_ERR_INVALID_EVENTS',
    detail: /4 of 6 event\(s\).*nothing was written/,
    errors: [[1, ''], [3, ''], [4, ''], [5, '']]
  })
  t.match((mixed.json.errors as EventError[])[0]?.reason, /must be a JSON object/)
  await assertNothingWritten(t)
})

t.test('too many events in one request: 413', async (t) => {
  const four = JSON.stringify([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }])
  assertProblem(t, await send(`${gw.url}/v1/small`, four),
    { status: 413, code: 'GW_ERR_TOO_MANY_EVENTS', detail: /holds 4 events; channel small takes at most 3/ })
  assertProblem(t, await send(`${gw.url}/v1/small`, '{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n', NDJSON_TYPE),
    { status: 413, code: 'GW_ERR_TOO_MANY_EVENTS', detail: /holds 4 events; channel small takes at most 3/ })
  const over = JSON.stringify(Array.from({ length: 501 }, (_, n) => ({ n })))
  assertProblem(t, await send(`${gw.url}/v1/events`, over),
    { status: 413, code: 'GW_ERR_TOO_MANY_EVENTS', detail: /holds 501 events; channel events takes at most 500/ })
  await assertNothingWritten(t)
})

t.test('body too large: 413, by Content-Length, while streaming, and after gzip inflation', async (t) => {
  const big = JSON.stringify({ pad: 'x'.repeat(SMALL_BODY_LIMIT) })
  assertProblem(t, await send(`${limited.url}/v1/events`, big),
    { status: 413, code: 'GW_ERR_BODY_TOO_LARGE', detail: new RegExp(`\\(${SMALL_BODY_LIMIT} bytes, counted after decompression\\)`) })

  const chunk = Buffer.from('{"pad":"' + 'y'.repeat(16 * 1024) + '"}\n')
  const chunks = Array.from({ length: 8 }, () => chunk)
  assertProblem(t, await sendChunked(`${limited.url}/v1/events`, chunks, NDJSON_TYPE),
    { status: 413, code: 'GW_ERR_BODY_TOO_LARGE', detail: /counted after decompression/ })

  // A gzip bomb: 8 MiB of JSON that compresses to a few KiB, far under the limit on the wire.
  const bomb = gzipSync(JSON.stringify({ pad: ' '.repeat(8 * 1024 * 1024) }))
  t.ok(bomb.length < SMALL_BODY_LIMIT / 4, `the compressed body is small (${bomb.length} bytes)`)
  assertProblem(t, await send(`${limited.url}/v1/events`, bomb, { ...JSON_TYPE, 'content-encoding': 'gzip' }),
    { status: 413, code: 'GW_ERR_BODY_TOO_LARGE', detail: /counted after decompression/ })
  assertProblem(t, await sendChunked(`${limited.url}/v1/events`, [bomb], { ...JSON_TYPE, 'content-encoding': 'gzip' }),
    { status: 413, code: 'GW_ERR_BODY_TOO_LARGE', detail: /counted after decompression/ })
  await assertNothingWritten(t)
})

t.test('corrupt gzip: 400', async (t) => {
  const good = gzipSync('{"a":1}')
  const garbage = Buffer.concat([good.subarray(0, 10), Buffer.from('this is not deflate data at all')])
  assertProblem(t, await send(`${gw.url}/v1/events`, garbage, { ...JSON_TYPE, 'content-encoding': 'gzip' }),
    { status: 400, code: 'GW_ERR_MALFORMED_BODY', detail: /could not be decompressed as gzip/ })
  assertProblem(t, await send(`${gw.url}/v1/events`, Buffer.from('{"a":1}'), { ...JSON_TYPE, 'content-encoding': 'gzip' }),
    { status: 400, code: 'GW_ERR_MALFORMED_BODY', detail: /could not be decompressed as gzip/ })
  const truncated = good.subarray(0, good.length - 6)
  assertProblem(t, await send(`${gw.url}/v1/events`, truncated, { ...JSON_TYPE, 'content-encoding': 'gzip' }),
    { status: 400, code: 'GW_ERR_MALFORMED_BODY', detail: /could not be decompressed as gzip/ })
  assertProblem(t, await send(`${gw.url}/v1/events`, Buffer.from('not zlib'), { ...JSON_TYPE, 'content-encoding': 'deflate' }),
    { status: 400, code: 'GW_ERR_MALFORMED_BODY', detail: /could not be decompressed as deflate/ })
  await assertNothingWritten(t)
})

t.test('an event larger than a Kinesis record (1 MiB with its partition key): 413 naming its index', async (t) => {
  const huge = { blob: 'z'.repeat(1024 * 1024) }
  const res = await send(`${gw.url}/v1/events`, JSON.stringify([{ small: 1 }, huge, { small: 2 }]))
  assertProblem(t, res, { status: 413, code: 'GW_ERR_EVENT_TOO_LARGE', detail: /1 event\(s\) cannot be stored as one Kinesis record/, errors: [[1, '']] })
  t.match((res.json.errors as EventError[])[0]?.reason, /bytes as a Kinesis record.*the limit is 1048576/)
  const single = await send(`${gw.url}/v1/events`, JSON.stringify(huge))
  assertProblem(t, single, { status: 413, code: 'GW_ERR_EVENT_TOO_LARGE', detail: /Kinesis record/, errors: [[0, '']] })
  await assertNothingWritten(t)
})

t.test('invalid UTF-8: 400', async (t) => {
  const bytes = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')])
  assertProblem(t, await send(`${gw.url}/v1/events`, bytes, JSON_TYPE),
    { status: 400, code: 'GW_ERR_MALFORMED_BODY', detail: /not valid UTF-8/ })
  assertProblem(t, await send(`${gw.url}/v1/events`, Buffer.concat([Buffer.from('{"ok":1}\n'), bytes]), NDJSON_TYPE),
    { status: 400, code: 'GW_ERR_MALFORMED_BODY', detail: /not valid UTF-8/ })
  await assertNothingWritten(t)
})

t.test('prototype-poisoning keys: 400', async (t) => {
  for (const body of ['{"__proto__":{"admin":true}}', '[{"a":1},{"b":{"__proto__":{"x":1}}}]', '{"constructor":{"prototype":{"admin":true}}}']) {
    assertProblem(t, await send(`${gw.url}/v1/events`, body),
      { status: 400, code: 'GW_ERR_MALFORMED_BODY', detail: /forbidden prototype property/ })
  }
  assertProblem(t, await send(`${gw.url}/v1/events`, '{"ok":1}\n{"__proto__":{"x":1}}', NDJSON_TYPE),
    { status: 400, code: 'GW_ERR_MALFORMED_BODY', detail: /Line 2.*forbidden prototype property/, errors: [[1, '']] })
  await assertNothingWritten(t)
})

t.test(`nesting deeper than ${MAX_JSON_DEPTH} levels: 400`, async (t) => {
  const deep = (levels: number): string => '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1)
  assertProblem(t, await send(`${gw.url}/v1/events`, deep(MAX_JSON_DEPTH + 1)),
    { status: 400, code: 'GW_ERR_MALFORMED_BODY', detail: new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels`) })
  assertProblem(t, await send(`${gw.url}/v1/events`, '[' + '['.repeat(100_000) + ']'.repeat(100_000) + ']'),
    { status: 400, code: 'GW_ERR_MALFORMED_BODY', detail: /nested deeper/ })
  assertProblem(t, await send(`${gw.url}/v1/events`, '{"ok":1}\n' + deep(MAX_JSON_DEPTH + 1), NDJSON_TYPE),
    { status: 400, code: 'GW_ERR_MALFORMED_BODY', detail: /Line 2.*nested deeper/, errors: [[1, '']] })
  // Brackets inside strings do not count.
  const stringy = await send(`${gw.url}/v1/events`, JSON.stringify({ text: '['.repeat(200) }))
  t.equal(stringy.status, 200, 'brackets inside strings are not nesting')
  expected.events += 1
  await assertNothingWritten(t)
})

t.test('HTTP framing errors (Content-Length mismatch, oversized headers): problem+json too', async (t) => {
  const head = (length: string, extra = ''): string =>
    `POST /v1/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${length}${extra}`
  // Longer than the body, and the client stops sending.
  assertProblem(t, await sendRaw(gw.url, head('50'), '{"a":1}', true),
    { status: 400, code: 'GW_ERR_BAD_REQUEST', detail: /Content-Length longer than the body/ })
  // Shorter than the body: the rest is not a request (answered after the 400 of the request
  // Content-Length delimits, whose three bytes are not JSON).
  // With "Connection: close" the bytes after that request are not read at all (RFC 9112 section 9.6).
  assertProblem(t, await sendRaw(gw.url, head('3', '\r\nConnection: close'), '{"a":1}', false),
    { status: 400, code: 'GW_ERR_MALFORMED_BODY', detail: /not valid JSON/ })
  assertProblem(t, await sendRaw(gw.url, head('3', '\r\nConnection: keep-alive'), '{"a":1}', false),
    { status: 400, code: 'GW_ERR_BAD_REQUEST', detail: /Content-Length shorter than the body/ })
  assertProblem(t, await sendRaw(gw.url, head('3'), '{"a":1}', false),
    { status: 400, code: 'GW_ERR_BAD_REQUEST', detail: /Content-Length/ })
  assertProblem(t, await sendRaw(gw.url, head('seven'), '{"a":1}', false),
    { status: 400, code: 'GW_ERR_BAD_REQUEST', detail: /Content-Length header is not a valid length/ })
  assertProblem(t, await sendRaw(gw.url, head('7', '\r\nTransfer-Encoding: chunked'), '7\r\n{"a":1}\r\n0\r\n\r\n', false),
    { status: 400, code: 'GW_ERR_BAD_REQUEST', detail: /together with Content-Length/ })
  // Headers past Node's limit (16 KiB) are refused by the parser too.
  assertProblem(t, await sendRaw(gw.url, head('7', `\r\nX-Big: ${'h'.repeat(20 * 1024)}`), '{"a":1}', false),
    { status: 431, code: 'GW_ERR_HEADERS_TOO_LARGE', detail: /headers are larger than the server accepts/ })
  // With gzip, Content-Length counts the compressed bytes.
  assertProblem(t, await sendRaw(gw.url, head('100', '\r\nContent-Encoding: gzip'), gzipSync('{"a":1}'), true),
    { status: 400, code: 'GW_ERR_BAD_REQUEST', detail: /Content-Length longer than the body/ })
  await assertNothingWritten(t)
})

t.test('after all of that, valid requests still succeed and are written', async (t) => {
  const one = await post(`${gw.url}/v1/events`, '{"key1":"value1", "key2":"value2"}')
  t.equal(one.status, 200)
  t.equal(one.json.accepted, 1)
  const three = await post(`${gw.url}/v1/small`, '{"n":1}\n{"n":2}\n{"n":3}', NDJSON_TYPE)
  t.equal(three.status, 200)
  t.equal(three.json.accepted, 3)
  const zipped = await post(`${limited.url}/v1/events`, gzipSync(JSON.stringify({ pad: 'p'.repeat(SMALL_BODY_LIMIT - 100) })),
    { ...JSON_TYPE, 'content-encoding': 'gzip' })
  t.equal(zipped.status, 200, 'a gzip body that inflates to just under the limit passes')

  // Same connection: a request refused before its body was read (unknown channel), then a valid one.
  // The unread body must be skipped, not taken for the next request.
  const { hostname, port } = new URL(gw.url)
  const pipelined = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) })
    let out = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer; got ${JSON.stringify(out)}`)) }, 10_000)
    socket.on('data', (chunk: Buffer) => { out += chunk.toString('utf8') })
    socket.on('close', () => { clearTimeout(timer); resolve(out) })
    const junk = '{"pad":"' + 'POST /v1/events HTTP/1.1\\r\\n'.repeat(2_000) + '"}'
    socket.write(`POST /v1/nope HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${junk.length}\r\n\r\n${junk}`)
    socket.write('POST /v1/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{"second":2}')
  })
  t.same([...pipelined.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]), ['404', '200'], 'the 404 then the valid request, on one connection')

  expected.events += 2
  expected.small += 3
  expected.limited += 1
  const written = {
    events: await waitForRecords(reader, streams.events, expected.events),
    small: await waitForRecords(reader, streams.small, 3),
    limited: await waitForRecords(reader, streams.limited, 1)
  }
  t.same(written.events.map((r) => (JSON.parse(r.text) as { data: unknown }).data).slice(-2), [{ key1: 'value1', key2: 'value2' }, { second: 2 }])
  t.same(written.small.map((r) => (JSON.parse(r.text) as { data: unknown }).data), [{ n: 1 }, { n: 2 }, { n: 3 }])
  t.equal(written.limited.length, 1)
  await assertNothingWritten(t)
})
