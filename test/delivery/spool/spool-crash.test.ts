import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { startChildGateway } from '../../helpers/child-gateway.js'
import { startFaultyKinesis } from '../../helpers/fault-proxy.js'
import { uniqueStream } from '../../helpers/gateway.js'
import { audit, sendLoad, waitForAcked } from '../../helpers/load.js'
import { readAllRecords } from '../../helpers/stream-reader.js'

// ack: spool survives kill -9: a real gateway process is killed under load while Kinesis is
// unreachable (so the spool holds unshipped records), then restarted on the same spool folder.

const { proxy, reader } = await startFaultyKinesis(t)

t.test('kill -9 under load in spool mode, restart: every acknowledged event reaches the stream', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kg-crash-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const stream = uniqueStream('crash')
  const options = {
    dir,
    endpoint: proxy.endpoint,
    channels: { events: { stream, ack: 'spool' } },
    extra: { spool: { dir: join(dir, 'spool'), segmentBytes: 256 * 1024, checkpointIntervalMs: 100 }, delivery: { retryMaxMs: 300 } }
  }
  const first = await startChildGateway(options)
  t.teardown(() => { first.child.kill('SIGKILL') })

  let acked = 0
  const prefix = randomUUID()
  let killed = false
  const loadDone = sendLoad({ url: `${first.url}/v1/events`, events: 20_000, batchSize: 25, concurrency: 8, prefix, stop: () => killed })
  // Part of the load is shipped; then Kinesis becomes unreachable and the spool fills; then kill -9.
  const watch = setInterval(() => { acked = proxy.counters.recordsForwarded }, 10)
  // eslint-disable-next-line no-unmodified-loop-condition -- the interval above updates it
  while (acked < 500) await sleep(10)
  proxy.outage(60_000)
  await sleep(1500)
  first.child.kill('SIGKILL')
  killed = true
  clearInterval(watch)
  const exit = await first.exited
  t.equal(exit.signal, 'SIGKILL', 'the gateway was killed with SIGKILL')
  const load = await loadDone
  const shippedBefore = proxy.counters.recordsForwarded
  t.comment(`before the kill: acknowledged ${load.acked.size} of ${load.sent} sent, ${shippedBefore} shipped, statuses ${JSON.stringify([...load.statuses])}`)
  t.ok(load.acked.size > shippedBefore, 'some acknowledged events were only in the spool when the process died')

  proxy.endOutage()
  const second = await startChildGateway(options)
  t.teardown(() => { second.child.kill('SIGKILL') })
  const { counts, records } = await waitForAcked(() => readAllRecords(reader, stream), load.acked, 30_000)
  const { missing, duplicates } = audit(load.acked, counts)
  t.comment(`proxy: ${JSON.stringify(proxy.counters)}`)
  t.comment(`after the restart: ${records} records in the stream, ${duplicates} duplicates (shipped after the last checkpoint before the kill)`)
  t.equal(missing.length, 0, `every acknowledged id is in the stream (missing e.g. ${missing.slice(0, 3).join(', ')})`)

  second.child.kill('SIGTERM')
  const clean = await second.exited
  t.equal(clean.code, 0, 'the restarted gateway exits 0 on SIGTERM')
})
