import t from 'tap'
import { startFaultProxy } from '../helpers/fault-proxy.js'
import { ALL_MODES, runScenario } from '../helpers/fault-scenario.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { testKinesisClient } from '../helpers/stream-reader.js'

// A 10 s Kinesis outage (every connection reset) in the middle of the load, in every ack mode.
const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const proxy = await startFaultProxy(kinesis.endpoint, { seed: 7 })
t.teardown(() => proxy.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

for (const mode of ALL_MODES) {
  t.test(`a 10 s outage (connections reset) in the middle of the load, ack: ${mode}`,
    (t) => runScenario(t, proxy, reader, { name: 'outage', plan: {}, outageMs: 10_000, modes: [mode] }, mode))
}
