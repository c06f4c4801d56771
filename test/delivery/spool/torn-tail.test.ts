import { appendFile, mkdir, mkdtemp, readdir, rm, truncate, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { segmentPath } from '../../../src/delivery/spool/spool-files.js'
import { SpoolWriter } from '../../../src/delivery/spool/spool-writer.js'
import type { OutgoingRecord } from '../../../src/delivery/stream-producer.js'
import { startGateway, post, uniqueStream } from '../../helpers/gateway.js'
import { startKinesalite } from '../../helpers/kinesis-servers.js'
import { cidCounts, waitForAcked } from '../../helpers/load.js'
import { readAllRecords, testKinesisClient } from '../../helpers/stream-reader.js'

// A spool left by a crash: one segment ends in a torn record (cut mid-write), another in garbage.
// The real gateway, started on it, ships every whole record and skips only the damaged tails.

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

function records (from: number, count: number): OutgoingRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const data = Buffer.from(JSON.stringify({ cid: `c-${from + i}` }) + '\n')
    return { data, partitionKey: `k-${from + i}`, size: data.length + Buffer.byteLength(`k-${from + i}`) }
  })
}

async function writeSegment (dir: string, id: number, recs: OutgoingRecord[], groups: number): Promise<void> {
  const writer = new SpoolWriter({ stream: 's', dir, firstSegment: id, diskBytes: 0, maxBytes: 1e9, segmentBytes: 1e9, onCommit: () => {} })
  await writer.open()
  const per = Math.ceil(recs.length / groups)
  await Promise.all(Array.from({ length: groups }, (_, g) => writer.append(recs.slice(g * per, (g + 1) * per))))
  await writer.close()
}

t.test('torn and corrupt spool tails are skipped without losing earlier records', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'kg-torn-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  const stream = uniqueStream('torn')
  const dir = join(root, stream)
  await mkdir(dir, { recursive: true })

  await writeSegment(dir, 1, records(0, 300), 7)
  // Crash mid-write: the last record of segment 1 is cut short.
  const first = segmentPath(dir, 1)
  await truncate(first, (await stat(first)).size - 7)
  await writeSegment(dir, 2, records(300, 200), 3)
  // Power loss: garbage after the last whole record of segment 2.
  await appendFile(segmentPath(dir, 2), Buffer.from('this is not a spool record, just garbage at the tail of a segment'))

  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream, ack: 'spool', record: 'raw' } },
    extra: { spool: { dir: root, checkpointIntervalMs: 50 } }
  })
  const expected = new Set(Array.from({ length: 499 }, (_, i) => `c-${i < 299 ? i : i + 1}`))
  const { counts } = await waitForAcked(() => readAllRecords(reader, stream), expected, 15_000)
  for (const cid of expected) if (!counts.has(cid)) t.fail(`${cid} is missing`)
  t.equal(counts.size, 499, 'every whole record was shipped, each once')
  t.notOk(counts.has('c-299'), 'the torn record (never acknowledged: its fsync never completed) is skipped')
  const spool = gw.app.gateway.acks.spoolOf(stream)
  t.equal(spool?.stats().corruptTails, 2, 'both damaged tails were detected')

  // New events are spooled into a fresh segment and shipped too; shipped segments are deleted.
  const res = await post(`${gw.url}/v1/events`, JSON.stringify([{ cid: 'after-1' }, { cid: 'after-2' }]))
  t.equal(res.status, 202)
  t.equal(res.json.ack, 'spool')
  const after = await waitForAcked(() => readAllRecords(reader, stream), new Set(['after-1', 'after-2']), 10_000)
  t.ok(after.counts.has('after-1') && after.counts.has('after-2'))
  const until = Date.now() + 5_000
  let left: string[] = []
  while (Date.now() < until) {
    left = (await readdir(dir)).filter((f) => f.endsWith('.seg'))
    if (!left.includes('0000000000000001.seg') && !left.includes('0000000000000002.seg')) break
    await sleep(50)
  }
  t.notOk(left.includes('0000000000000001.seg') || left.includes('0000000000000002.seg'), `shipped segments are deleted (left: ${left.join(', ')})`)
  t.equal(cidCounts(await readAllRecords(reader, stream)).size, 501)
})
