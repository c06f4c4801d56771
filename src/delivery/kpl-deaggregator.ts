import { createHash } from 'node:crypto'

/**
 * Unpacks a KPL aggregated record (the format kpl-aggregator.ts writes; amazon-kinesis-producer,
 * aggregation-format.md) into its user records, for readers such as `kinesis-gateway tail`:
 *
 *   0xF3 0x89 0x9A 0xC2 | protobuf AggregatedRecord | MD5 of the protobuf bytes (16 bytes)
 *
 *   message AggregatedRecord {
 *     repeated string partition_key_table = 1;
 *     repeated string explicit_hash_key_table = 2;
 *     repeated Record records = 3;
 *   }
 *   message Record {
 *     required uint64 partition_key_index = 1;
 *     optional uint64 explicit_hash_key_index = 2;
 *     required bytes data = 3;
 *     repeated Tag tags = 4;
 *   }
 *
 * Our own few lines rather than a library: aws-kinesis-agg pulls in protobufjs (with an install
 * script) and is a development dependency here, used by the tests to check both directions.
 * As the KCL does, data that lacks the magic, fails the MD5 or does not parse is not an
 * aggregate: the caller treats it as one ordinary record.
 */

const MAGIC = [0xf3, 0x89, 0x9a, 0xc2] as const
const MD5_BYTES = 16
const WIRE_VARINT = 0
const WIRE_FIXED64 = 1
const WIRE_LEN = 2
const WIRE_FIXED32 = 5

export interface UserRecord {
  readonly partitionKey: string
  readonly data: Buffer
}

/** Thrown inside the parser on malformed protobuf; never escapes deaggregate(). */
class Malformed extends Error {}

class Reader {
  at: number
  constructor (readonly buf: Buffer, start: number, readonly end: number) {
    this.at = start
  }

  varint (): number {
    let value = 0
    let scale = 1
    for (let i = 0; i < 10; i++) {
      if (this.at >= this.end) throw new Malformed('truncated varint')
      const byte = this.buf[this.at++] as number
      value += (byte & 0x7f) * scale
      if (byte < 0x80) {
        if (!Number.isSafeInteger(value)) throw new Malformed('varint too large')
        return value
      }
      scale *= 128
    }
    throw new Malformed('varint longer than 10 bytes')
  }

  /** A length-delimited field: [start, end) of its bytes. */
  bytes (): [number, number] {
    const length = this.varint()
    const start = this.at
    if (length > this.end - start) throw new Malformed('length past the end')
    this.at = start + length
    return [start, this.at]
  }

  skip (wire: number): void {
    if (wire === WIRE_VARINT) this.varint()
    else if (wire === WIRE_LEN) this.bytes()
    else if (wire === WIRE_FIXED64 || wire === WIRE_FIXED32) {
      this.at += wire === WIRE_FIXED64 ? 8 : 4
      if (this.at > this.end) throw new Malformed('fixed field past the end')
    } else throw new Malformed(`wire type ${wire}`)
  }
}

/** Whether `data` begins with the KPL magic number (cheap test before the MD5). */
export function hasAggregateMagic (data: Uint8Array): boolean {
  return data.length >= MAGIC.length + MD5_BYTES && MAGIC.every((b, i) => data[i] === b)
}

/**
 * The user records of an aggregated Kinesis record, in order; undefined when `data` is not a
 * (valid) aggregate. `recordKey` is the Kinesis record's own partition key, used should a user
 * record point past the key table.
 */
export function deaggregate (data: Uint8Array, recordKey = ''): UserRecord[] | undefined {
  if (!hasAggregateMagic(data)) return undefined
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  const protoEnd = buf.length - MD5_BYTES
  const digest = createHash('md5').update(buf.subarray(MAGIC.length, protoEnd)).digest()
  if (!digest.equals(buf.subarray(protoEnd))) return undefined
  try {
    const keys: string[] = []
    const entries: Array<{ keyIndex: number, data: [number, number] }> = []
    const top = new Reader(buf, MAGIC.length, protoEnd)
    while (top.at < protoEnd) {
      const tag = top.varint()
      const field = Math.floor(tag / 8)
      const wire = tag & 7
      if (field === 1 && wire === WIRE_LEN) {
        const [s, e] = top.bytes()
        keys.push(buf.toString('utf8', s, e))
      } else if (field === 3 && wire === WIRE_LEN) {
        const [s, e] = top.bytes()
        entries.push(parseRecord(buf, s, e))
      } else {
        top.skip(wire)
      }
    }
    return entries.map((r) => ({ partitionKey: keys[r.keyIndex] ?? recordKey, data: buf.subarray(r.data[0], r.data[1]) }))
  } catch (err) {
    if (err instanceof Malformed) return undefined
    throw err
  }
}

function parseRecord (buf: Buffer, start: number, end: number): { keyIndex: number, data: [number, number] } {
  const r = new Reader(buf, start, end)
  let keyIndex = 0
  let data: [number, number] | undefined
  while (r.at < end) {
    const tag = r.varint()
    const field = Math.floor(tag / 8)
    const wire = tag & 7
    if (field === 1 && wire === WIRE_VARINT) keyIndex = r.varint()
    else if (field === 3 && wire === WIRE_LEN) data = r.bytes()
    else r.skip(wire)
  }
  if (data === undefined) throw new Malformed('record without data')
  return { keyIndex, data }
}
