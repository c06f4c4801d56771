import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { ConfigError } from '../../src/config/config-error.js'
import { DEFAULTS } from '../../src/config/limits.js'
import { loadConfig, parseConfig, parsePartitionKey } from '../../src/config/load-config.js'
import type { GatewayConfig } from '../../src/config/types.js'
import { compileChannelSchemas } from '../../src/validation/schema-registry.js'

/**
 * Configuration: a good file becomes a typed config with defaults; every bad file stops the start
 * with a ConfigError whose message names the file, the key and the fix.
 */

const ANY_SCHEMA = JSON.stringify({ type: 'object' })
const GOOD_YAML = `# a commented configuration
server:
  bodyLimitBytes: 1048576
delivery:
  lingerMs: 20
channels:
  events:
    stream: events
    schema: schemas/events.json
  orders:
    stream: orders-stream
    schema: schemas/orders.json
    partitionKey: /user/id
    record: raw
    maxEventsPerRequest: 100
  partners:
    stream: partners
    schema: schemas/events.json
    partitionKey: "header:X-Partner-Id"
`

/** A project folder with a configuration file and its schemas; returns the folder. */
function project (t: Test, yaml: string, schemas: Record<string, string> = { 'events.json': ANY_SCHEMA, 'orders.json': ANY_SCHEMA }): string {
  return t.testdir({ 'kinesis-gateway.yaml': yaml, schemas })
}

/** Runs `fn`, expects a ConfigError, and returns its message. */
async function configError (t: Test, fn: () => unknown): Promise<string> {
  try {
    await fn()
  } catch (err) {
    t.type(err, ConfigError, 'a ConfigError')
    const message = (err as Error).message
    t.match(message, /Fix: /, 'the message says how to fix it')
    return message
  }
  t.fail('expected a ConfigError')
  return ''
}

t.test('a good configuration: typed, with defaults, embedded Kinesis by default', async (t) => {
  const dir = project(t, GOOD_YAML)
  const config = await loadConfig({}, dir)
  t.equal(config.configFile, join(dir, 'kinesis-gateway.yaml'), 'the default file in the working directory')
  t.equal(config.production, false)
  t.equal(config.server.port, DEFAULTS.port)
  t.equal(config.server.host, DEFAULTS.host)
  t.equal(config.server.bodyLimitBytes, 1_048_576, 'from the file')
  t.equal(config.delivery.lingerMs, 20, 'from the file')
  t.equal(config.delivery.maxInFlightPerStream, DEFAULTS.maxInFlightPerStream, 'default')
  t.equal(config.delivery.recordDeadlineMs, DEFAULTS.recordDeadlineMs, 'default')

  t.same([...config.channels.keys()], ['events', 'orders', 'partners'])
  const events = config.channels.get('events')
  t.same(events, {
    name: 'events',
    stream: 'events',
    schemaFile: join(dir, 'schemas/events.json'),
    partitionKey: { kind: 'random' },
    record: 'envelope',
    format: 'json',
    maxEventsPerRequest: DEFAULTS.maxEventsPerRequest,
    aggregate: null,
    ack: 'delivered',
    invalid: 'reject',
    quarantine: undefined,
    version: 1,
    path: 'events',
    versioned: false,
    deprecated: null,
    maxRecordBytes: 1024 * 1024,
    access: 'open',
    corsOrigins: [],
    beacon: false
  })
  const orders = config.channels.get('orders')
  t.same(orders?.partitionKey, { kind: 'pointer', pointer: '/user/id', tokens: ['user', 'id'] })
  t.equal(orders?.record, 'raw')
  t.equal(orders?.maxEventsPerRequest, 100)
  t.same(config.channels.get('partners')?.partitionKey, { kind: 'header', header: 'x-partner-id' }, 'header names are lower-cased')

  t.equal(config.kinesis.mode, 'embedded')
  t.equal(config.kinesis.endpoint, `http://127.0.0.1:${DEFAULTS.embeddedKinesisPort}`)
  t.equal(config.kinesis.createStreams, true, 'the embedded server gets its streams created')
  t.equal(config.kinesis.localCredentials, true)

  const compiled = await compileChannelSchemas(config.channels.values(), config.configFile)
  t.same([...compiled.keys()].sort(), ['events', 'orders', 'partners'])
})

