import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { DeleteStreamCommand } from '@aws-sdk/client-kinesis'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import t, { type Test } from 'tap'
import { parse as parseYaml } from 'yaml'
import { PROBLEMS } from '../src/http/problems.js'
import { encodeExportRequest } from '../src/ingest/formats/otlp-proto.js'
import { startGateway, uniqueStream, type RunningGateway } from './helpers/gateway.js'
import { startKinesalite } from './helpers/kinesis-servers.js'
import { testKinesisClient } from './helpers/stream-reader.js'

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

interface Json { [key: string]: unknown }
interface ResponseDoc { description: string, headers?: Record<string, { $ref?: string, required?: boolean }>, content?: Record<string, { schema: Json }> }
interface OperationDoc { responses: Record<string, ResponseDoc | { $ref: string }> }
interface OpenApiDoc {
  openapi: string
  paths: Record<string, Record<string, OperationDoc>>
  components: { responses: Record<string, ResponseDoc>, headers: Record<string, { required?: boolean }> }
}

const DOC_ID = 'openapi.yaml'
const doc = parseYaml(readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8')) as OpenApiDoc
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const

// The whole document is one schema resource, so "#/components/..." references resolve inside it.
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false })
addFormats(ajv)
ajv.addSchema(doc as unknown as Json, DOC_ID)

function resolveResponse (r: ResponseDoc | { $ref: string }): ResponseDoc {
  if ('$ref' in r) {
    const name = r.$ref.replace('#/components/responses/', '')
    const found = doc.components.responses[name]
    if (found === undefined) throw new Error(`dangling ${r.$ref}`)
    return found
  }
  return r
}

/** The node of the document at an RFC 6901 pointer. */
function at (pointer: string): unknown {
  let node: unknown = doc
  for (const token of pointer.split('/').slice(1)) {
    node = (node as Record<string, unknown> | undefined)?.[token.replaceAll('~1', '/').replaceAll('~0', '~')]
  }
  return node
}

/** A validator for the schema found at a JSON pointer into the document (compiled once). */
const validators = new Map<string, ValidateFunction>()
function validatorAt (pointer: string): ValidateFunction {
  let v = validators.get(pointer)
  if (v === undefined) {
    v = ajv.compile({ $ref: `${DOC_ID}#${pointer}` })
    validators.set(pointer, v)
  }
  return v
}

function escape (token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1')
}

/** Where the documented response for (path, method, status) lives, as a JSON pointer to its object. */
function responsePointer (path: string, method: string, status: number): string | undefined {
  const op = doc.paths[path]?.[method]
  const r = op?.responses[String(status)]
  if (r === undefined) return undefined
  return '$ref' in r ? r.$ref.slice(1) : `/paths/${escape(path)}/${method}/responses/${status}`
}

/** Checks a real response against the document: status documented, headers present, body valid. */
async function conforms (t: Test, path: string, method: string, res: Response, label: string): Promise<Json> {
  const text = await res.text()
  const pointer = responsePointer(path, method, res.status)
  t.ok(pointer, `${label}: ${method.toUpperCase()} ${path} documents status ${res.status}`)
  const documented = pointer === undefined ? undefined : at(pointer) as ResponseDoc
  const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? ''
  // Binary answers (OTLP protobuf) are checked for their documented media type only.
  const binary = mediaType === 'application/x-protobuf'
  const body = text === '' || binary ? {} : JSON.parse(text) as Json
  if (documented === undefined || pointer === undefined) return body
  for (const [name, header] of Object.entries(documented.headers ?? {})) {
    const required = header.$ref !== undefined ? doc.components.headers[header.$ref.split('/').pop() as string]?.required : header.required
    if (required === true) t.ok(res.headers.get(name), `${label}: header ${name} is present`)
  }
  if (text === '' && documented.content === undefined) return body // an answer documented without a body (204)
  const content = documented.content?.[mediaType]
  t.ok(content, `${label}: content type ${mediaType} is documented for ${res.status}`)
  if (content !== undefined && !binary) {
    const validate = validatorAt(`${pointer}/content/${escape(mediaType)}/schema`)
    t.ok(validate(body), `${label}: body matches the documented schema`, { errors: validate.errors, body })
  }
  return body
}

