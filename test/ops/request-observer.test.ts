import t from 'tap'
import { loggerOptions } from '../../src/ops/logger.js'
import { post, startGateway, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { captureLog } from '../helpers/log-capture.js'

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())

const capture = (): ReturnType<typeof captureLog> => captureLog('info')

t.test('one JSON line per request, with method, route, channel, status, events, ms and the request id; no secrets, no bodies', async (t) => {
  const log = capture()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream: uniqueStream() } }, build: { logger: log.logger } })
  const secretHeaders = { 'content-type': 'application/json', 'x-api-key': 'KEY-SHOULD-NOT-APPEAR', authorization: 'Bearer TOKEN-SHOULD-NOT-APPEAR' }
  const ok = await post(`${gw.url}/v1/events`, JSON.stringify([{ marker: 'BODY-SHOULD-NOT-APPEAR' }, { n: 2 }]), { ...secretHeaders, 'x-request-id': 'client-id-42' })
  t.equal(ok.status, 200)
  t.equal(ok.headers.get('x-request-id'), 'client-id-42', 'a safe client id is kept and returned')
  const bad = await post(`${gw.url}/v1/events`, '{"marker":"BODY-SHOULD-NOT-APPEAR"', secretHeaders)
  t.equal(bad.status, 400)
  await fetch(`${gw.url}/healthz`)
  await fetch(`${gw.url}/readyz`)
  await fetch(`${gw.url}/metrics`)
  await gw.app.close()

  const requestLines = log.lines.filter((l) => l.msg === 'request')
  t.equal(requestLines.length, 2, 'one line for each of the two ingest requests, none for probes and scrapes')
  t.match(requestLines[0], { requestId: 'client-id-42', method: 'POST', route: '/v1/:channel', channel: 'events', status: 200, events: 2 })
  t.type(requestLines[0]?.ms, 'number')
  t.match(requestLines[1], { requestId: bad.json.requestId, status: 400, code: 'GW_ERR_MALFORMED_BODY', events: 0 })
  t.equal(log.lines.filter((l) => l.requestId === 'client-id-42').length, 1, 'nothing else is logged for that request')
  const all = log.raw.join('\n')
  t.notMatch(all, /SHOULD-NOT-APPEAR/, 'no API key, authorization header or event body in any line')
  t.notOk(log.lines.some((l) => typeof l.url === 'string' && l.url.includes('healthz')), 'probes are not logged')
})

t.test('unsafe or oversized x-request-id values are replaced by a generated id', async (t) => {
  const log = capture()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream: uniqueStream() } }, build: { logger: log.logger } })
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
  for (const given of ['x'.repeat(129), 'has space', 'semi;colon', '<script>', '"quoted"', '']) {
    const res = await post(`${gw.url}/v1/events`, '{"a":1}', { 'content-type': 'application/json', 'x-request-id': given })
    t.equal(res.status, 200)
    t.match(res.headers.get('x-request-id'), uuid, `${JSON.stringify(given.slice(0, 20))} is replaced`)
  }
  const max = 'a'.repeat(128)
  const kept = await post(`${gw.url}/v1/events`, '{"a":1}', { 'content-type': 'application/json', 'x-request-id': max })
  t.equal(kept.headers.get('x-request-id'), max, '128 safe characters are kept')
  const problem = await post(`${gw.url}/v1/nope`, '{}', { 'content-type': 'application/json', 'x-request-id': 'trace/1:abc=' })
  t.equal(problem.json.requestId, 'trace/1:abc=', 'the id is in problem bodies too')
})

t.test('logging.successSampleRate 0 logs failures only', async (t) => {
  const log = capture()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream: uniqueStream() } },
    extra: { logging: { successSampleRate: 0 } },
    build: { logger: log.logger }
  })
  for (let i = 0; i < 5; i++) t.equal((await post(`${gw.url}/v1/events`, '{"a":1}')).status, 200)
  t.equal((await post(`${gw.url}/v1/events`, '[]')).status, 400)
  await gw.app.close()
  const requestLines = log.lines.filter((l) => l.msg === 'request')
  t.equal(requestLines.length, 1)
  t.match(requestLines[0], { status: 400, code: 'GW_ERR_EMPTY_BATCH' })
})

t.test('credentials are redacted wherever a request or headers are logged', async (t) => {
  const log = capture()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream: uniqueStream() } }, build: { logger: log.logger } })
  gw.app.log.info({ req: { headers: { 'x-api-key': 'K1', authorization: 'A1', 'user-agent': 'ua' }, body: { secret: 1 } } }, 'with req')
  gw.app.log.info({ headers: { 'x-api-key': 'K2', authorization: 'A2' } }, 'with headers')
  await gw.app.close()
  const withReq = log.raw.find((l) => l.includes('"with req"'))
  t.ok(withReq)
  t.notMatch(withReq, /K1|A1|secret/, 'a logged request shows no credentials and no body')
  const withHeaders = log.lines.find((l) => l.msg === 'with headers') as unknown as { headers: Record<string, string> }
  t.same(withHeaders.headers, { 'x-api-key': '[redacted]', authorization: '[redacted]' })
})

t.test('log format: JSON unless asked for pretty or on a terminal', async (t) => {
  const rate = { successSampleRate: 1 }
  t.equal(loggerOptions('info', { format: 'json', ...rate }, true).format, 'json', 'json even on a terminal')
  t.equal(loggerOptions('info', { format: 'auto', ...rate }, false).format, 'json', 'auto off a terminal (containers, pipes)')
  const tty = loggerOptions('info', { format: 'auto', ...rate }, true)
  t.equal(tty.format, 'pretty')
  t.match(tty.options, { transport: { target: 'pino-pretty' } })
  t.equal(loggerOptions('debug', { format: 'pretty', ...rate }, false).format, 'pretty')
  t.equal(loggerOptions('debug', { format: 'pretty', ...rate }, false).options.level, 'debug')
})
