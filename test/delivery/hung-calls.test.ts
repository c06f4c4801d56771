import t from 'tap'
import { startFaultyKinesis } from '../helpers/fault-proxy.js'
import { post, startGateway, uniqueStream } from '../helpers/gateway.js'
import { metricValue, scrape } from '../helpers/metrics-text.js'
import { until } from '../helpers/redis.js'
import { waitForRecords } from '../helpers/stream-reader.js'

/**
 * Issue 17.3: a PutRecords call that hangs must not hold requests. The fault proxy delays every
 * call far longer than any timeout; whether an answer came before the proxy forwarded anything
 * is read off the proxy's counters, not off a clock.
 */
const HANG_MS = 8_000

t.test('a request whose records miss their deadline gets its 503 at the deadline, not when the hung call returns', async (t) => {
  const { proxy, reader } = await startFaultyKinesis(t)
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: proxy.endpoint,
    channels: { events: { stream } },
    extra: { delivery: { recordDeadlineMs: 1_500, retryBaseMs: 10, retryMaxMs: 50 } }
  })
  proxy.setPlan({ latencyMs: HANG_MS })
  const res = await post(`${gw.url}/v1/events`, JSON.stringify([{ n: 1 }, { n: 2 }]))
  t.equal(res.status, 503)
  t.equal(res.json.code, 'GW_ERR_NOT_DELIVERED')
  t.equal(res.json.notWritten, 2)
  t.ok(res.headers.get('retry-after'), 'with Retry-After')
  t.equal(proxy.counters.recordsForwarded, 0, 'answered while the call was still hanging (nothing had reached Kinesis yet)')
  t.ok(proxy.counters.putRecordsCalls >= 1)

  const m = await scrape(`${gw.url}/metrics`)
  t.ok(metricValue(m, 'kinesis_gateway_putrecords_errors_total', { stream, error_code: 'TimeoutError', retryable: 'true' }) >= 1,
    'the hung call was ended by its timeout and counted')

  // Once Kinesis answers again, the same gateway delivers.
  proxy.setPlan({})
  const ok = await post(`${gw.url}/v1/events`, JSON.stringify([{ n: 3 }]))
  t.equal(ok.status, 200)
  const got = await waitForRecords(reader, stream, 1)
  t.ok(got.some((r) => (JSON.parse(r.text) as { data: { n: number } }).data.n === 3))
})

t.test('kinesis.requestTimeoutMs ends a hung call, which is retried and then succeeds within the record deadline', async (t) => {
  const { proxy, reader } = await startFaultyKinesis(t)
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: proxy.endpoint,
    channels: { events: { stream } },
    extra: { kinesis: { requestTimeoutMs: 300 }, delivery: { recordDeadlineMs: 60_000, retryBaseMs: 10, retryMaxMs: 50 } }
  })
  proxy.setPlan({ latencyMs: HANG_MS })
  const pending = post(`${gw.url}/v1/events`, JSON.stringify([{ n: 1 }]))
  // The first call times out (counted), then Kinesis comes back: the retry writes the record.
  await until(() => proxy.counters.putRecordsCalls >= 2, 30_000)
  const m = await scrape(`${gw.url}/metrics`)
  t.ok(metricValue(m, 'kinesis_gateway_putrecords_errors_total', { stream, error_code: 'TimeoutError', retryable: 'true' }) >= 1)
  proxy.setPlan({})
  const res = await pending
  t.equal(res.status, 200, 'the request is answered once a retry is stored')
  const got = await waitForRecords(reader, stream, 1)
  t.equal((JSON.parse(got[0]?.text ?? '{}') as { data: { n: number } }).data.n, 1)
})
