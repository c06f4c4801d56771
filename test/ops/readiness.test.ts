import t from 'tap'
import { startGateway, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { captureLog, type LogLine } from '../helpers/log-capture.js'
import { until } from '../helpers/redis.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'

// Kinesis goes away and comes back while the gateway's readiness checks run every 100 ms:
// one warning when it goes, one line when it is back, no stack traces in between.

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())

t.test('an outage is one warning and one "back" line, however many checks fail', async (t) => {
  const { lines, raw, logger } = captureLog('debug')
  const proxy = new TcpProxy(Number(new URL(kinesis.endpoint).port))
  const port = await proxy.start()
  t.teardown(() => proxy.stop())
  const gw = await startGateway(t, {
    endpoint: `http://127.0.0.1:${port}`,
    channels: { events: { stream: uniqueStream() } },
    extra: { readinessRefreshMs: 100, kinesis: { connectTimeoutMs: 200, requestTimeoutMs: 500 } },
    build: { logger }
  })
  const readiness = gw.app.gateway.readiness
  await until(() => readiness.report().ready)

  await proxy.stop()
  const warnings = (): LogLine[] => lines.filter((l) => l.level === 40 && /does not answer/.test(l.msg))
  const again = (): LogLine[] => lines.filter((l) => l.msg === 'Kinesis check failed again')
  // Several failed rounds, so that a warning per round would show.
  await until(() => again().length >= 3, 30_000)
  t.equal(warnings().length, 1, 'one warning for the outage')
  t.match(warnings()[0], { check: 'readiness', code: 'ECONNREFUSED', target: `http://127.0.0.1:${port}` })
  t.equal((await fetch(`${gw.url}/readyz`)).status, 503, '/readyz says so meanwhile')

  await proxy.start(port)
  const back = (): LogLine[] => lines.filter((l) => /answers again after \d+ s/.test(l.msg))
  await until(() => back().length === 1 && readiness.report().ready, 30_000)
  t.equal(back().length, 1, 'one line when Kinesis is back')
  t.ok((back()[0]?.failedChecks as number) >= 3)
  t.equal(warnings().length, 1, 'still one warning')
  t.notMatch(raw.join('\n'), /"stack"/, 'no stack trace in any line')
  t.equal((await fetch(`${gw.url}/readyz`)).status, 200)
})
