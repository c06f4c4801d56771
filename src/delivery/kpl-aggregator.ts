import { createHash } from 'node:crypto'
import { answerDraft, setFailed, type OutgoingRecord, type PutAnswer, type Sink } from '../kinesis/sink.js'

/**
 * KPL record aggregation: many small user records packed into one Kinesis record, in the format
 * of the Kinesis Producer Library (amazon-kinesis-producer, aggregation-format.md), which the KCL,
 * Lambda's and Firehose's de-aggregation and the aws-kinesis-agg package unpack:
 *
 *   0xF3 0x89 0x9A 0xC2 | protobuf AggregatedRecord | MD5 of the protobuf bytes (16 bytes)
 *
 *   message AggregatedRecord {
 *     repeated string partition_key_table = 1;
 *     repeated string explicit_hash_key_table = 2;   // not used here
 *     repeated Record records = 3;
 *   }
 *   message Record { required uint64 partition_key_index = 1; required bytes data = 3; }
 *
 * Why: Kinesis bills PutRecords in 25 KB "PUT payload units" per record, so a 300-byte event
 * costs as much as a 25 KB one; packed 80 to a record, it costs 1/80th. It also lifts the
 * 1,000 records/s per shard limit.
 *
 * Shard affinity: a Kinesis record goes to the shard of its own partition key, so an aggregate
 * holds only user records with the same partition key (so each key stays on its shard, in order),
 * except when the channel's keys are random (the event id): then any events may share an
 * aggregate, which goes under its first event's key.
 */

const MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2])
const MD5_BYTES = 16
const WIRE_LEN = 2 // protobuf wire type: length-delimited
const WIRE_VARINT = 0

export interface AggregationOptions {
  /** Most bytes of one aggregated record (data plus partition key). */
  readonly maxBytes: number
  /** Most user records in one aggregated record. */
  readonly maxEvents: number
  /** Any records may share an aggregate (random partition keys); otherwise only those with equal keys. */
  readonly mixKeys: boolean
}

function varintSize (n: number): number {
  let size = 1
  while (n >= 0x80) { n = Math.floor(n / 128); size++ }
  return size
}

function writeVarint (buf: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n & 0x7f) | 0x80
    n = Math.floor(n / 128)
  }
  buf[at++] = n
  return at
}

const tag = (field: number, wire: number): number => (field << 3) | wire

/** One aggregate being filled: its user records, key table and the protobuf size so far. */
class Aggregate {
  readonly members: number[] = []
  readonly keys = new Map<string, number>()
  readonly keyBytes: Buffer[] = []
  protoBytes = 0

  /** Protobuf bytes the record (and its key, if new) would add. */
  cost (record: OutgoingRecord): number {
    const dataLen = record.data.byteLength
    let keyCost = 0
    let index = this.keys.get(record.partitionKey)
    if (index === undefined) {
      index = this.keys.size
      const keyLen = Buffer.byteLength(record.partitionKey)
      keyCost = 1 + varintSize(keyLen) + keyLen
    }
    const inner = 1 + varintSize(index) + 1 + varintSize(dataLen) + dataLen
    return keyCost + 1 + varintSize(inner) + inner
  }

  add (slot: number, record: OutgoingRecord, cost: number): void {
    if (!this.keys.has(record.partitionKey)) {
      this.keys.set(record.partitionKey, this.keys.size)
      this.keyBytes.push(Buffer.from(record.partitionKey))
    }
    this.members.push(slot)
    this.protoBytes += cost
  }

  /** The Kinesis record: magic, protobuf, MD5. Its partition key is its first user record's. */
  encode (records: readonly OutgoingRecord[]): OutgoingRecord {
    const total = MAGIC.length + this.protoBytes + MD5_BYTES
    const out = Buffer.allocUnsafe(total)
    MAGIC.copy(out, 0)
    let at = MAGIC.length
    for (const key of this.keyBytes) {
      out[at++] = tag(1, WIRE_LEN)
      at = writeVarint(out, at, key.length)
      at += key.copy(out, at)
    }
    for (const slot of this.members) {
      const r = records[slot] as OutgoingRecord
      const index = this.keys.get(r.partitionKey) as number
      const dataLen = r.data.byteLength
      out[at++] = tag(3, WIRE_LEN)
      at = writeVarint(out, at, 1 + varintSize(index) + 1 + varintSize(dataLen) + dataLen)
      out[at++] = tag(1, WIRE_VARINT)
      at = writeVarint(out, at, index)
      out[at++] = tag(3, WIRE_LEN)
      at = writeVarint(out, at, dataLen)
      out.set(r.data, at)
      at += dataLen
    }
    createHash('md5').update(out.subarray(MAGIC.length, at)).digest().copy(out, at)
    const partitionKey = (records[this.members[0] as number] as OutgoingRecord).partitionKey
    return { data: out, partitionKey, size: total + Buffer.byteLength(partitionKey) }
  }
}