t.test('the code enum is exactly the error table; each code is documented under its HTTP status', async (t) => {
  const codes = (doc as unknown as { components: { schemas: { ProblemCode: { enum: string[] } } } }).components.schemas.ProblemCode.enum
  t.same([...codes].sort(), Object.keys(PROBLEMS).sort(), 'ProblemCode enum = Object.keys(PROBLEMS)')
  t.equal(new Set(codes).size, codes.length, 'no duplicates')

  // Collect, per documented status, the codes its response schemas name.
  const documented = new Map<string, Set<number>>()
  const collect = (node: unknown, status: number): void => {
    if (node === null || typeof node !== 'object') return
    const code = (node as { properties?: { code?: { enum?: string[], const?: string } } }).properties?.code
    for (const c of code?.enum ?? (code?.const !== undefined ? [code.const] : [])) {
      if (!documented.has(c)) documented.set(c, new Set())
      documented.get(c)?.add(status)
    }
    for (const value of Object.values(node)) {
      if (typeof value === 'object' && value !== null && '$ref' in value) {
        const ref = (value as { $ref: string }).$ref
        if (ref.startsWith('#/components/schemas/') && ref !== '#/components/schemas/Problem') {
          collect((doc as unknown as { components: { schemas: Record<string, unknown> } }).components.schemas[ref.split('/').pop() as string], status)
        }
      }
      collect(value, status)
    }
  }
  for (const ops of Object.values(doc.paths)) {
    for (const op of Object.values(ops)) {
      for (const [status, r] of Object.entries(op.responses)) collect(resolveResponse(r), Number(status))
    }
  }
  for (const [code, { status }] of Object.entries(PROBLEMS)) {
    t.same([...(documented.get(code) ?? [])], [status], `${code} is documented under ${status} only`)
  }
})

/** One OTLP log record that the `logs` channel's schema takes (severity INFO). */
const otlpRequest = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: '1767225600000000000', severityNumber: 9, body: { stringValue: 'hello' } }] }] }] }

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const admin = testKinesisClient(kinesis.endpoint)
t.teardown(() => admin.destroy())

/** Fastify's route table, as "METHOD /path" (HEAD routes are Fastify's automatic companions of GET). */
function routesOf (gw: RunningGateway): Set<string> {
  const out = new Set<string>()
  const stack: string[] = []
  for (const line of gw.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+)(?: \(([^)]+)\))?/.exec(line)
    if (m === null) continue
    const depth = (m[1] ?? '').length / 4
    stack.length = depth
    const path = (stack[depth - 1] ?? '') + (m[2] ?? '')
    stack[depth] = path
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      // Swagger UI's own files under /docs/ (its page, script and assets) are not API routes.
      if (method !== 'HEAD' && !path.startsWith('/docs/')) out.add(`${method} ${path}`)
    }
  }
  return out
}

