import { mock } from 'node:test'
import type { PutRecordsResultEntry } from '@aws-sdk/client-kinesis'
import t, { type Test } from 'tap'
import { KINESIS_MAX_BYTES_PER_PUT, KINESIS_MAX_RECORDS_PER_PUT } from '../../src/config/limits.js'
import {
  BufferFullError,
  StreamProducer,
  type DeliveryOutcome,
  type OutgoingRecord,
  type ProducerObserver,
  type PutRecordsSender,
  type StreamProducerOptions
} from '../../src/delivery/stream-producer.js'

/**
 * Unit tests of the batching producer with a scripted PutRecords sender (this is a unit: the
 * integration tests run the real SDK against kinesalite). Timers and the clock are Node's mock
 * timers, so linger, backoff and deadlines are driven step by step, never by real time.
 */

const MiB = 1024 * 1024

/** A record whose Kinesis size (data + partition key) is exactly `size` bytes; `id` is in the data. */
function record (id: number, size = 100): OutgoingRecord {
  const partitionKey = `k${id}`
  const data = Buffer.alloc(size - partitionKey.length, 0x20)
  data.write(String(id))
  return { data, partitionKey, size }
}

function idOf (r: OutgoingRecord): number {
  return Number(Buffer.from(r.data).toString('utf8').trim())
}

function ok (shard: string, seq: string | number): PutRecordsResultEntry {
  return { ShardId: shard, SequenceNumber: String(seq) }
}

function failed (code: string, message = `${code} for this record`): PutRecordsResultEntry {
  return { ErrorCode: code, ErrorMessage: message }
}

/** An error shaped like the SDK's service exceptions. */
function sdkError (name: string, status: number): Error {
  return Object.assign(new Error(`${name}: injected`), { name, $metadata: { httpStatusCode: status } })
}

interface Call {
  readonly records: readonly OutgoingRecord[]
  readonly ids: number[]
  readonly bytes: number
  /** Answers this call: entries, or an error to throw. */
  answer (result: readonly PutRecordsResultEntry[] | Error): void
}

/** A PutRecords sender whose calls the test answers by hand, or automatically with `auto`. */
class FakeSender {
  readonly calls: Call[] = []
  inFlight = 0
  maxInFlight = 0
  auto: ((call: Call, n: number) => readonly PutRecordsResultEntry[] | Error) | undefined
  private seq = 0

  readonly send: PutRecordsSender = (_stream, records) => {
    this.inFlight++
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
    return new Promise((resolve, reject) => {
      let bytes = 0
      for (const r of records) bytes += r.size
      const call: Call = {
        records,
        ids: records.map(idOf),
        bytes,
        answer: (result) => {
          this.inFlight--
          if (result instanceof Error) reject(result)
          else resolve(result)
        }
      }
      this.calls.push(call)
      if (this.auto !== undefined) call.answer(this.auto(call, this.calls.length - 1))
    })
  }

  /** Every record accepted, with increasing sequence numbers on shard-0. */
  allOk (call: Call): PutRecordsResultEntry[] {
    return call.records.map(() => ok('shardId-000000000000', ++this.seq))
  }
}

const START = 1_000_000

function producer (sender: FakeSender, opts: Partial<StreamProducerOptions> = {}): StreamProducer {
  return new StreamProducer({
    stream: 'unit-stream',
    send: sender.send,
    lingerMs: 10,
    maxInFlight: 4,
    recordDeadlineMs: 10_000,
    retryBaseMs: 50,
    retryMaxMs: 400,
    maxBufferedBytes: 64 * MiB,
    now: () => Date.now(),
    ...opts
  })
}

/** Runs a test body with mocked setTimeout and Date; always restores real timers. */
function withClock (fn: (t: Test) => Promise<void>): (t: Test) => Promise<void> {
  return async (t) => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: START })
    try {
      await fn(t)
    } finally {
      mock.timers.reset()
    }
  }
}

/** Lets promise callbacks run (setImmediate is not mocked). */
async function settle (): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** Advances the mocked clock and runs what became due, then lets promises settle. */
async function advance (ms: number): Promise<void> {
  mock.timers.tick(ms)
  await settle()
}

/** Tracks whether a promise has resolved yet, without awaiting it. */
function track<T> (p: Promise<T>): { done: () => boolean, value: Promise<T> } {
  let done = false
  p.then(() => { done = true }, () => { done = true })
  return { done: () => done, value: p }
}