t.test('GATEWAY_CONFIG, PORT, HOST, LOG_LEVEL and KINESIS_LOCAL_PORT are read from the environment', async (t) => {
  const dir = t.testdir({ conf: { 'my.yaml': GOOD_YAML, schemas: { 'events.json': ANY_SCHEMA, 'orders.json': ANY_SCHEMA } } })
  const config = await loadConfig({ GATEWAY_CONFIG: 'conf/my.yaml', PORT: '9090', HOST: '127.0.0.1', LOG_LEVEL: 'warn', KINESIS_LOCAL_PORT: '0' }, dir)
  t.equal(config.configFile, join(dir, 'conf/my.yaml'), 'relative to the working directory')
  t.equal(config.channels.get('events')?.schemaFile, join(dir, 'conf/schemas/events.json'), 'schemas relative to the file')
  t.equal(config.server.port, 9090)
  t.equal(config.server.host, '127.0.0.1')
  t.equal(config.logLevel, 'warn')
  t.equal(config.kinesis.embeddedPort, 0)
})

t.test('the shipped default configuration is valid and its schemas compile', async (t) => {
  const root = fileURLToPath(new URL('../../', import.meta.url))
  const config = await loadConfig({}, root)
  t.ok(config.channels.has('events'), 'has the events channel')
  const compiled = await compileChannelSchemas(config.channels.values(), config.configFile)
  const validate = compiled.get('events')?.validate
  t.equal(validate?.({ key1: 'value1', key2: 'value2' }), true, 'events takes any JSON object')
})

t.test('Kinesis target: KINESIS_ENDPOINT, AWS region, or embedded', async (t) => {
  const yaml = 'channels:\n  events: { stream: events, schema: schemas/events.json }\n'
  const file = '/srv/gw/kinesis-gateway.yaml'

  const endpoint = parseConfig(yaml, file, { KINESIS_ENDPOINT: 'http://localhost:4566' }).kinesis
  t.equal(endpoint.mode, 'endpoint')
  t.equal(endpoint.endpoint, 'http://localhost:4566')
  t.equal(endpoint.localCredentials, true, 'loopback endpoint without AWS credentials: local credentials')
  t.equal(endpoint.createStreams, false, 'streams are not created unless asked')

  const https = parseConfig(yaml, file, { KINESIS_ENDPOINT: 'https://kinesis.eu-west-1.amazonaws.com', AWS_REGION: 'eu-west-1' }).kinesis
  t.equal(https.mode, 'endpoint', 'an endpoint wins over a region')
  t.equal(https.region, 'eu-west-1')
  t.equal(https.localCredentials, false, 'a remote endpoint uses the credential chain')

  const withKeys = parseConfig(yaml, file, { KINESIS_ENDPOINT: 'http://127.0.0.1:4566', AWS_ACCESS_KEY_ID: 'AKIA', KINESIS_CREATE_STREAMS: 'true' }).kinesis
  t.equal(withKeys.localCredentials, false, 'credentials in the environment are used')
  t.equal(withKeys.createStreams, true, 'KINESIS_CREATE_STREAMS=true')

  const aws = parseConfig(yaml, file, { AWS_REGION: 'eu-central-1' }).kinesis
  t.equal(aws.mode, 'aws')
  t.equal(aws.region, 'eu-central-1')
  t.equal(aws.endpoint, undefined, 'the SDK picks the regional endpoint')
  t.equal(aws.localCredentials, false)

  t.equal(parseConfig(yaml, file, { AWS_DEFAULT_REGION: 'us-west-2' }).kinesis.mode, 'aws', 'AWS_DEFAULT_REGION too')
  t.equal(parseConfig('kinesis: { region: ap-south-1 }\n' + yaml, file, {}).kinesis.mode, 'aws', 'or kinesis.region in the file')
  t.equal(parseConfig('kinesis: { endpoint: "http://10.0.0.5:4566" }\n' + yaml, file, {}).kinesis.mode, 'endpoint', 'or kinesis.endpoint in the file')

  const embedded = parseConfig(yaml, file, {}).kinesis
  t.equal(embedded.mode, 'embedded', 'nothing set: the embedded development server')

  const prodAws = parseConfig(yaml, file, { NODE_ENV: 'production', AWS_REGION: 'eu-west-1' })
  t.equal(prodAws.production, true)
  t.equal(prodAws.kinesis.mode, 'aws', 'production with a region is fine')
  t.equal(parseConfig(yaml, file, { NODE_ENV: 'production', KINESIS_ENDPOINT: 'http://kinesis:4566' }).kinesis.mode, 'endpoint')
})

