import { readFileSync } from 'node:fs'
import t from 'tap'
import { startGateway, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'

const DASHBOARD = new URL('../../docs/grafana/kinesis-gateway.json', import.meta.url)

interface Panel { type: string, title: string, targets?: Array<{ expr: string }> }

t.test('the Grafana dashboard queries only metrics the gateway exposes', async (t) => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[], templating: { list: Array<{ name: string }> } }
  const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((target) => target.expr)
  t.ok(exprs.length >= 15, `${exprs.length} queries`)
  const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\b(kinesis_gateway_[a-z_]+|process_start_time_seconds)\b/g)].map((m) => (m[1] as string).replace(/_(bucket|sum|count)$/, ''))))

  const kinesis = await startKinesalite()
  t.teardown(() => kinesis.close())
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream: uniqueStream() } } })
  const text = await (await fetch(`${gw.url}/metrics`)).text()
  const exposed = new Set([...text.matchAll(/^# HELP (\S+)/gm)].map((m) => m[1] as string))
  // Only registered with Redis configured (scraped-metrics.ts).
  exposed.add('kinesis_gateway_redis_shared_limits')
  t.same([...used].filter((name) => !exposed.has(name)), [], 'every metric the dashboard queries exists')
  for (const panel of ['Requests/s per channel', 'Events/s accepted', 'Receipt to acknowledgement, p50 and p99', 'Records/s sent per stream',
    'Retries/s and failures/s by error code', 'Buffer depth', 'Spool depth', 'PUT payload units/s (cost)', 'Workers', 'Redis shared limits']) {
    t.ok(dashboard.panels.some((p) => p.title.startsWith(panel)), `panel: ${panel}`)
  }
  t.same(dashboard.templating.list.map((v) => v.name), ['datasource', 'job', 'channel', 'stream'])
})