t.test('against the running app: documented routes exist, no other route answers, responses match', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: {
      events: { stream },
      orders: { stream, schema: 'schemas/order.json', partitionKey: '/user_id' },
      small: { stream, maxEventsPerRequest: 2 },
      queued: { stream, ack: 'buffered' },
      segment: { stream, format: 'segment' },
      logs: { stream, format: 'otlp-logs', schema: 'schemas/otlp-no-debug.json' },
      partial: { stream, schema: 'schemas/order.json', invalid: 'partial' }
    },
    extra: { server: { bodyLimitBytes: 1_500_000 } }
  })

  const documented = new Set<string>()
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const method of METHODS) if (ops[method] !== undefined) documented.add(`${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`)
  }
  t.same([...routesOf(gw)].sort(), [...documented].sort(), 'the route table is exactly the documented routes')
  for (const route of documented) {
    const [method, url] = route.split(' ') as [string, string]
    t.ok(gw.app.hasRoute({ method: method as 'GET', url }), `${route} exists`)
  }

  // Undocumented paths answer 404 GW_ERR_ROUTE_NOT_FOUND; a documented path asked with another
  // method answers 405 GW_ERR_METHOD_NOT_ALLOWED with Allow (both documented as such).
  for (const [method, url, status, allow] of [['GET', '/v1/events', 405, 'OPTIONS, POST'], ['PUT', '/v1/events', 405, 'OPTIONS, POST'], ['DELETE', '/healthz', 405, 'GET, HEAD'],
    ['POST', '/readyz', 405, 'GET, HEAD'], ['POST', '/v1/events/schema', 405, 'GET, HEAD'], ['GET', '/', 404, null], ['GET', '/v2/events', 404, null], ['POST', '/v1/events/extra', 404, null]] as const) {
    const res = await fetch(gw.url + url, { method, ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}', headers: { 'content-type': 'application/json' } }) })
    t.equal(res.status, status, `${method} ${url}: ${status}`)
    t.equal(res.headers.get('allow'), allow, `${method} ${url}: Allow ${String(allow)}`)
    const body = await conforms(t, '/v1/{channel}', 'post', res, `${method} ${url}`)
    t.equal(body.code, status === 404 ? 'GW_ERR_ROUTE_NOT_FOUND' : 'GW_ERR_METHOD_NOT_ALLOWED')
  }

  // Per-event outcomes, the published schema and the channel list, as documented.
  const multi = await fetch(`${gw.url}/v1/partial`, { method: 'POST', body: '[{"order_id":"o1","user_id":"u1","amount":1},{"order_id":2}]', headers: { 'content-type': 'application/json' } })
  t.equal(multi.status, 207)
  t.match(await conforms(t, '/v1/{channel}', 'post', multi, '207'), { accepted: 1, rejected: 1 })
  const schema = await fetch(`${gw.url}/v1/orders/schema`)
  t.equal(schema.status, 200)
  t.equal(schema.headers.get('content-type'), 'application/schema+json; charset=utf-8')
  t.match(await conforms(t, '/v1/{channel}/schema', 'get', schema, 'schema'), { $id: 'order.json', definitions: { 'common.json': { $id: 'common.json' } } })
  const etag = schema.headers.get('etag') ?? ''
  t.match(etag, /^"[A-Za-z0-9_-]+"$/)
  const again = await fetch(`${gw.url}/v1/orders/schema`, { headers: { 'if-none-match': etag } })
  t.equal(again.status, 304, 'If-None-Match with the ETag: 304')
  const list = await conforms(t, '/v1/channels', 'get', await fetch(`${gw.url}/v1/channels`), 'channels') as { channels: Array<{ name: string, schema_etag: string }> }
  t.same(list.channels.map((c) => c.name).sort(), ['events', 'logs', 'orders', 'partial', 'queued', 'segment', 'small'])
  t.equal(list.channels.find((c) => c.name === 'orders')?.schema_etag, etag, 'the list names each schema\'s version (its ETag)')

  const ingest = '/v1/{channel}'
  const send = async (channel: string, body: string | Uint8Array, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> =>
    await fetch(`${gw.url}/v1/${channel}`, { method: 'POST', body, headers })
  const cases: Array<[string, () => Promise<Response>, number, string | null]> = [
    ['one object', async () => await send('events', '{"key1":"value1","key2":"value2"}'), 200, null],
    ['a batch', async () => await send('events', '[{"a":1},{"a":2},{"a":3}]'), 200, null],
    ['NDJSON', async () => await send('events', '{"a":1}\n{"a":2}\n', { 'content-type': 'application/x-ndjson' }), 200, null],
    ['gzip', async () => await send('events', gzipSync('[{"z":1}]'), { 'content-type': 'application/json', 'content-encoding': 'gzip' }), 200, null],
    ['client request id', async () => await send('events', '{"a":1}', { 'content-type': 'application/json', 'x-request-id': 'my-id-1' }), 200, null],
    ['ack: buffered', async () => await send('queued', '[{"q":1},{"q":2}]'), 202, null],
    ['unknown channel', async () => await send('nope', '{}'), 404, 'GW_ERR_UNKNOWN_CHANNEL'],
    ['text/plain', async () => await send('events', '{}', { 'content-type': 'text/plain' }), 415, 'GW_ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['brotli', async () => await send('events', '{}', { 'content-type': 'application/json', 'content-encoding': 'br' }), 415, 'GW_ERR_UNSUPPORTED_ENCODING'],
    ['malformed JSON', async () => await send('events', '{"a":'), 400, 'GW_ERR_MALFORMED_BODY'],
    ['malformed NDJSON line', async () => await send('events', '{"a":1}\n{oops\n', { 'content-type': 'application/x-ndjson' }), 400, 'GW_ERR_MALFORMED_BODY'],
    ['bad gzip', async () => await send('events', 'not gzip', { 'content-type': 'application/json', 'content-encoding': 'gzip' }), 400, 'GW_ERR_MALFORMED_BODY'],
    ['empty body', async () => await send('events', ''), 400, 'GW_ERR_EMPTY_BODY'],
    ['a number', async () => await send('events', '42'), 400, 'GW_ERR_NOT_AN_OBJECT'],
    ['empty batch', async () => await send('events', '[]'), 400, 'GW_ERR_EMPTY_BATCH'],
    ['schema failures', async () => await send('orders', '[{"order_id":"o1","user_id":"u1","amount":1},{"order_id":2,"amount":-1},"x"]'), 400, 'GW_ERR_INVALID_EVENTS'],
    ['body too large', async () => await send('events', JSON.stringify({ big: 'x'.repeat(1_600_000) })), 413, 'GW_ERR_BODY_TOO_LARGE'],
    ['event too large', async () => await send('events', JSON.stringify({ big: 'x'.repeat(1_100_000) })), 413, 'GW_ERR_EVENT_TOO_LARGE'],
    ['too many events', async () => await send('small', '[{},{},{}]'), 413, 'GW_ERR_TOO_MANY_EVENTS'],
    ['Segment batch, one message invalid', async () => await send('segment', JSON.stringify({ batch: [{ type: 'track', userId: 'u1', event: 'E' }, { type: 'track', userId: 'u1' }] })), 200, null],
    ['Segment, nothing valid', async () => await send('segment', '{"type":"identify"}'), 400, 'GW_ERR_INVALID_EVENTS'],
    ['OTLP/JSON', async () => await send('logs', JSON.stringify(otlpRequest)), 200, null],
    ['OTLP/JSON, one record rejected', async () => await send('logs', JSON.stringify({ resourceLogs: [...otlpRequest.resourceLogs, { scopeLogs: [{ logRecords: [{ severityNumber: 1 }] }] }] })), 200, null],
    ['OTLP/protobuf', async () => await send('logs', encodeExportRequest(otlpRequest), { 'content-type': 'application/x-protobuf' }), 200, null],
    ['OTLP/JSON, not a request', async () => await send('logs', '42'), 400, 'RpcStatus'],
    ['OTLP/protobuf, not a request', async () => await send('logs', Buffer.from([0xff, 0xff, 0xff]), { 'content-type': 'application/x-protobuf' }), 400, 'binary'],
    ['protobuf on a JSON channel', async () => await send('events', Buffer.from([0x0a, 0x00]), { 'content-type': 'application/x-protobuf' }), 415, 'GW_ERR_UNSUPPORTED_MEDIA_TYPE']
  ]
  for (const [label, request, status, code] of cases) {
    const res = await request()
    t.equal(res.status, status, `${label}: status ${status}`)
    const body = await conforms(t, ingest, 'post', res, label)
    if (code === 'RpcStatus' || code === 'binary') {
      t.equal(res.headers.get('content-type')?.split(';')[0], code === 'binary' ? 'application/x-protobuf' : 'application/json', `${label}: a google.rpc.Status`)
    } else if (code !== null) {
      t.equal(body.code, code, `${label}: ${code}`)
      t.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
    }
    if (label === 'client request id') t.equal(res.headers.get('x-request-id'), 'my-id-1')
    if (label === 'schema failures') {
      t.same((body.errors as Array<{ index: number }>).map((e) => e.index).filter((i, n, all) => all.indexOf(i) === n), [1, 2], 'errors[] names the failing events')
    }
  }

  t.equal((await conforms(t, '/healthz', 'get', await fetch(gw.url + '/healthz'), 'healthz')).status, 'ok')
  const ready = await conforms(t, '/readyz', 'get', await fetch(gw.url + '/readyz'), 'readyz')
  t.equal(ready.ready, true)
})

t.test('503s: events not delivered (with per-event results) and readiness lost, when the stream is deleted', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream } },
    extra: { delivery: { recordDeadlineMs: 300, retryBaseMs: 20, retryMaxMs: 50 }, readinessRefreshMs: 100 }
  })
  t.equal((await fetch(gw.url + '/readyz')).status, 200)
  await admin.send(new DeleteStreamCommand({ StreamName: stream }))

  const res = await fetch(`${gw.url}/v1/events`, { method: 'POST', body: '[{"a":1},{"a":2}]', headers: { 'content-type': 'application/json' } })
  t.equal(res.status, 503)
  const body = await conforms(t, '/v1/{channel}', 'post', res, 'not delivered')
  t.equal(body.code, 'GW_ERR_NOT_DELIVERED')
  t.equal(body.notWritten, 2)
  t.match(res.headers.get('retry-after'), /^\d+$/)

  let readyRes: Response | undefined
  for (let i = 0; i < 50; i++) {
    readyRes = await fetch(gw.url + '/readyz')
    if (readyRes.status === 503) break
    await readyRes.text()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(readyRes?.status, 503)
  if (readyRes !== undefined) {
    const ready = await conforms(t, '/readyz', 'get', readyRes, 'readyz not ready')
    t.equal((ready.streams as Record<string, string>)[stream], 'MISSING')
  }
})