t.test('Kinesis target: what chose it is recorded; KINESIS_MODE decides alone; a profile or credentials never choose', async (t) => {
  const yaml = 'channels:\n  events: { stream: events, schema: schemas/events.json }\n'
  const file = '/srv/gw/kinesis-gateway.yaml'
  const target = (env: Record<string, string>, text = yaml): Pick<GatewayConfig['kinesis'], 'mode' | 'chosenBy' | 'ignored' | 'endpoint'> => {
    const k = parseConfig(text, file, env).kinesis
    return { mode: k.mode, chosenBy: k.chosenBy, ignored: k.ignored, endpoint: k.endpoint }
  }
  t.match(target({}), { mode: 'embedded', chosenBy: 'default', ignored: [] })
  t.match(target({ AWS_DEFAULT_REGION: 'eu-west-1' }), { mode: 'aws', chosenBy: 'AWS_DEFAULT_REGION' })
  t.match(target({ AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'us-east-2' }), { mode: 'aws', chosenBy: 'AWS_REGION' })
  t.match(target({}, 'kinesis: { region: ap-south-1 }\n' + yaml), { mode: 'aws', chosenBy: 'kinesis.region' })
  t.match(target({ KINESIS_ENDPOINT: 'http://localhost:4566', AWS_REGION: 'eu-west-1' }), { mode: 'endpoint', chosenBy: 'KINESIS_ENDPOINT' })
  t.match(target({}, 'kinesis: { endpoint: "http://10.0.0.5:4566" }\n' + yaml), { mode: 'endpoint', chosenBy: 'kinesis.endpoint' })
  const ambient: Array<Record<string, string>> = [{ AWS_PROFILE: 'dev' }, { AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 'x' }, { AWS_CONFIG_FILE: '/home/u/.aws/config' }]
  for (const env of ambient) {
    t.match(target(env), { mode: 'embedded', chosenBy: 'default' }, `${Object.keys(env).join(', ')} alone do not choose AWS`)
  }

  // The way back from AWS variables in the environment: KINESIS_MODE=embedded, with what it ignored.
  const back = parseConfig(yaml, file, { KINESIS_MODE: 'embedded', AWS_DEFAULT_REGION: 'eu-west-1', KINESIS_ENDPOINT: 'http://10.0.0.5:4566' }).kinesis
  t.match(back, { mode: 'embedded', chosenBy: 'KINESIS_MODE', ignored: ['KINESIS_ENDPOINT', 'AWS_DEFAULT_REGION'], localCredentials: true, createStreams: true })
  t.equal(back.endpoint, `http://127.0.0.1:${DEFAULTS.embeddedKinesisPort}`)
  t.match(target({ KINESIS_MODE: 'aws', AWS_REGION: 'eu-west-1', KINESIS_ENDPOINT: 'http://localhost:4566' }),
    { mode: 'aws', chosenBy: 'KINESIS_MODE', ignored: ['KINESIS_ENDPOINT'], endpoint: undefined })
  t.match(target({ KINESIS_MODE: 'endpoint', KINESIS_ENDPOINT: 'http://localhost:4566', AWS_REGION: 'eu-west-1' }), { mode: 'endpoint', chosenBy: 'KINESIS_MODE', ignored: [] })
  t.match(target({ KINESIS_MODE: 'auto', AWS_REGION: 'eu-west-1' }), { mode: 'aws', chosenBy: 'AWS_REGION' }, 'auto is the default rule')

  const problem = (env: Record<string, string>): string => {
    try {
      parseConfig(yaml, file, env)
    } catch (err) {
      return (err as ConfigError).message
    }
    return 'no problem'
  }
  t.match(problem({ KINESIS_MODE: 'local' }), /KINESIS_MODE: "local"\. Fix: use embedded, endpoint, aws, or auto/)
  t.match(problem({ KINESIS_MODE: 'endpoint' }), /KINESIS_MODE: "endpoint" without an endpoint\. Fix: set KINESIS_ENDPOINT/)
  t.match(problem({ KINESIS_MODE: 'aws' }), /KINESIS_MODE: "aws" without a region\. Fix: set AWS_REGION/)
  t.match(problem({ KINESIS_MODE: 'embedded', NODE_ENV: 'production', AWS_REGION: 'eu-west-1' }), /KINESIS_MODE: "embedded" while NODE_ENV=production/)
})

