import { dirname, join } from 'node:path'
import t from 'tap'
import { ConfigError } from '../../src/config/config-error.js'
import { DEFAULTS } from '../../src/config/limits.js'
import { parseConfig } from '../../src/config/load-config.js'

const FILE = '/etc/kinesis-gateway/gateway.yaml'
const env = { KINESIS_ENDPOINT: 'http://127.0.0.1:4567' }

t.test('reliability keys have documented defaults', async (t) => {
  const config = parseConfig('channels: { events: { stream: events, schema: s.json } }', FILE, env)
  t.equal(config.channels.get('events')?.ack, 'delivered')
  t.equal(config.delivery.maxBufferedRecordsPerStream, DEFAULTS.maxBufferedRecordsPerStream)
  t.equal(config.delivery.maxBufferedBytesPerStream, DEFAULTS.maxBufferedBytesPerStream)
  t.equal(config.delivery.shardAware, true)
  t.equal(config.delivery.shardRecordsPerSecond, 1000)
  t.equal(config.spool.dir, join(dirname(FILE), 'spool-data'), 'the spool folder is relative to the config file')
  t.equal(config.shutdown.graceMs, 0)
  t.equal(config.shutdown.deadlineMs, DEFAULTS.shutdownDeadlineMs)
})

t.test('reliability keys are read', async (t) => {
  const config = parseConfig(`
channels: { events: { stream: events, schema: s.json, ack: spool } }
delivery: { maxBufferedRecordsPerStream: 5000, maxBufferedBytesPerStream: 10485760, shardAware: false, shardRecordsPerSecond: 500 }
spool: { dir: /var/lib/kg, maxBytes: 4194304, segmentBytes: 1048576, checkpointIntervalMs: 100 }
shutdown: { graceMs: 20000, deadlineMs: 30000 }
`, FILE, env)
  t.equal(config.channels.get('events')?.ack, 'spool')
  t.equal(config.delivery.maxBufferedRecordsPerStream, 5000)
  t.equal(config.delivery.shardAware, false)
  t.same(config.spool, { dir: '/var/lib/kg', maxBytes: 4194304, segmentBytes: 1048576, checkpointIntervalMs: 100 })
  t.same(config.shutdown, { graceMs: 20000, deadlineMs: 30000 })
})

t.test('bad values name the file, the key and the fix', async (t) => {
  const bad = (text: string): string => {
    try {
      parseConfig(text, FILE, env)
    } catch (err) {
      if (err instanceof ConfigError) return err.message
      throw err
    }
    return ''
  }
  const ack = bad('channels: { events: { stream: events, schema: s.json, ack: sometimes } }')
  t.match(ack, FILE)
  t.match(ack, 'channels.events.ack')
  t.match(ack, 'Fix: use "delivered"')
  t.match(bad('channels: { e: { stream: e, schema: s.json } }\ndelivery: { maxBufferedBytesPerStream: 1000 }'), 'delivery.maxBufferedBytesPerStream: must be >= 5242880. Fix: use at least 5242880')
  t.match(bad('channels: { e: { stream: e, schema: s.json } }\nshutdown: { graceMs: -1 }'), 'shutdown.graceMs')
  t.match(bad('channels: { e: { stream: e, schema: s.json } }\nspool: { sizeBytes: 5 }'), 'spool.sizeBytes: unknown key')
})

t.test('the spool budget must hold several segments', async (t) => {
  t.throws(() => parseConfig('channels: { e: { stream: e, schema: s.json } }\nspool: { maxBytes: 2097152, segmentBytes: 1048576 }', FILE, env),
    /spool\.segmentBytes: 1048576 is more than a quarter of spool\.maxBytes \(2097152\)\. Fix: lower spool\.segmentBytes/)
})
