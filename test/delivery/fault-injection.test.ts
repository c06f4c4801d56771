import t from 'tap'
import { startFaultyKinesis } from '../helpers/fault-proxy.js'
import { ALL_MODES, runScenario, type Scenario } from '../helpers/fault-scenario.js'

// Faults between the gateway and kinesalite; the 10 s outage is in fault-outage.test.ts.
const { proxy, reader } = await startFaultyKinesis(t, { seed: 42 })

const scenarios: Scenario[] = [
  { name: 'per-record ProvisionedThroughputExceededException (30% of records)', plan: { recordFailureRate: 0.3 }, modes: ALL_MODES },
  { name: 'per-record InternalFailure (20% of records)', plan: { recordFailureRate: 0.2, recordErrorCode: 'InternalFailure' }, modes: ['delivered'] },
  { name: 'whole-call throttling, ProvisionedThroughputExceededException (30% of calls)', plan: { throttleRate: 0.3 }, modes: ['delivered', 'buffered'] },
  { name: 'whole-call throttling, LimitExceededException (30% of calls)', plan: { throttleRate: 0.3, throttleCode: 'LimitExceededException' }, modes: ['delivered'] },
  { name: '500 InternalFailure (25% of calls)', plan: { internalErrorRate: 0.25 }, modes: ['delivered', 'spool'] },
  { name: 'answer dropped after the write (15% of calls)', plan: { dropAnswerRate: 0.15 }, modes: ALL_MODES },
  { name: 'added latency (150 ms per call) with 10% record failures', plan: { latencyMs: 150, recordFailureRate: 0.1 }, modes: ['delivered'] }
]

for (const scenario of scenarios) {
  for (const mode of scenario.modes) {
    t.test(`${scenario.name}, ack: ${mode}`, (t) => runScenario(t, proxy, reader, scenario, mode))
  }
}