t.test('front door: keys, limits, quota, idempotency, CORS, beacons, dry runs and preflights match the document', async (t) => {
  const stream = uniqueStream()
  const sha = (key: string): string => createHash('sha256').update(key).digest('hex')
  const SHOP = 'https://shop.example.com'
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: {
      keyed: { stream },
      narrow: { stream, rateLimit: { perSecond: 1, burst: 1 } },
      orders: { stream, schema: 'schemas/order.json', partitionKey: '/user_id' },
      web: { stream, access: 'open', cors: [SHOP], beacon: true },
      session: { stream, access: 'open', cors: [SHOP], partitionKey: 'header:x-session' }
    },
    extra: {
      apiKeys: {
        partner: { sha256: sha('partner-key'), channels: ['keyed', 'narrow', 'orders'] },
        metered: { sha256: sha('metered-key'), dailyQuota: 1 }
      }
    }
  })
  const json = (key?: string, more: Record<string, string> = {}): Record<string, string> =>
    ({ 'content-type': 'application/json', ...(key === undefined ? {} : { 'x-api-key': key }), ...more })
  const post = async (path: string, body: string, headers: Record<string, string>): Promise<Response> =>
    await fetch(gw.url + path, { method: 'POST', body, headers })
  const preflight = async (path: string, origin?: string): Promise<Response> =>
    await fetch(gw.url + path, { method: 'OPTIONS', headers: { ...(origin === undefined ? {} : { origin }), 'access-control-request-method': 'POST' } })

  const ingest = '/v1/{channel}'
  const validate = '/v1/{channel}/validate'
  const cases: Array<[string, string, string, () => Promise<Response>, number, string | null]> = [
    ['no key', ingest, 'post', async () => await post('/v1/keyed', '{"a":1}', json()), 401, 'GW_ERR_API_KEY_MISSING'],
    ['unknown key', ingest, 'post', async () => await post('/v1/keyed', '{"a":1}', json('nope')), 401, 'GW_ERR_API_KEY_INVALID'],
    ['key not allowed here', ingest, 'post', async () => await post('/v1/web', '{"a":1}', json('partner-key', { origin: SHOP })), 403, 'GW_ERR_API_KEY_FORBIDDEN'],
    ['foreign origin', ingest, 'post', async () => await post('/v1/web', '{"a":1}', json(undefined, { origin: 'https://evil.example' })), 403, 'GW_ERR_ORIGIN_NOT_ALLOWED'],
    ['first with Idempotency-Key', ingest, 'post', async () => await post('/v1/keyed', '{"a":1}', json('partner-key', { 'idempotency-key': 'oa-1' })), 200, null],
    ['replay', ingest, 'post', async () => await post('/v1/keyed', '{"a":1}', json('partner-key', { 'idempotency-key': 'oa-1' })), 200, null],
    ['key reused', ingest, 'post', async () => await post('/v1/keyed', '{"a":2}', json('partner-key', { 'idempotency-key': 'oa-1' })), 422, 'GW_ERR_IDEMPOTENCY_KEY_REUSED'],
    ['bad Idempotency-Key', ingest, 'post', async () => await post('/v1/keyed', '{"a":1}', json('partner-key', { 'idempotency-key': 'not a key' })), 400, 'GW_ERR_BAD_IDEMPOTENCY_KEY'],
    ['beacon', ingest, 'post', async () => await post('/v1/web', '[{"page":"/cart"}]', { 'content-type': 'text/plain;charset=UTF-8', origin: SHOP }), 200, null],
    ['within the rate limit', ingest, 'post', async () => await post('/v1/narrow', '{"a":1}', json('partner-key')), 200, null],
    ['rate limited', ingest, 'post', async () => await post('/v1/narrow', '{"a":1}', json('partner-key')), 429, 'GW_ERR_RATE_LIMITED'],
    ['dry run rate limited', validate, 'post', async () => await post('/v1/narrow/validate', '{"a":1}', json('partner-key')), 429, 'GW_ERR_RATE_LIMITED'],
    ['within the quota', ingest, 'post', async () => await post('/v1/keyed', '{"a":1}', json('metered-key')), 200, null],
    ['over the quota', ingest, 'post', async () => await post('/v1/keyed', '{"a":1}', json('metered-key')), 429, 'GW_ERR_QUOTA_EXCEEDED'],
    ['dry run valid', validate, 'post', async () => await post('/v1/orders/validate', '{"order_id":"o1","user_id":"u1","amount":1}', json('partner-key')), 200, null],
    ['dry run invalid', validate, 'post', async () => await post('/v1/orders/validate', '[{"order_id":"o1","user_id":"u1","amount":1},{"order_id":2,"amount":-1},"x"]', json('partner-key')), 200, null],
    ['dry run NDJSON', validate, 'post', async () => await post('/v1/keyed/validate', '{"a":1}\n{"a":2}\n', { 'content-type': 'application/x-ndjson', 'x-api-key': 'partner-key' }), 200, null],
    ['dry run without key', validate, 'post', async () => await post('/v1/keyed/validate', '{"a":1}', json()), 401, 'GW_ERR_API_KEY_MISSING'],
    ['dry run empty batch', validate, 'post', async () => await post('/v1/keyed/validate', '[]', json('partner-key')), 400, 'GW_ERR_EMPTY_BATCH'],
    ['dry run unknown channel', validate, 'post', async () => await post('/v1/nope/validate', '{}', json()), 404, 'GW_ERR_UNKNOWN_CHANNEL'],
    ['preflight', ingest, 'options', async () => await preflight('/v1/session', SHOP), 204, null],
    ['dry run preflight', validate, 'options', async () => await preflight('/v1/web/validate', SHOP), 204, null],
    ['preflight from a foreign origin', validate, 'options', async () => await preflight('/v1/web/validate', 'https://evil.example'), 403, 'GW_ERR_ORIGIN_NOT_ALLOWED'],
    ['preflight without cors', ingest, 'options', async () => await preflight('/v1/keyed', SHOP), 403, 'GW_ERR_ORIGIN_NOT_ALLOWED'],
    ['preflight of an unknown channel', ingest, 'options', async () => await preflight('/v1/nope', SHOP), 404, 'GW_ERR_UNKNOWN_CHANNEL']
  ]
  const bodies = new Map<string, Json>()
  for (const [label, path, method, request, status, code] of cases) {
    const res = await request()
    t.equal(res.status, status, `${label}: status ${status}`)
    const body = await conforms(t, path, method, res, label)
    bodies.set(label, body)
    if (code !== null) t.equal(body.code, code, `${label}: ${code}`)
    if (label === 'replay') t.equal(res.headers.get('idempotent-replayed'), 'true', 'replay: idempotent-replayed')
    if (label === 'rate limited') t.equal(res.headers.get('x-ratelimit-remaining'), '0')
    if (['beacon', 'key not allowed here', 'preflight'].includes(label)) t.equal(res.headers.get('access-control-allow-origin'), SHOP, `${label}: CORS`)
  }
  t.same(bodies.get('replay'), bodies.get('first with Idempotency-Key'), 'the replay is the first answer')
  t.match(bodies.get('dry run valid'), { valid: true, events: 1, passed: 1, failed: 0, errors: [] })
  t.match(bodies.get('dry run invalid'), { valid: false, events: 3, passed: 1, failed: 2 })
})