t.test('NODE_ENV=production with no Kinesis settings refuses to start, saying what to set', async (t) => {
  const dir = project(t, 'channels:\n  events: { stream: events, schema: schemas/events.json }\n')
  const message = await configError(t, () => loadConfig({ NODE_ENV: 'production' }, dir))
  t.match(message, join(dir, 'kinesis-gateway.yaml'), 'names the file')
  t.match(message, /NODE_ENV=production/)
  t.match(message, /AWS_REGION/, 'says to set AWS_REGION')
  t.match(message, /KINESIS_ENDPOINT/, 'or KINESIS_ENDPOINT')
  t.match(message, /embedded development server is never used in production/)
})

t.test('a missing configuration file', async (t) => {
  const dir = t.testdir({})
  const message = await configError(t, () => loadConfig({}, dir))
  t.match(message, join(dir, 'kinesis-gateway.yaml'))
  t.match(message, /not found/)
  t.match(message, /set GATEWAY_CONFIG/)
  const named = await configError(t, () => loadConfig({ GATEWAY_CONFIG: '/nowhere/gw.yaml' }, dir))
  t.match(named, '/nowhere/gw.yaml: not found')
})

t.test('invalid YAML names the file and the line', async (t) => {
  const file = '/srv/gw/bad.yaml'
  const message = await configError(t, () => parseConfig('channels:\n  events: { stream: events, schema: [unclosed\n', file, {}))
  t.match(message, file)
  t.match(message, /not valid YAML/)
  t.match(message, /line \d+/)
  const dup = await configError(t, () => parseConfig('channels:\n  a: { stream: a, schema: s.json }\n  a: { stream: b, schema: s.json }\n', file, {}))
  t.match(dup, /unique/)
  const empty = await configError(t, () => parseConfig('', file, {}))
  t.match(empty, `${file}: the file is empty`)
  t.match(empty, /channels:/, 'shows what to write')
})

t.test('unknown keys, at every level', async (t) => {
  const file = '/srv/gw/kinesis-gateway.yaml'
  const cases: Array<[string, string]> = [
    ['chanels:\n  events: { stream: e, schema: s.json }\nchannels:\n  events: { stream: e, schema: s.json }\n', 'chanels: unknown key'],
    ['server: { bodyLimit: 10 }\nchannels:\n  events: { stream: e, schema: s.json }\n', 'server.bodyLimit: unknown key'],
    ['delivery: { linger: 10 }\nchannels:\n  events: { stream: e, schema: s.json }\n', 'delivery.linger: unknown key'],
    ['channels:\n  events: { stream: e, schema: s.json, partitionkey: random }\n', 'channels.events.partitionkey: unknown key']
  ]
  for (const [yaml, want] of cases) {
    const message = await configError(t, () => parseConfig(yaml, file, {}))
    t.match(message, `${file}: ${want}`)
    t.match(message, /Fix: remove it or check its spelling/)
  }
})

