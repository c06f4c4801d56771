import type { PutRecordsResultEntry } from '@aws-sdk/client-kinesis'
import t from 'tap'
import { BufferFullError, StreamProducer, type OutgoingRecord, type PutRecordsSender, type RecordPacer } from '../../src/delivery/stream-producer.js'

// Unit tests of the producer's bounds, pacing hook and no-deadline sends, with a scripted sender
// (the integration with Kinesis is covered by the fault-injection tests).

function records (n: number, key = 'k'): OutgoingRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const data = Buffer.from(`record ${i}`)
    return { data, partitionKey: key, size: data.length + key.length }
  })
}

const ok = (n: number): PutRecordsResultEntry[] => Array.from({ length: n }, (_, i) => ({ ShardId: 'shardId-000000000000', SequenceNumber: String(i) }))

function producer (send: PutRecordsSender, extra: Partial<ConstructorParameters<typeof StreamProducer>[0]> = {}): StreamProducer {
  return new StreamProducer({ stream: 's', send, lingerMs: 1, maxInFlight: 2, recordDeadlineMs: 1000, retryBaseMs: 1, retryMaxMs: 5, maxBufferedBytes: 1e9, ...extra })
}

t.test('maxBufferedRecords: a send that does not fit is refused whole, before queueing', async (t) => {
  let release: (() => void) | undefined
  const p = producer(async (_s, recs) => { await new Promise<void>((resolve) => { release = resolve }); return ok(recs.length) }, { maxBufferedRecords: 10 })
  const first = p.send(records(8))
  t.throws(() => p.send(records(3)), BufferFullError)
  t.equal(p.bufferedRecords, 8, 'the refused records were not queued')
  const second = p.send(records(2))
  t.equal(p.bufferedRecords, 10)
  // eslint-disable-next-line no-unmodified-loop-condition -- the sender sets it
  while (release === undefined) await new Promise((resolve) => setTimeout(resolve, 1))
  release()
  await new Promise((resolve) => setTimeout(resolve, 5))
  release()
  t.equal((await first).length, 8)
  t.equal((await second).length, 2)
  t.equal(p.bufferedRecords, 0, 'settled records free their place')
})

t.test('a record held back by the pacer waits (without spinning) and goes when admitted', async (t) => {
  let open = false
  let asked = 0
  const pacer: RecordPacer = { admit: () => { asked++; return open }, retryInMs: () => 20 }
  const sent: number[] = []
  const p = producer(async (_s, recs) => { sent.push(recs.length); return ok(recs.length) }, { pacer })
  const done = p.send(records(5))
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(sent, [], 'nothing sent while the shard is at its limit')
  t.ok(asked < 100, `the producer re-checks on a timer, not in a loop (${asked} checks in 100 ms)`)
  open = true
  const outcomes = await done
  t.equal(outcomes.filter((o) => o.ok).length, 5)
  t.same(sent, [5])
})

t.test('Infinity deadline: retryable failures are retried until written, in order of age', async (t) => {
  let calls = 0
  const p = producer(async (_s, recs) => {
    calls++
    // The first 20 calls throttle every record.
    if (calls <= 20) return recs.map(() => ({ ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'slow down' }))
    return ok(recs.length)
  }, { recordDeadlineMs: 10 })
  const outcomes = await p.send(records(3), Number.POSITIVE_INFINITY)
  t.ok(calls > 20, `retried past the 10 ms default deadline (${calls} calls)`)
  t.equal(outcomes.filter((o) => o.ok).length, 3)
})

t.test('non-retryable per-record errors fail even without a deadline', async (t) => {
  const p = producer(async (_s, recs) => recs.map(() => ({ ErrorCode: 'AccessDeniedException', ErrorMessage: 'no' })))
  const outcomes = await p.send(records(2), Number.POSITIVE_INFINITY)
  t.same(outcomes.map((o) => o.ok ? 'ok' : o.errorCode), ['AccessDeniedException', 'AccessDeniedException'])
})
