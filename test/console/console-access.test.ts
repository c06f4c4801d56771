import { createHash } from 'node:crypto'
import t from 'tap'
import { checkConfigCommand } from '../../src/cli/check-config-command.js'
import { FIXTURE_CONFIG_FILE, startGateway, testConfig, uniqueStream } from '../helpers/gateway.js'
import { freePort, startKinesalite } from '../helpers/kinesis-servers.js'

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const ADMIN_KEY = 'console-admin-key-for-tests'
const ADMIN_SHA = createHash('sha256').update(ADMIN_KEY).digest('hex')
const production = { NODE_ENV: 'production', METRICS_PORT: '' }

async function status (url: string, headers: Record<string, string> = {}): Promise<{ status: number, type: string, auth: string | null, code: unknown }> {
  const res = await fetch(url, { headers })
  const text = await res.text()
  let code: unknown
  try { code = (JSON.parse(text) as { code?: unknown }).code } catch { /* html */ }
  return { status: res.status, type: res.headers.get('content-type') ?? '', auth: res.headers.get('www-authenticate'), code }
}

t.test('development default: the console is open on the gateway\'s port', async (t) => {
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream: uniqueStream() } } })
  t.equal(gw.config.console.enabled, true)
  t.equal(gw.config.console.listener, 'public')
  t.match(await status(`${gw.url}/console`), { status: 200, type: /^text\/html/ })
  t.match(await status(`${gw.url}/console/feed`), { status: 200, type: /^application\/json/ })
})

t.test('production default: off, and the public port has no console', async (t) => {
  const metricsPort = await freePort()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream: uniqueStream() } }, env: { NODE_ENV: 'production', METRICS_PORT: String(metricsPort) } })
  t.equal(gw.config.console.enabled, false)
  t.match(await status(`${gw.url}/console`), { status: 404, code: 'GW_ERR_ROUTE_NOT_FOUND' })
  t.match(await status(`${gw.url}/console/feed`), { status: 404 })
  t.match(await status(`http://127.0.0.1:${metricsPort}/console`), { status: 404, code: 'GW_ERR_ROUTE_NOT_FOUND' }, 'nor the metrics listener')
  t.match(await status(`${gw.url}/docs`), { status: 200 }, 'the API documentation stays public')
})

t.test('production, console.enabled: only on the metrics listener, never on the public port', async (t) => {
  const metricsPort = await freePort()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream: uniqueStream() } },
    extra: { console: { enabled: true } },
    env: { NODE_ENV: 'production', METRICS_PORT: String(metricsPort) }
  })
  const admin = `http://127.0.0.1:${metricsPort}`
  t.match(await status(`${gw.url}/console`), { status: 404 }, 'not on the public port')
  t.match(await status(`${admin}/console`), { status: 200, type: /^text\/html/ }, 'on the metrics listener')
  t.match(await status(`${admin}/console/feed`), { status: 200 })
  t.match(await status(`${admin}/metrics`), { status: 200 })
  t.match(await status(`${admin}/nope`), { status: 404, type: /^application\/problem\+json/, code: 'GW_ERR_ROUTE_NOT_FOUND' }, 'problem+json there too')
  // The form on the metrics listener calls the gateway itself.
  const res = await fetch(`${admin}/console/try/events?mode=send`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json', 'x-kinesis-gateway-console': '1' } })
  t.match(await res.json(), { status: 200, body: { accepted: 1 } }, 'the form writes through the gateway')
})

t.test('an admin key: x-admin-key or the browser\'s login prompt', async (t) => {
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream: uniqueStream() } },
    extra: { console: { enabled: true, adminKeySha256: ADMIN_SHA }, metrics: { public: true } },
    env: production
  })
  t.equal(gw.config.console.listener, 'public')
  for (const path of ['/console', '/console/feed', '/console/console.js', '/console/channels']) {
    t.match(await status(gw.url + path), { status: 401, type: /^application\/problem\+json/, auth: /^Basic realm="kinesis-gateway console"/, code: 'GW_ERR_ADMIN_KEY_REQUIRED' }, `${path}: 401 without the key`)
    t.match(await status(gw.url + path, { 'x-admin-key': 'wrong' }), { status: 401 }, `${path}: 401 with a wrong key`)
    t.match(await status(gw.url + path, { 'x-admin-key': ADMIN_KEY }), { status: 200 }, `${path}: 200 with x-admin-key`)
    t.match(await status(gw.url + path, { authorization: 'Basic ' + Buffer.from('ops:' + ADMIN_KEY).toString('base64') }), { status: 200 }, `${path}: 200 through the login prompt`)
  }
  t.match(await status(gw.url + '/console', { authorization: 'Basic ' + Buffer.from('ops:nope').toString('base64') }), { status: 401 })
  t.match(await status(gw.url + '/console', { authorization: 'Basic !!!' }), { status: 401 }, 'garbage credentials: 401, not 5xx')
})

t.test('configuration: refused where the console would be public with partner data; check-config explains', async (t) => {
  const channels = { events: { stream: 's' } }
  t.throws(() => testConfig({ endpoint: kinesis.endpoint, channels, extra: { console: { enabled: true }, metrics: { public: true } }, env: production }),
    /console\.enabled: true would serve the console on the public port .*Fix: set console\.adminKeySha256/)
  t.throws(() => testConfig({ endpoint: kinesis.endpoint, channels, extra: { console: { adminKeySha256: 'abc' } } }),
    /console\.adminKeySha256: not a SHA-256 hex digest.*Fix: put the SHA-256/)
  t.throws(() => testConfig({ endpoint: kinesis.endpoint, channels, extra: { console: { enable: true } } }), /console\.enable: unknown key/)
  t.throws(() => testConfig({ endpoint: kinesis.endpoint, channels, extra: { console: { enabled: 'yes' } } }), /console\.enabled: must be boolean\. Fix: use true/)
  t.match(testConfig({ endpoint: kinesis.endpoint, channels }).console, { enabled: true, listener: 'public', reason: /gateway's port, without an admin key \(the development default\)/, inProduction: /^off: the production default/ })
  t.match(testConfig({ endpoint: kinesis.endpoint, channels, extra: { console: { enabled: true }, metrics: { public: true } } }).console,
    { inProduction: /^refused: .*adminKeySha256/ }, 'fine in development, and check-config says production would refuse it')

  const out: string[] = []
  const io = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => out.push(s) } }
  const file = FIXTURE_CONFIG_FILE.replace(/gateway\.test\.yaml$/, 'console-check.yaml')
  const { writeFileSync, rmSync } = await import('node:fs')
  writeFileSync(file, 'console: { enabled: true }\nchannels: { events: { stream: s, schema: schemas/any.json } }\n')
  t.teardown(() => rmSync(file, { force: true }))
  t.equal(await checkConfigCommand([file], io as never), 0)
  t.match(out.join(''), /Console \(\/console\) in development: on the gateway's port.*\n.*Console with NODE_ENV=production: on the metrics listener only \(port 9464\), not on the public port/)
})