t.test('bad channel names and stream names', async (t) => {
  const file = '/srv/gw/kinesis-gateway.yaml'
  for (const name of ['Orders', 'with space', '-dash-first', 'a'.repeat(65), 'dots.not.allowed']) {
    const message = await configError(t, () => parseConfig(`channels:\n  "${name}": { stream: s, schema: s.json }\n`, file, {}))
    t.match(message, `${file}: channels: channel name "${name}" is not allowed`)
    t.match(message, /lower-case letters, digits/)
  }
  for (const stream of ['has space', 'slash/no', 'x'.repeat(129), '']) {
    const message = await configError(t, () => parseConfig(`channels:\n  events: { stream: "${stream}", schema: s.json }\n`, file, {}))
    t.match(message, `${file}: channels.events.stream:`)
    t.match(message, /Fix: use a Kinesis stream name: 1-128 characters/)
  }
  const missing = await configError(t, () => parseConfig('channels:\n  events: { schema: s.json }\n', file, {}))
  t.match(missing, `${file}: channels.events.stream: missing`)
  const noSchema = await configError(t, () => parseConfig('channels:\n  events: { stream: s }\n', file, {}))
  t.match(noSchema, `${file}: channels.events.schema: missing. Fix: give the path of a JSON Schema file`)
  const none = await configError(t, () => parseConfig('channels: {}\n', file, {}))
  t.match(none, `${file}: channels:`)
  t.match(none, /add at least one channel/)
})

t.test('other bad values name the key', async (t) => {
  const file = '/srv/gw/kinesis-gateway.yaml'
  const ch = 'channels:\n  events: { stream: e, schema: s.json }\n'
  const cases: Array<[string, RegExp]> = [
    ['server: { bodyLimitBytes: big }\n' + ch, /server\.bodyLimitBytes: must be integer/],
    ['delivery: { lingerMs: 5000 }\n' + ch, /delivery\.lingerMs: must be <= 1000/],
    ['kinesis: { endpoint: "localhost:4566" }\n' + ch, /kinesis\.endpoint: .*Fix: give a URL such as http:\/\/localhost:4566/],
    ['channels:\n  events: { stream: e, schema: s.json, record: json }\n', /channels\.events\.record: must be one of "envelope", "raw"/],
    ['channels:\n  events: { stream: e, schema: s.json, maxEventsPerRequest: 501 }\n', /channels\.events\.maxEventsPerRequest: must be <= 500/]
  ]
  for (const [yaml, want] of cases) t.match(await configError(t, () => parseConfig(yaml, file, {})), want)

  const envCases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'eighty' }, /PORT: "eighty" is not a port. Fix: use a number from 0 to 65535/],
    [{ PORT: '70000' }, /PORT: "70000" is not a port/],
    [{ KINESIS_LOCAL_PORT: '-1' }, /KINESIS_LOCAL_PORT: "-1" is not a port/],
    [{ KINESIS_ENDPOINT: 'kinesis.local:4566' }, /KINESIS_ENDPOINT: "kinesis.local:4566" is not an http\(s\) URL\. Fix: give a URL/],
    [{ KINESIS_CREATE_STREAMS: 'yes' }, /KINESIS_CREATE_STREAMS: "yes"\. Fix: use true or false/]
  ]
  for (const [env, want] of envCases) t.match(await configError(t, () => parseConfig(ch, file, env)), want)

  const several = await configError(t, () => parseConfig(ch, file, { PORT: 'x', KINESIS_CREATE_STREAMS: 'maybe' }))
  t.match(several, /2 problems/, 'every problem is listed at once')
})

t.test('bad partitionKey specs', async (t) => {
  const file = '/srv/gw/kinesis-gateway.yaml'
  for (const spec of ['user_id', 'header:', 'header:bad header', '/a~2b', '/trailing~', 'Random']) {
    const message = await configError(t, () => parseConfig(`channels:\n  events: { stream: e, schema: s.json, partitionKey: "${spec}" }\n`, file, {}))
    t.match(message, `${file}: channels.events.partitionKey: "${spec}"`)
    t.match(message, /Fix: use "random", a JSON pointer such as "\/user_id", or "header:<name>"/)
  }
  t.same(parsePartitionKey('/a~1b/c~0d'), { kind: 'pointer', pointer: '/a~1b/c~0d', tokens: ['a/b', 'c~d'] }, 'RFC 6901 escapes')
  t.same(parsePartitionKey('/'), { kind: 'pointer', pointer: '/', tokens: [''] }, 'the empty key is a valid pointer')
  t.same(parsePartitionKey('random'), { kind: 'random' })
})