t.test('the document served (/openapi.json, /openapi.yaml, /docs) and the console routes, as documented', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { orders: { stream, schema: 'schemas/order.json', partitionKey: '/user_id' } }
  })
  const asJson = await fetch(`${gw.url}/openapi.json`)
  t.same(await conforms(t, '/openapi.json', 'get', asJson, 'openapi.json'), doc, '/openapi.json is the tested document')
  const asYaml = await fetch(`${gw.url}/openapi.yaml`)
  t.equal(asYaml.status, 200)
  t.equal(await asYaml.text(), readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8'), '/openapi.yaml is the file itself')
  const ui = await fetch(`${gw.url}/docs`)
  t.equal(ui.status, 200)
  t.match(ui.headers.get('content-type'), /^text\/html/)
  t.match(await ui.text(), /swagger/i, '/docs is Swagger UI')
  const uiConfig = await fetch(`${gw.url}/docs/json`)
  t.same(await uiConfig.json(), doc, 'Swagger UI renders the same document')

  for (const [path, type] of [['/console', 'text/html'], ['/console/console.js', 'text/javascript'], ['/console/console.css', 'text/css']] as const) {
    const res = await fetch(gw.url + path)
    t.equal(res.status, 200, `${path}: 200`)
    t.equal((res.headers.get('content-type') ?? '').split(';')[0], type, `${path}: ${type}`)
    t.match(res.headers.get('content-security-policy'), /default-src 'none'/, `${path}: CSP`)
    await res.arrayBuffer()
  }
  await (await fetch(`${gw.url}/v1/orders`, { method: 'POST', body: '{"order_id":1}', headers: { 'content-type': 'application/json' } })).arrayBuffer()
  const feed = await conforms(t, '/console/feed', 'get', await fetch(`${gw.url}/console/feed`), 'feed')
  t.match(feed, { channels: [{ name: 'orders', requests: 1, requestsRejected: 1 }], rejections: [{ channel: 'orders', status: 400, code: 'GW_ERR_INVALID_EVENTS' }] })
  const channels = await conforms(t, '/console/channels', 'get', await fetch(`${gw.url}/console/channels`), 'channels')
  t.match(channels, { channels: [{ name: 'orders', example: { order_id: 'order_id-1', user_id: 'user_id-1', amount: 0 } }] }, 'a valid example from the schema')
  const form = { 'content-type': 'application/json', 'x-kinesis-gateway-console': '1' }
  for (const [label, url, status] of [['try', '/console/try/orders?mode=validate', 200], ['try an unknown channel', '/console/try/nope?mode=send', 404],
    ['try without a mode', '/console/try/orders', 400]] as const) {
    const res = await fetch(gw.url + url, { method: 'POST', body: '{"order_id":"o"}', headers: form })
    t.equal(res.status, status, `${label}: ${status}`)
    const body = await conforms(t, '/console/try/{channel}', 'post', res, label)
    if (status === 200) t.match(body, { status: 200, body: { valid: false, errors: [{ index: 0, pointer: '/user_id' }] } }, 'the dry run answer, as the gateway gave it')
  }
})
