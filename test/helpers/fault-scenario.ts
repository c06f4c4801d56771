import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { FaultPlan, FaultProxy } from './fault-proxy.js'
import { startGateway, uniqueStream } from './gateway.js'
import { audit, sendLoad, waitForAcked } from './load.js'
import { readAllRecords } from './stream-reader.js'
import type { KinesisClient } from '@aws-sdk/client-kinesis'

export type Mode = 'delivered' | 'buffered' | 'spool'
export const ALL_MODES: Mode[] = ['delivered', 'buffered', 'spool']

export interface Scenario {
  readonly name: string
  readonly plan: FaultPlan
  /** An outage of this length starts once delivery is under way (the second PutRecords call). */
  readonly outageMs?: number
  readonly modes: Mode[]
}

const EVENTS = 2000
const BATCH = 20
const CONCURRENCY = 16
const delivery = { recordDeadlineMs: 30_000, retryBaseMs: 20, retryMaxMs: 400, lingerMs: 5 }

/**
 * Issue 2 and 3: faults injected between the gateway and a real emulator while thousands of
 * events with unique ids are sent concurrently through the real app. At the end the stream is
 * read back with GetRecords: every acknowledged id must be there. Duplicates may only come from
 * calls that were written but whose answer was lost; they are reported.
 */
export async function runScenario (t: Test, proxy: FaultProxy, reader: KinesisClient, scenario: Scenario, mode: Mode): Promise<void> {
  const stream = uniqueStream('fault')
  const spoolDir = await mkdtemp(join(tmpdir(), 'kg-spool-'))
  t.teardown(() => rm(spoolDir, { recursive: true, force: true }))
  // The gateway starts (and creates its stream) before any fault is switched on.
  proxy.setPlan({})
  const gw = await startGateway(t, {
    endpoint: proxy.endpoint,
    channels: { events: { stream, ack: mode } },
    extra: { delivery, spool: { dir: spoolDir, checkpointIntervalMs: 50 } }
  })
  proxy.resetCounters()
  proxy.setPlan(scenario.plan)
  let outageTimer: NodeJS.Timeout | undefined
  if (scenario.outageMs !== undefined) {
    const ms = scenario.outageMs
    outageTimer = setInterval(() => {
      if (proxy.counters.putRecordsCalls < 2) return
      clearInterval(outageTimer)
      proxy.outage(ms)
    }, 2)
  }
  const load = await sendLoad({ url: `${gw.url}/v1/events`, events: EVENTS, batchSize: BATCH, concurrency: CONCURRENCY, prefix: randomUUID() })
  // Faults continue until the acknowledged events are all in the stream (or the wait gives up).
  const { counts, records } = await waitForAcked(() => readAllRecords(reader, stream), load.acked, 40_000)
  clearInterval(outageTimer)
  proxy.setPlan({})
  const c = { ...proxy.counters }
  const { missing, duplicates } = audit(load.acked, counts)
  t.comment(`sent ${load.sent}, acknowledged ${load.acked.size}, statuses ${JSON.stringify([...load.statuses])}, ` +
    `records in stream ${records}, duplicates ${duplicates}`)
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
}
