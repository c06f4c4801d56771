import { KINESIS_MAX_PARTITION_KEY_CHARS, KINESIS_MAX_RECORD_BYTES } from '../../config/limits.js'
import type { OutgoingRecord } from '../stream-producer.js'
import { crc32 } from './crc32.js'

/**
 * The spool's on-disk record format, one after another in a segment file:
 *
 *   u32 LE payload length | u32 LE CRC-32 of the payload | payload
 *   payload = u16 LE partition key length | partition key (UTF-8) | record data
 *
 * The length and checksum let a reader tell a whole record from a torn one (a crash mid-write)
 * or from garbage (a zero-filled tail after a power loss: length 0 is never valid).
 */
export const RECORD_HEADER_BYTES = 8
const MIN_PAYLOAD = 2 + 1
/** A Kinesis record is at most 1 MiB (data plus key); a key is at most 256 characters (4 bytes each in UTF-8). */
const MAX_PAYLOAD = 2 + KINESIS_MAX_RECORD_BYTES + KINESIS_MAX_PARTITION_KEY_CHARS * 4

export function encodedSize (record: OutgoingRecord): number {
  return RECORD_HEADER_BYTES + 2 + record.size
}

/** Encodes a request's records into one buffer (one write, shared by the whole group commit). */
export function encodeRecords (records: readonly OutgoingRecord[]): Buffer {
  let total = 0
  for (const r of records) total += encodedSize(r)
  const buf = Buffer.allocUnsafe(total)
  let at = 0
  for (const r of records) {
    const keyBytes = buf.write(r.partitionKey, at + RECORD_HEADER_BYTES + 2, 'utf8')
    const payloadStart = at + RECORD_HEADER_BYTES
    buf.writeUInt16LE(keyBytes, payloadStart)
    buf.set(r.data, payloadStart + 2 + keyBytes)
    const payloadEnd = payloadStart + 2 + keyBytes + r.data.length
    buf.writeUInt32LE(payloadEnd - payloadStart, at)
    buf.writeUInt32LE(crc32(buf, payloadStart, payloadEnd), at + 4)
    at = payloadEnd
  }
  return at === total ? buf : buf.subarray(0, at)
}

export type DecodeResult =
  /** Whole records, and the bytes they took. */
  | { readonly kind: 'records', readonly records: OutgoingRecord[], readonly consumed: number, readonly corrupt: false }
  /** Records up to a corrupt or torn one at offset `consumed` (`reason` says which). */
  | { readonly kind: 'records', readonly records: OutgoingRecord[], readonly consumed: number, readonly corrupt: true, readonly reason: string }

/**
 * Decodes whole records from `buf`. `atEnd` says the buffer reaches the end of the readable data:
 * an incomplete record there is torn; otherwise it is simply cut by the read and read again later.
 */
export function decodeRecords (buf: Buffer, atEnd: boolean, maxRecords: number): DecodeResult {
  const records: OutgoingRecord[] = []
  let at = 0
  while (records.length < maxRecords && buf.length - at >= RECORD_HEADER_BYTES) {
    const len = buf.readUInt32LE(at)
    if (len < MIN_PAYLOAD || len > MAX_PAYLOAD) return { kind: 'records', records, consumed: at, corrupt: true, reason: `impossible record length ${len}` }
    const start = at + RECORD_HEADER_BYTES
    if (start + len > buf.length) {
      if (atEnd) return { kind: 'records', records, consumed: at, corrupt: true, reason: 'torn record (cut short)' }
      break
    }
    if (crc32(buf, start, start + len) !== buf.readUInt32LE(at + 4)) {
      return { kind: 'records', records, consumed: at, corrupt: true, reason: 'checksum mismatch' }
    }
    const keyLen = buf.readUInt16LE(start)
    if (keyLen === 0 || 2 + keyLen > len) return { kind: 'records', records, consumed: at, corrupt: true, reason: 'bad partition key length' }
    const partitionKey = buf.toString('utf8', start + 2, start + 2 + keyLen)
    // Copy: the read buffer is reused, and records live on in the producer.
    const data = Buffer.from(buf.subarray(start + 2 + keyLen, start + len))
    records.push({ data, partitionKey, size: data.length + keyLen })
    at = start + len
  }
  if (atEnd && at < buf.length && records.length < maxRecords) {
    return { kind: 'records', records, consumed: at, corrupt: true, reason: 'torn record header' }
  }
  return { kind: 'records', records, consumed: at, corrupt: false }
}
