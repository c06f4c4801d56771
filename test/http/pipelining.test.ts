import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { startGateway, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { cidCounts } from '../helpers/load.js'
import { pipeline, rawPost, type PipelineResult } from '../helpers/raw-http.js'
import { testKinesisClient, waitForRecords } from '../helpers/stream-reader.js'

// Pipelined requests on one connection (RFC 9112 section 9.3.2), over raw sockets against the real
// gateway with kinesalite behind it. The rule under test: nothing is written to Kinesis that is not
// answered, and every answer goes to the request it belongs to (answers in request order).

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

const stream = uniqueStream('pipeline')
const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream } } })

/**
 * `sent[i]` is the id of the i-th request (undefined for a bad one). Every id answered 2xx must be
 * in the stream once, and every id of this test in the stream must have been answered 2xx.
 */
async function auditStream (t: Test, sent: ReadonlyArray<string | undefined>, res: PipelineResult): Promise<void> {
  const answered = new Set(sent.filter((cid, i): cid is string => cid !== undefined && (res.answers[i]?.status ?? 0) < 300 && (res.answers[i]?.status ?? 0) >= 200))
  const records = await waitForRecords(reader, stream, 1, 5_000)
  t.ok(records.every((r) => isJson(r.text)), 'every record is one valid JSON line')
  const counts = cidCounts(records.filter((r) => isJson(r.text)))
  for (const cid of answered) t.equal(counts.get(cid), 1, `answered ${cid} is in the stream once`)
  const unanswered = [...counts.keys()].filter((cid) => cid.startsWith(prefix) && !answered.has(cid))
  t.same(unanswered, [], 'nothing in the stream that was not answered')
}

function isJson (text: string): boolean {
  try { JSON.parse(text); return true } catch { return false }
}

let prefix = ''
function good (): { cid: string, raw: string } {
  const cid = `${prefix}${randomUUID()}`
  return { cid, raw: rawPost('/v1/events', JSON.stringify({ cid })) }
}
function statuses (r: PipelineResult): number[] { return r.answers.map((a) => a.status) }

t.beforeEach(() => { prefix = `${randomUUID().slice(0, 8)}-` })

t.test('good, malformed JSON, good: three answers in order and both good events written once', async (t) => {
  const a = good()
  const c = good()
  const res = await pipeline(gw.url, [a.raw, rawPost('/v1/events', '{"cid": oops'), c.raw])
  t.same(statuses(res), [200, 400, 200], 'the third request is answered too')
  t.match(JSON.parse(res.answers[1]?.body ?? '{}'), { code: 'GW_ERR_MALFORMED_BODY' })
  t.notOk(res.closedByServer, 'the connection stays usable after a 400 whose body was read whole')
  await auditStream(t, [a.cid, undefined, c.cid], res)
})

t.test('a schema/parse error between good requests in an NDJSON pipeline keeps the connection', async (t) => {
  const a = good()
  const c = good()
  const badNdjson = 'POST /v1/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-ndjson\r\nContent-Length: 9\r\n\r\n{"a":1}\nx'
  const res = await pipeline(gw.url, [a.raw, badNdjson, c.raw])
  t.same(statuses(res), [200, 400, 200])
  await auditStream(t, [a.cid, undefined, c.cid], res)
})

t.test('good, then bytes that are not HTTP: the good one is answered first, then 400, then close', async (t) => {
  const a = good()
  const res = await pipeline(gw.url, [a.raw, 'NOT HTTP AT ALL\r\n\r\n'], { expect: 3 })
  t.same(statuses(res), [200, 400], 'answers in request order: the event written is answered 200')
  t.match(JSON.parse(res.answers[1]?.body ?? '{}'), { code: 'GW_ERR_BAD_REQUEST' })
  t.ok(res.closedByServer, 'then the gateway closes (the parser cannot find the next request)')
  await auditStream(t, [a.cid], res)
})

t.test('good, good, then a broken Content-Length: both good ones answered before the 400', async (t) => {
  const a = good()
  const b = good()
  const broken = 'POST /v1/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1x\r\n\r\n{}'
  const res = await pipeline(gw.url, [a.raw, b.raw, broken], { expect: 4 })
  t.same(statuses(res), [200, 200, 400])
  await auditStream(t, [a.cid, b.cid], res)
})

t.test('a body over the limit, refused before it was read, closes the connection; nothing after it was started', async (t) => {
  const small = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream } }, extra: { server: { bodyLimitBytes: 1024 } } })
  const a = good()
  const big = `POST /v1/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${4 * 1024 * 1024}\r\n\r\n{"pad":"`
  const res = await pipeline(small.url, [a.raw, big], { expect: 3 })
  t.same(statuses(res), [200, 413])
  t.ok(res.closedByServer, 'closed: the rest of a 4 MiB body is not worth reading')
  await auditStream(t, [a.cid], res)
})
