import t from 'tap'
import { ConfigError } from '../../src/config/config-error.js'
import { DEFAULTS } from '../../src/config/limits.js'
import { parseConfig, type Env } from '../../src/config/load-config.js'

// The per-connection limits (server.maxHeaders, maxPipelinedRequests, maxQueuedAnswerBytes,
// writeTimeoutMs) and where /metrics is served: defaults, and messages that name the key and the fix.

const CHANNELS = 'channels:\n  events: { stream: events, schema: schemas/events.json }\n'
const FILE = '/etc/kg/gateway.yaml'
const PROD: Env = { NODE_ENV: 'production', AWS_REGION: 'eu-west-1' }

function problemOf (yaml: string, env: Env = {}): string {
  try {
    parseConfig(yaml, FILE, env)
  } catch (err) {
    if (err instanceof ConfigError) return err.message
    throw err
  }
  return '(no error)'
}

t.test('defaults', async (t) => {
  const { server } = parseConfig(CHANNELS, FILE, {})
  t.equal(server.maxHeaders, 100)
  t.equal(server.maxPipelinedRequests, 16)
  t.equal(server.maxQueuedAnswerBytes, 256 * 1024)
  t.equal(server.writeTimeoutMs, 30_000)
})

t.test('set in the file', async (t) => {
  const { server } = parseConfig('server: { maxHeaders: 50, maxPipelinedRequests: 1, maxQueuedAnswerBytes: 65536, writeTimeoutMs: 5000 }\n' + CHANNELS, FILE, {})
  t.match(server, { maxHeaders: 50, maxPipelinedRequests: 1, maxQueuedAnswerBytes: 65536, writeTimeoutMs: 5000 })
})

t.test('out of range: the message names the file, the key and the fix', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['maxHeaders: 5000', /server\.maxHeaders: must be <= 1000\. Fix: use a number of request header lines from 10 to 1000/],
    ['maxPipelinedRequests: 0', /server\.maxPipelinedRequests: must be >= 1\. Fix: use a number of requests one connection may have unanswered/],
    ['maxQueuedAnswerBytes: 100', /server\.maxQueuedAnswerBytes: must be >= 16384\. Fix: give the bytes of unread answers/],
    ['writeTimeoutMs: 10', /server\.writeTimeoutMs: must be >= 100\. Fix: give the milliseconds a client may leave its answers unread/]
  ]
  for (const [setting, expected] of cases) {
    const message = problemOf(`server: { ${setting} }\n` + CHANNELS)
    t.match(message, expected, setting)
    t.match(message, FILE)
  }
})

t.test('/metrics: on the public port in development, on its own port in production', async (t) => {
  t.equal(parseConfig(CHANNELS, FILE, {}).metrics.port, undefined, 'npm start: /metrics on the public port, one curl away')
  t.equal(parseConfig(CHANNELS, FILE, PROD).metrics.port, DEFAULTS.metricsPortProduction, 'production: a listener of its own')
  t.equal(DEFAULTS.metricsPortProduction, 9464)
  t.equal(parseConfig('metrics: { public: true }\n' + CHANNELS, FILE, PROD).metrics.port, undefined, 'production, asked for: the public port')
  t.equal(parseConfig('metrics: { public: false }\n' + CHANNELS, FILE, {}).metrics.port, DEFAULTS.metricsPortProduction, 'development, asked not to')
  t.equal(parseConfig('metrics: { port: 9100 }\n' + CHANNELS, FILE, PROD).metrics.port, 9100)
  t.equal(parseConfig(CHANNELS, FILE, { ...PROD, METRICS_PORT: '9200' }).metrics.port, 9200)
  t.match(problemOf('metrics: { public: true, port: 9100 }\n' + CHANNELS, PROD),
    /gateway\.yaml: metrics\.public: true, but metrics\.port \/ METRICS_PORT \(9100\) moves \/metrics to a listener of its own\. Fix: /)
  t.match(problemOf('metrics: { public: "yes" }\n' + CHANNELS), /metrics\.public: must be boolean\. Fix: use true to serve \/metrics on the public port/)
})