t.test('batches never exceed 500 records per PutRecords call', withClock(async (t) => {
  const sender = new FakeSender()
  const p = producer(sender, { lingerMs: 20 })
  const records = Array.from({ length: 1_234 }, (_, i) => record(i, 200))
  const outcomes = track(p.send(records))
  await settle()
  t.same(sender.calls.map((c) => c.records.length), [500, 500], 'two full calls go out at once')
  await advance(19)
  t.equal(sender.calls.length, 2, 'the rest (234) waits for more records or the linger')
  await advance(1)
  t.same(sender.calls.map((c) => c.records.length), [500, 500, 234], 'the linger sends the partial batch')
  for (const c of sender.calls) c.answer(sender.allOk(c))
  t.ok(sender.calls.every((c) => c.records.length <= KINESIS_MAX_RECORDS_PER_PUT))
  t.same(sender.calls.flatMap((c) => c.ids), records.map((_, i) => i), 'records go out in order, each once')
  const result = await outcomes.value
  t.equal(result.length, 1_234)
  t.ok(result.every((o) => o.ok), 'all written')
  const seqs = result.map((o) => o.ok ? Number(o.sequenceNumber) : -1)
  t.same(seqs, [...seqs].sort((a, b) => a - b), 'outcomes are in the order of the records')
}))

t.test('batches never exceed 5 MiB per PutRecords call', withClock(async (t) => {
  const sender = new FakeSender()
  const p = producer(sender)
  // Exactly 1 MiB each: five fill a call to the byte.
  const whole = track(p.send(Array.from({ length: 11 }, (_, i) => record(i, MiB))))
  await settle()
  t.same(sender.calls.map((c) => c.records.length), [5, 5], 'two full calls at once')
  sender.calls[0]?.answer(sender.allOk(sender.calls[0]))
  await settle()
  t.same(sender.calls.map((c) => c.records.length), [5, 5], 'while another call is in flight, the partial batch waits (for the linger or that call)')
  sender.calls[1]?.answer(sender.allOk(sender.calls[1]))
  await settle()
  t.same(sender.calls.map((c) => c.records.length), [5, 5, 1], 'once no call is in flight, an answer sends the partial batch without waiting for the linger')
  sender.auto = (call) => sender.allOk(call)
  for (const c of sender.calls.slice(2)) c.answer(sender.allOk(c))
  t.equal((await whole.value).length, 11)
  t.same(sender.calls.map((c) => c.records.length), [5, 5, 1])
  t.same(sender.calls.map((c) => c.bytes), [5 * MiB, 5 * MiB, MiB])

  // Uneven sizes: 1.5 MiB each: three fit (4.5 MiB), a fourth would not.
  sender.calls.length = 0
  const size = 1.5 * MiB
  const pending = p.send(Array.from({ length: 7 }, (_, i) => record(100 + i, size)))
  await settle()
  await advance(10)
  await pending
  t.same(sender.calls.map((c) => c.records.length), [3, 3, 1])
  t.ok(sender.calls.every((c) => c.bytes <= KINESIS_MAX_BYTES_PER_PUT), 'no call over 5 MiB')

  // Many small requests add up: the byte limit holds across requests too.
  sender.calls.length = 0
  const many = Array.from({ length: 40 }, (_, i) => p.send([record(200 + i, 300 * 1024)]))
  await settle()
  await advance(10)
  await Promise.all(many)
  t.ok(sender.calls.every((c) => c.bytes <= KINESIS_MAX_BYTES_PER_PUT), 'no call over 5 MiB')
  t.equal(sender.calls.reduce((n, c) => n + c.records.length, 0), 40)
  t.same(sender.calls.flatMap((c) => c.ids), Array.from({ length: 40 }, (_, i) => 200 + i), 'in order')
}))

t.test('a partial batch waits for the linger, and records sent meanwhile join it', withClock(async (t) => {
  const sender = new FakeSender()
  sender.auto = (call) => sender.allOk(call)
  const p = producer(sender, { lingerMs: 50 })
  const a = track(p.send([record(1), record(2)]))
  await advance(30)
  const b = track(p.send([record(3)]))
  await advance(19)
  t.equal(sender.calls.length, 0, 'nothing sent before the linger has passed')
  t.notOk(a.done())
  await advance(1)
  t.equal(sender.calls.length, 1, 'one call at the linger')
  t.same(sender.calls[0]?.ids, [1, 2, 3], 'both requests share the call')
  t.equal((await a.value).length, 2)
  t.equal((await b.value).length, 1)
  t.ok(a.done() && b.done())
}))

