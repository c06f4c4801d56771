import { randomUUID } from 'node:crypto'
import t from 'tap'
import { startFaultProxy, type FaultPlan } from '../helpers/fault-proxy.js'
import { startGateway, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { audit, cidCounts, sendLoad } from '../helpers/load.js'
import { readAllRecords, testKinesisClient } from '../helpers/stream-reader.js'

/**
 * Issue 2 and 3: faults injected between the gateway and a real emulator (kinesalite) while
 * thousands of events with unique ids are sent concurrently through the real app. At the end the
 * stream is read back with GetRecords: every acknowledged id must be there. Duplicates may only
 * come from calls that were written but whose answer was lost, and are reported.
 */

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const proxy = await startFaultProxy(kinesis.endpoint, { seed: 42 })
t.teardown(() => proxy.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

const EVENTS = 2000
const BATCH = 20
const CONCURRENCY = 16

const delivery = { recordDeadlineMs: 30_000, retryBaseMs: 20, retryMaxMs: 400, lingerMs: 5 }

interface Scenario { name: string, plan: FaultPlan, outageMs?: number }

const scenarios: Scenario[] = [
  { name: 'per-record ProvisionedThroughputExceededException (30% of records)', plan: { recordFailureRate: 0.3 } },
  { name: 'per-record InternalFailure (20% of records)', plan: { recordFailureRate: 0.2, recordErrorCode: 'InternalFailure' } },
  { name: 'whole-call throttling, ProvisionedThroughputExceededException (30% of calls)', plan: { throttleRate: 0.3 } },
  { name: 'whole-call throttling, LimitExceededException (30% of calls)', plan: { throttleRate: 0.3, throttleCode: 'LimitExceededException' } },
  { name: '500 InternalFailure (25% of calls)', plan: { internalErrorRate: 0.25 } },
  { name: 'answer dropped after the write (15% of calls)', plan: { dropAnswerRate: 0.15 } },
  { name: 'added latency (150 ms per call) with 10% record failures', plan: { latencyMs: 150, recordFailureRate: 0.1 } },
  { name: 'a 10 s outage (connections reset) in the middle of the load', plan: {}, outageMs: 10_000 }
]

for (const scenario of scenarios) {
  t.test(scenario.name, async (t) => {
    const stream = uniqueStream('fault')
    // The gateway starts (and creates its stream) before any fault is switched on.
    proxy.setPlan({})
    const gw = await startGateway(t, { endpoint: proxy.endpoint, channels: { events: { stream } }, extra: { delivery } })
    proxy.resetCounters()
    proxy.setPlan(scenario.plan)
    let outageTimer: NodeJS.Timeout | undefined
    if (scenario.outageMs !== undefined) {
      const ms = scenario.outageMs
      outageTimer = setTimeout(() => proxy.outage(ms), 300)
    }
    const load = await sendLoad({ url: `${gw.url}/v1/events`, events: EVENTS, batchSize: BATCH, concurrency: CONCURRENCY, prefix: randomUUID() })
    clearTimeout(outageTimer)
    proxy.setPlan({})
    const c = { ...proxy.counters }

    const records = await readAllRecords(reader, stream)
    const counts = cidCounts(records)
    const { missing, duplicates } = audit(load.acked, counts)
    t.comment(`sent ${load.sent}, acknowledged ${load.acked.size}, statuses ${JSON.stringify([...load.statuses])}, ` +
      `records in stream ${records.length}, duplicates ${duplicates}`)
    t.comment(`proxy: ${JSON.stringify(c)}`)

    t.equal(missing.length, 0, `every acknowledged id is in the stream (missing e.g. ${missing.slice(0, 3).join(', ')})`)
    t.equal(load.acked.size, EVENTS, 'retries within the deadline converge: every event was acknowledged')
    const faulted = c.recordsFailed + c.callsThrottled + c.calls500 + c.answersDropped + c.connectionsReset
    t.ok(scenario.plan.latencyMs !== undefined || faulted > 0, 'the fault really happened')
    if (c.answersDropped === 0) {
      t.equal(duplicates, 0, 'no duplicates without a lost answer')
    } else {
      t.ok(duplicates <= c.recordsInDroppedAnswers, `duplicates (${duplicates}) only from the ${c.recordsInDroppedAnswers} records whose answer was lost`)
    }
  })
}
