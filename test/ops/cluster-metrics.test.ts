import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { pidsServing, startClusterGateway } from '../helpers/cluster-gateway.js'
import { uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { metricValue, parseExposition } from '../helpers/metrics-text.js'

/** One request on a connection of its own, so node:cluster hands the requests to both workers. */
async function send (url: string, body: string): Promise<number> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', connection: 'close' } })
  await res.arrayBuffer()
  return res.status
}

async function scrapeFresh (url: string): Promise<ReturnType<typeof parseExposition>> {
  const res = await fetch(url, { headers: { connection: 'close' } })
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`)
  return parseExposition(await res.text())
}

t.test('WORKERS=2: every scrape reports the whole gateway, exact totals, never going backwards', async (t) => {
  const kinesis = await startKinesalite()
  t.teardown(() => kinesis.close())
  const stream = uniqueStream()
  const gw = await startClusterGateway(t, {
    dir: mkdtempSync(join(tmpdir(), 'kgw-cluster-metrics-')),
    endpoint: kinesis.endpoint,
    workers: 2,
    channels: { events: { stream, record: 'raw' }, orders: { stream, schema: 'schemas/order.json' } }
  })
  t.equal(new Set(gw.pids).size, 2, 'two workers')

  const first = 40
  const statuses = await Promise.all(Array.from({ length: first }, async (_, i) => await send(`${gw.url}/v1/events`, JSON.stringify({ i }))))
  t.ok(statuses.every((s) => s === 200), `${first} events acknowledged`)
  const refused = await Promise.all(Array.from({ length: 6 }, async () => await send(`${gw.url}/v1/orders`, '{"order_id":1}')))
  t.ok(refused.every((s) => s === 400), '6 invalid events refused')
  t.equal(pidsServing(gw.output(), '/v1/:channel').size, 2, 'both workers answered some of them')

  const check = (samples: ReturnType<typeof parseExposition>, accepted: number, label: string): void => {
    t.equal(metricValue(samples, 'kinesis_gateway_events_accepted_total', { channel: 'events' }), accepted, `${label}: events accepted = ${accepted}`)
    t.equal(metricValue(samples, 'kinesis_gateway_http_requests_total', { channel: 'events', status: '200' }), accepted, `${label}: 200 answers = ${accepted}`)
    t.equal(metricValue(samples, 'kinesis_gateway_records_sent_total', { stream }), accepted, `${label}: records sent = ${accepted}`)
    t.equal(metricValue(samples, 'kinesis_gateway_ack_duration_seconds_count', { channel: 'events' }), accepted, `${label}: histogram count merged = ${accepted}`)
    t.equal(metricValue(samples, 'kinesis_gateway_ack_duration_seconds_bucket', { channel: 'events', le: '+Inf' }), accepted, `${label}: +Inf bucket merged`)
    t.equal(metricValue(samples, 'kinesis_gateway_events_rejected_total', { channel: 'orders' }), 6, `${label}: events rejected = 6`)
    t.equal(metricValue(samples, 'kinesis_gateway_workers'), 2, `${label}: both workers answered`)
    t.equal(metricValue(samples, 'kinesis_gateway_info'), 1, `${label}: info is taken once, not summed`)
  }
  // Each scrape on a new connection: whichever worker takes it, the figures are the gateway's.
  for (let i = 0; i < 6; i++) check(await scrapeFresh(`${gw.url}/metrics`), first, `scrape ${i + 1}`)

  // More traffic between scrapes: totals only grow, by exactly what was sent.
  let previous = first
  for (const batch of [7, 13]) {
    const more = await Promise.all(Array.from({ length: batch }, async (_, i) => await send(`${gw.url}/v1/events`, JSON.stringify({ batch, i }))))
    t.ok(more.every((s) => s === 200))
    const samples = await scrapeFresh(`${gw.url}/metrics`)
    const now = metricValue(samples, 'kinesis_gateway_events_accepted_total', { channel: 'events' })
    t.ok(now >= previous, `never backwards (${previous} -> ${now})`)
    previous += batch
    check(samples, previous, `after ${batch} more`)
  }

  // The console's feed is the whole gateway too: both workers, the same totals, both rings.
  const res = await fetch(`${gw.url}/console/feed`, { headers: { connection: 'close' } })
  t.equal(res.status, 200)
  const feed = await res.json() as { gateway: { workers: Array<{ pid: number }> }, channels: Array<{ name: string, eventsAccepted: number }>, rejections: Array<{ pid: number }> }
  t.same(feed.gateway.workers.map((w) => w.pid).sort(), [...gw.pids].sort(), 'the feed lists both workers')
  t.equal(feed.channels.find((c) => c.name === 'events')?.eventsAccepted, previous, 'the feed sums the workers')
  t.equal(feed.rejections.length, 6, 'the rejections of both workers')
  const refusing = new Set(gw.output().split('\n').filter((l) => l.includes('"status":400')).map((l) => (JSON.parse(l) as { pid: number }).pid))
  t.same([...new Set(feed.rejections.map((r) => r.pid))].sort(), [...refusing].sort(), 'gathered from every worker that refused one')
})