t.test('when a call returns, records a client waits on go at once; buffered ones wait for the linger', withClock(async (t) => {
  const sender = new FakeSender()
  const p = producer(sender, { lingerMs: 50, maxInFlight: 1 })
  // Fill the only in-flight slot, then queue more behind it.
  const first = track(p.send([record(1)]))
  await advance(50)
  t.equal(sender.calls.length, 1)
  const waited = track(p.send([record(2)]))
  sender.calls[0]?.answer(sender.allOk(sender.calls[0]))
  await settle()
  t.equal(sender.calls.length, 2, 'a delivered record (a client is waiting) is sent as soon as the call returns')
  t.same(sender.calls[1]?.ids, [2])
  const buffered = track(p.send([record(3)], Number.POSITIVE_INFINITY))
  sender.calls[1]?.answer(sender.allOk(sender.calls[1]))
  await settle()
  t.equal(sender.calls.length, 2, 'a buffered record nobody waits on is not sent alone right after the return')
  const more = track(p.send([record(4)], Number.POSITIVE_INFINITY))
  await advance(50)
  t.equal(sender.calls.length, 3, 'it goes at the linger')
  t.same(sender.calls[2]?.ids, [3, 4], 'with what arrived meanwhile: fuller calls')
  sender.calls[2]?.answer(sender.allOk(sender.calls[2]))
  await settle()
  t.ok(first.done() && waited.done() && buffered.done() && more.done())
}))

t.test('maxInFlight bounds the PutRecords calls in flight', withClock(async (t) => {
  const sender = new FakeSender()
  const p = producer(sender, { maxInFlight: 2 })
  const outcomes = track(p.send(Array.from({ length: 2_500 }, (_, i) => record(i, 100))))
  await settle()
  await advance(10)
  t.equal(sender.calls.length, 2, 'two calls, then it waits')
  t.equal(sender.inFlight, 2)
  sender.calls[0]?.answer(sender.allOk(sender.calls[0]))
  await settle()
  t.equal(sender.calls.length, 3, 'an answer frees a slot for the next batch')
  t.equal(sender.inFlight, 2)
  sender.auto = (call) => sender.allOk(call)
  for (const c of sender.calls.slice(1)) c.answer(sender.allOk(c))
  await settle()
  await advance(10)
  const result = await outcomes.value
  t.equal(sender.maxInFlight, 2, 'never more than maxInFlight calls at once')
  t.equal(result.length, 2_500)
  t.ok(result.every((o) => o.ok))
}))

t.test('retryable per-record failures are sent again until written; outcomes stay in order', withClock(async (t) => {
  const sender = new FakeSender()
  const retried: Array<[number, string]> = []
  const p = producer(sender, {
    observer: { recordsRetried: (_s, count, code) => { retried.push([count, code]) } }
  })
  const outcomes = track(p.send([0, 1, 2, 3, 4].map((i) => record(i))))
  await advance(10)
  t.equal(sender.calls.length, 1)
  sender.calls[0]?.answer([
    ok('shard-A', 10), failed('ProvisionedThroughputExceededException'), ok('shard-A', 11),
    failed('InternalFailure'), ok('shard-B', 12)
  ])
  await settle()
  t.same(retried, [[2, 'InternalFailure']], 'two records scheduled for retry')
  t.equal(sender.calls.length, 1, 'the retry waits for its backoff')
  await advance(400) // retryMaxMs: the longest a first backoff can be
  t.equal(sender.calls.length, 2)
  t.same(sender.calls[1]?.ids, [1, 3], 'only the failed records are sent again')
  sender.calls[1]?.answer([failed('ProvisionedThroughputExceededException'), ok('shard-B', 20)])
  await settle()
  await advance(400)
  t.same(sender.calls[2]?.ids, [1], 'still failing: sent a third time')
  sender.calls[2]?.answer([ok('shard-A', 30)])
  const result = await outcomes.value
  t.same(result, [
    { ok: true, shardId: 'shard-A', sequenceNumber: '10' },
    { ok: true, shardId: 'shard-A', sequenceNumber: '30' },
    { ok: true, shardId: 'shard-A', sequenceNumber: '11' },
    { ok: true, shardId: 'shard-B', sequenceNumber: '20' },
    { ok: true, shardId: 'shard-B', sequenceNumber: '12' }
  ], 'each outcome in the slot of its record')
}))

