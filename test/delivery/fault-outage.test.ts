import t from 'tap'
import { startFaultyKinesis } from '../helpers/fault-proxy.js'
import { ALL_MODES, runScenario } from '../helpers/fault-scenario.js'

// A 10 s Kinesis outage (every connection reset) in the middle of the load, in every ack mode.
const { proxy, reader } = await startFaultyKinesis(t, { seed: 7 })

for (const mode of ALL_MODES) {
  t.test(`a 10 s outage (connections reset) in the middle of the load, ack: ${mode}`,
    (t) => runScenario(t, proxy, reader, { name: 'outage', plan: {}, outageMs: 10_000, modes: [mode] }, mode))
}
