import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startFaultyKinesis } from '../helpers/fault-proxy.js'
import { post, startGateway, uniqueStream } from '../helpers/gateway.js'
import { audit, waitForAcked } from '../helpers/load.js'
import { readAllRecords } from '../helpers/stream-reader.js'

// Everything is bounded: while Kinesis is unreachable, a full buffer or spool answers 503 with
// Retry-After (nothing written, nothing acknowledged), and what was acknowledged is delivered
// once Kinesis is back.

const { proxy, reader } = await startFaultyKinesis(t)

/** Sends 20-event batches until the first refusal; returns the acknowledged ids and that refusal. */
async function fillUp (url: string, prefix: string, maxRequests: number): Promise<{ acked: Set<string>, refusal: Awaited<ReturnType<typeof post>> | undefined }> {
  const acked = new Set<string>()
  for (let r = 0; r < maxRequests; r++) {
    const batch = Array.from({ length: 20 }, (_, i) => ({ cid: `${prefix}-${r}-${i}`, pad: 'x'.repeat(200) }))
    const res = await post(url, JSON.stringify(batch))
    if (res.status === 202) { for (const e of batch) acked.add(e.cid); continue }
    return { acked, refusal: res }
  }
  return { acked, refusal: undefined }
}

t.test('buffered mode: a full per-stream buffer (records) answers 503 with Retry-After', async (t) => {
  const stream = uniqueStream('full')
  const gw = await startGateway(t, {
    endpoint: proxy.endpoint,
    channels: { events: { stream, ack: 'buffered' } },
    extra: { delivery: { maxBufferedRecordsPerStream: 200, retryMaxMs: 200 } }
  })
  proxy.outage(60_000)
  t.teardown(() => proxy.endOutage())
  const { acked, refusal } = await fillUp(`${gw.url}/v1/events`, 'buf', 50)
  t.equal(acked.size, 200, 'exactly the configured 200 records were accepted')
  t.equal(refusal?.status, 503)
  t.equal(refusal?.json.code, 'GW_ERR_UNAVAILABLE')
  t.equal(refusal?.headers.get('retry-after'), '1', 'Retry-After tells the client when to come back')
  t.equal(refusal?.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  t.equal(gw.app.gateway.pool.forStream(stream).bufferedRecords, 200, 'memory holds no more than the bound')

  proxy.endOutage()
  const { counts } = await waitForAcked(() => readAllRecords(reader, stream), acked, 15_000)
  const { missing, duplicates } = audit(acked, counts)
  t.equal(missing.length, 0, 'every acknowledged event arrives once Kinesis is back')
  t.comment(`duplicates: ${duplicates}`)
  t.equal((await post(`${gw.url}/v1/events`, '{"cid":"again"}')).status, 202, 'accepted again once the buffer has room')
})

t.test('delivered mode: a full buffer (bytes) answers 503 before anything is written', async (t) => {
  const stream = uniqueStream('full')
  const gw = await startGateway(t, {
    endpoint: proxy.endpoint,
    channels: { events: { stream } },
    extra: { delivery: { maxBufferedBytesPerStream: 5 * 1024 * 1024, recordDeadlineMs: 3000 } }
  })
  proxy.outage(60_000)
  t.teardown(() => proxy.endOutage())
  // One request nearly fills the 5 MiB buffer: 17 events of 300 KiB each (each below the 1 MiB record limit).
  const big = JSON.stringify(Array.from({ length: 17 }, (_, i) => ({ cid: `big-${i}`, pad: 'y'.repeat(300 * 1024) })))
  const pending = post(`${gw.url}/v1/events`, big)
  await new Promise((resolve) => setTimeout(resolve, 300))
  const refused = await post(`${gw.url}/v1/events`, big)
  t.equal(refused.status, 503)
  t.equal(refused.json.code, 'GW_ERR_UNAVAILABLE')
  t.equal(refused.headers.get('retry-after'), '1')
  const first = await pending
  t.equal(first.status, 503, 'the first request is not delivered before its deadline (Kinesis is down)')
  t.equal(first.json.code, 'GW_ERR_NOT_DELIVERED', 'and says which events were not written')
})

t.test('spool mode: a full disk budget answers 503 GW_ERR_SPOOL_FULL; spooled events ship after the outage', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kg-full-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const stream = uniqueStream('full')
  const gw = await startGateway(t, {
    endpoint: proxy.endpoint,
    channels: { events: { stream, ack: 'spool' } },
    extra: { spool: { dir, maxBytes: 1024 * 1024, segmentBytes: 64 * 1024, checkpointIntervalMs: 50 } }
  })
  proxy.outage(60_000)
  t.teardown(() => proxy.endOutage())
  const { acked, refusal } = await fillUp(`${gw.url}/v1/events`, 'spool', 1000)
  t.ok(acked.size > 1000, `the spool took ${acked.size} events before it was full`)
  t.equal(refusal?.status, 503)
  t.equal(refusal?.json.code, 'GW_ERR_SPOOL_FULL')
  t.equal(refusal?.headers.get('retry-after'), '1')
  const used = gw.app.gateway.acks.spoolOf(stream)?.stats().usedBytes ?? 0
  t.ok(used <= 1024 * 1024, `disk use (${used} bytes) stays within the budget`)

  proxy.endOutage()
  const { counts } = await waitForAcked(() => readAllRecords(reader, stream), acked, 20_000)
  const { missing, duplicates } = audit(acked, counts)
  t.equal(missing.length, 0, 'every spooled event arrives once Kinesis is back')
  t.comment(`spooled ${acked.size}, duplicates ${duplicates}`)
  // Shipped segments are deleted, so the budget frees up and requests are accepted again.
  let status = 0
  for (let i = 0; i < 100 && status !== 202; i++) {
    status = (await post(`${gw.url}/v1/events`, '{"cid":"later"}')).status
    if (status !== 202) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(status, 202, 'accepted again once shipped segments were deleted')
})