t.test('non-retryable per-record failures fail at once, without a retry', withClock(async (t) => {
  const sender = new FakeSender()
  const failedCodes: string[] = []
  const p = producer(sender, { observer: { recordsFailed: (_s, _n, code) => { failedCodes.push(code) } } })
  const outcomes = track(p.send([record(0), record(1)]))
  await advance(10)
  sender.calls[0]?.answer([ok('s', 1), failed('KMSAccessDeniedException', 'the key is not usable')])
  const result = await outcomes.value
  t.same(result[0], { ok: true, shardId: 's', sequenceNumber: '1' })
  t.same(result[1], { ok: false, errorCode: 'KMSAccessDeniedException', errorMessage: 'the key is not usable' })
  await advance(10_000)
  t.equal(sender.calls.length, 1, 'never sent again')
  t.same(failedCodes, ['KMSAccessDeniedException'])
}))

t.test('retryable whole-call failures (throttling, 5xx, connection reset) are retried', withClock(async (t) => {
  const errors: Array<[string, Error]> = [
    ['ThrottlingException', sdkError('ThrottlingException', 400)],
    ['LimitExceededException', sdkError('LimitExceededException', 400)],
    ['HTTP 500', sdkError('InternalFailure', 500)],
    ['HTTP 503', sdkError('SomethingNew', 503)],
    ['ECONNRESET', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ['timeout', Object.assign(new Error('Connection timed out after 5000 ms'), { name: 'TimeoutError' })]
  ]
  for (const [label, error] of errors) {
    const sender = new FakeSender()
    const seen: Array<{ code: string, retryable: boolean }> = []
    let duplicates = 0
    const observer: ProducerObserver = {
      callFailed: (_s, code, _m, retryable) => { seen.push({ code, retryable }) },
      possibleDuplicates: (_s, n) => { duplicates += n }
    }
    const p = producer(sender, { observer })
    const outcomes = track(p.send([record(1), record(2)]))
    await advance(10)
    sender.calls[0]?.answer(error)
    await settle()
    t.equal(seen[0]?.retryable, true, `${label}: classified retryable`)
    await advance(400)
    t.equal(sender.calls.length, 2, `${label}: the whole batch is sent again`)
    t.same(sender.calls[1]?.ids, [1, 2])
    sender.calls[1]?.answer(sender.allOk(sender.calls[1]))
    const result = await outcomes.value
    t.ok(result.every((o) => o.ok), `${label}: finally written`)
    if (label === 'ECONNRESET' || label === 'timeout') t.equal(duplicates, 2, `${label}: the answer may have been lost: possible duplicates reported`)
    else t.equal(duplicates, 0, `${label}: Kinesis answered, so no duplicates`)
  }
}))

t.test('non-retryable call failures (ResourceNotFoundException) fail every record at once', withClock(async (t) => {
  const sender = new FakeSender()
  const p = producer(sender)
  const first = track(p.send([record(1), record(2)]))
  const second = track(p.send([record(3)]))
  await advance(10)
  t.equal(sender.calls.length, 1)
  sender.calls[0]?.answer(sdkError('ResourceNotFoundException', 400))
  const results = [...await first.value, ...await second.value]
  t.equal(results.length, 3)
  for (const o of results) {
    t.same(o, { ok: false, errorCode: 'ResourceNotFoundException', errorMessage: 'ResourceNotFoundException: injected' })
  }
  await advance(10_000)
  t.equal(sender.calls.length, 1, 'not retried')
  t.equal(p.bufferedBytes, 0, 'failed records are released from the buffer')
}))

t.test('records that wait past their deadline are reported DeadlineExceeded, never sent', withClock(async (t) => {
  const sender = new FakeSender()
  const p = producer(sender, { maxInFlight: 1, recordDeadlineMs: 1_000 })
  const first = track(p.send([record(1)]))
  await advance(10)
  t.equal(sender.calls.length, 1, 'the only slot is taken')
  const late = track(p.send([record(2), record(3)]))
  await advance(1_500) // the slot stays busy past the second request's deadline
  t.notOk(late.done(), 'still queued: the slot is busy')
  sender.calls[0]?.answer(sender.allOk(sender.calls[0]))
  t.ok((await first.value)[0]?.ok)
  const result = await late.value
  for (const o of result) {
    t.equal(o.ok, false)
    if (!o.ok) {
      t.equal(o.errorCode, 'DeadlineExceeded')
      t.match(o.errorMessage, /deadline/)
    }
  }
  t.equal(sender.calls.length, 1, 'expired records are not sent')
  t.equal(p.bufferedBytes, 0)
}))

t.test('a record that keeps failing is retried until its deadline, then reported not written', withClock(async (t) => {
  const sender = new FakeSender()
  sender.auto = (call) => call.records.map(() => failed('ProvisionedThroughputExceededException', 'Rate exceeded for shard'))
  const p = producer(sender, { recordDeadlineMs: 2_000, retryBaseMs: 50, retryMaxMs: 200 })
  const outcome = track(p.send([record(1)]))
  await advance(10)
  for (let elapsed = 0; elapsed < 2_500 && !outcome.done(); elapsed += 50) await advance(50)
  t.ok(outcome.done(), 'settled by the deadline')
  const [o] = await outcome.value
  // Whether the last backoff would end past the deadline (reported with the last Kinesis error) or
  // the retry came due just as the deadline passed (DeadlineExceeded) depends on the jitter drawn.
  t.equal(o?.ok, false, 'reported not written')
  if (o !== undefined && !o.ok) {
    t.match(o.errorCode, /^(ProvisionedThroughputExceededException|DeadlineExceeded)$/)
    t.match(o.errorMessage, /Rate exceeded for shard|deadline/)
  }
  t.ok(sender.calls.length >= 2, `retried (${sender.calls.length} calls)`)
  t.ok(Date.now() - START <= 2_000 + 10, 'given up no later than the deadline')
  t.equal(p.bufferedBytes, 0)
}))

t.test('BufferFullError when the buffer cannot take a request, and room again once it drains', withClock(async (t) => {
  const sender = new FakeSender()
  const p = producer(sender, { maxBufferedBytes: 1_000 })
  const first = track(p.send([record(1, 600)]))
  await advance(10)
  t.equal(p.bufferedBytes, 600, 'in flight records count against the buffer')
  t.throws(() => p.send([record(2, 300), record(3, 200)]), BufferFullError, 'a request that does not fit is refused whole')
  t.throws(() => p.send([record(4, 500)]), { name: 'BufferFullError', message: /unit-stream is full/ })
  const fits = track(p.send([record(5, 400)]))
  t.equal(p.bufferedBytes, 1_000, 'a request that fits is taken')
  sender.auto = (call) => sender.allOk(call)
  sender.calls[0]?.answer(sender.allOk(sender.calls[0]))
  await settle()
  await advance(10)
  await first.value
  await fits.value
  t.equal(p.bufferedBytes, 0)
  const big = track(p.send([record(6, 2_000)]))
  await advance(10)
  t.equal((await big.value).length, 1, 'an empty producer takes even a request larger than its buffer')
  t.equal(sender.calls.at(-1)?.ids[0], 6)
}))

t.test('drain() sends what lingers at once and resolves only when every record has an outcome', withClock(async (t) => {
  const sender = new FakeSender()
  const p = producer(sender, { lingerMs: 1_000 })
  const outcomes = track(p.send([record(1), record(2), record(3)]))
  await settle()
  t.equal(sender.calls.length, 0, 'lingering')
  const drained = track(p.drain())
  await settle()
  t.equal(sender.calls.length, 1, 'drain does not wait for the linger')
  t.notOk(drained.done(), 'not drained while a call is in flight')
  sender.calls[0]?.answer([ok('s', 1), failed('ProvisionedThroughputExceededException'), ok('s', 3)])
  await settle()
  t.notOk(drained.done(), 'not drained while a record waits to be retried')
  await advance(400)
  t.equal(sender.calls.length, 2)
  sender.calls[1]?.answer([ok('s', 2)])
  await settle()
  t.ok(drained.done(), 'drained once the retry was written')
  t.ok(outcomes.done())
  t.same((await outcomes.value).map((o: DeliveryOutcome) => o.ok && o.sequenceNumber), ['1', '2', '3'])
  await p.drain()
  t.pass('drain() of an idle producer resolves at once')
}))