t.test('schema files: missing, not JSON, not a schema', async (t) => {
  const yaml = `channels:
  events: { stream: e, schema: schemas/events.json }
  orders: { stream: o, schema: schemas/orders.json }
`
  const load = async (dir: string): Promise<GatewayConfig> => await loadConfig({}, dir)

  const missingDir = project(t, yaml, { 'events.json': ANY_SCHEMA })
  const missingConfig = await load(missingDir)
  const missing = await configError(t, () => compileChannelSchemas(missingConfig.channels.values(), missingConfig.configFile))
  t.match(missing, `${join(missingDir, 'kinesis-gateway.yaml')}: channels.orders.schema: file ${join(missingDir, 'schemas/orders.json')} not found`)
  t.match(missing, /Fix: create it .*or correct the path/)
  t.notMatch(missing, /channels\.events/, 'the good channel is not blamed')

  const noFolderDir = t.testdir({ 'kinesis-gateway.yaml': yaml })
  const noFolder = await load(noFolderDir)
  const both = await configError(t, () => compileChannelSchemas(noFolder.channels.values(), noFolder.configFile))
  t.match(both, /2 problems/)
  t.match(both, /channels\.events\.schema/)
  t.match(both, /channels\.orders\.schema/)

  const brokenDir = project(t, yaml, { 'events.json': ANY_SCHEMA, 'orders.json': '{"type": "object",' })
  const broken = await load(brokenDir)
  const notJson = await configError(t, () => compileChannelSchemas(broken.channels.values(), broken.configFile))
  t.match(notJson, `${join(brokenDir, 'schemas/orders.json')}: not a usable JSON Schema`)

  const badDir = project(t, yaml, { 'events.json': ANY_SCHEMA, 'orders.json': JSON.stringify({ type: 'no-such-type' }) })
  const bad = await load(badDir)
  const notSchema = await configError(t, () => compileChannelSchemas(bad.channels.values(), bad.configFile))
  t.match(notSchema, join(badDir, 'schemas/orders.json'))
  t.match(notSchema, /Fix: correct the (schema|file)/)
})

t.test('input formats: defaults per format, the JSON limit of 500, and a bad format names its choices', async (t) => {
  const file = '/srv/gw/kinesis-gateway.yaml'
  const config = parseConfig(`channels:
  shop: { stream: s, schema: s.json, format: segment }
  keyed: { stream: s, schema: s.json, format: segment, partitionKey: /properties/cart }
  logs: { stream: l, schema: s.json, format: otlp-logs }
  big: { stream: l, schema: s.json, format: otlp-logs, maxEventsPerRequest: 50000 }
`, file, {})
  const shop = config.channels.get('shop')
  t.equal(shop?.format, 'segment')
  t.same(shop?.partitionKey, { kind: 'format' }, 'Segment channels are keyed by userId/anonymousId unless partitionKey says otherwise')
  t.equal(shop?.maxEventsPerRequest, DEFAULTS.segmentMaxEventsPerRequest)
  t.equal(shop?.invalid, 'partial', 'format channels take events one by one')
  t.same(config.channels.get('keyed')?.partitionKey, { kind: 'pointer', pointer: '/properties/cart', tokens: ['properties', 'cart'] })
  t.same(config.channels.get('logs')?.partitionKey, { kind: 'random' })
  t.equal(config.channels.get('logs')?.maxEventsPerRequest, DEFAULTS.otlpMaxEventsPerRequest, 'room for the Collector\'s 8,192-record batches')
  t.equal(config.channels.get('big')?.maxEventsPerRequest, 50_000)

  t.match(await configError(t, () => parseConfig('channels:\n  e: { stream: e, schema: s.json, format: protobuf }\n', file, {})),
    /channels\.e\.format: must be one of "json", "segment", "otlp-logs"\. Fix: use "json"/)
  t.match(await configError(t, () => parseConfig('channels:\n  e: { stream: e, schema: s.json, maxEventsPerRequest: 600 }\n', file, {})),
    /channels\.e\.maxEventsPerRequest: must be <= 500 on a JSON channel\. Fix:/)
  t.match(await configError(t, () => parseConfig('channels:\n  e: { stream: e, schema: s.json, format: segment, invalid: reject }\n', file, {})),
    /channels\.e\.invalid: does not apply to a format: segment channel.*Fix: remove it/)
})