/** The Kinesis records for a batch, and for each user record the index of the record that holds it. */
export interface AggregatedBatch {
  readonly records: OutgoingRecord[]
  readonly holder: Int32Array
}

/**
 * Packs user records greedily, in order, into aggregates of at most maxBytes / maxEvents.
 * A record that does not fit an aggregate even alone is passed through as it is (consumers pass
 * non-aggregated records through unchanged); so is an aggregate of one.
 */
export function aggregate (records: readonly OutgoingRecord[], opts: AggregationOptions): AggregatedBatch {
  const holder = new Int32Array(records.length)
  const out: OutgoingRecord[] = []
  const open = new Map<string, Aggregate>()
  const order: Aggregate[] = []
  const overhead = MAGIC.length + MD5_BYTES
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as OutgoingRecord
    const group = opts.mixKeys ? '' : r.partitionKey
    let agg = open.get(group)
    if (agg !== undefined) {
      const cost = agg.cost(r)
      const key = (records[agg.members[0] as number] as OutgoingRecord).partitionKey
      if (agg.members.length < opts.maxEvents && overhead + agg.protoBytes + cost + Buffer.byteLength(key) <= opts.maxBytes) {
        agg.add(i, r, cost)
        continue
      }
      open.delete(group)
    }
    agg = new Aggregate()
    agg.add(i, r, agg.cost(r))
    open.set(group, agg)
    order.push(agg)
  }
  // Emit in the order aggregates were opened, so records of one key keep their order.
  for (const agg of order) {
    const index = out.length
    // A lone record goes as it is: smaller than an aggregate of one, and as readable.
    out.push(agg.members.length === 1 ? records[agg.members[0] as number] as OutgoingRecord : agg.encode(records))
    for (const slot of agg.members) holder[slot] = index
  }
  return { records: out, holder }
}

/**
 * Wraps a sink: the producer's batch of user records goes out aggregated, and the answer is
 * mapped back to one slot per user record (the slot of the Kinesis record that holds it: events
 * of one aggregate share its shard and sequence number, and fail or succeed together, so the
 * producer's per-record retry re-sends them, re-aggregated).
 */
export function aggregatingSink (sink: Sink, opts: AggregationOptions): Sink {
  const { maxRecordsPerCall, maxBytesPerCall } = sink.limits
  return {
    limits: sink.limits,
    put: async (stream, records, budgetMs) => {
      const { records: packed, holder } = aggregate(records, opts)
      // Aggregation overhead can, in theory, push a full batch past the call limits: split then.
      const calls: Array<Promise<PutAnswer>> = []
      const offsets: number[] = []
      let start = 0
      let bytes = 0
      for (let i = 0; i < packed.length; i++) {
        const size = (packed[i] as OutgoingRecord).size
        if (i > start && (i - start >= maxRecordsPerCall || bytes + size > maxBytesPerCall)) {
          offsets.push(start)
          calls.push(sink.put(stream, packed.slice(start, i), budgetMs))
          start = i
          bytes = 0
        }
        bytes += size
      }
      offsets.push(start)
      calls.push(sink.put(stream, start === 0 ? packed : packed.slice(start), budgetMs))
      const answers = await Promise.all(calls)
      return unpack(answers, offsets, holder, records.length)
    },
    ...(sink.close !== undefined ? { close: sink.close } : {})
  }
}

/** The answer per user record, from the answers per aggregated record. */
function unpack (answers: readonly PutAnswer[], offsets: readonly number[], holder: ArrayLike<number>, count: number): PutAnswer {
  const draft = answerDraft(count)
  for (let i = 0; i < count; i++) {
    const at = holder[i] as number
    let call = offsets.length - 1
    while ((offsets[call] as number) > at) call--
    const answer = answers[call] as PutAnswer
    const slot = at - (offsets[call] as number)
    const code = answer.errorCodes?.[slot] ?? ''
    if (code !== '') {
      setFailed(draft, i, code, answer.errorMessages?.[slot] ?? code)
    } else {
      draft.shardIds[i] = answer.shardIds[slot] ?? ''
      draft.sequenceNumbers[i] = answer.sequenceNumbers[slot] ?? ''
    }
  }
  return draft
}
