import * as crypto from 'node:crypto'
import { md5ShortAscii } from './md5-short.js'

/** One open shard and the range of 128-bit hash keys it owns (inclusive, as Kinesis states them). */
export interface ShardRange {
  readonly shardId: string
  readonly start: bigint
  readonly end: bigint
}

const HASH_KEY_MAX = 2n ** 128n - 1n
/** The high 48 bits of a 128-bit hash key fit a double exactly: most lookups need no BigInt. */
const LOW_BITS = 80n

/**
 * MD5 of a partition key's UTF-8 bytes as a Buffer. crypto.hash (Node >= 20.12) is a one-shot
 * call, about half the cost of createHash().update().digest() for keys this short.
 */
const md5: (key: string) => Buffer = typeof crypto.hash === 'function'
  ? (key) => crypto.hash('md5', key, 'buffer')
  : (key) => crypto.createHash('md5').update(key, 'utf8').digest()

/**
 * Maps a partition key to its shard the way Kinesis does: "Kinesis Data Streams uses MD5 to map
 * partition keys to 128-bit integer values and to map associated data records to shards using
 * the hash key ranges of the shards" (Kinesis developer guide, Terminology: partition key).
 */
export function hashKeyOf (partitionKey: string): bigint {
  return bigintOf(md5(partitionKey))
}

function bigintOf (digest: Buffer): bigint {
  return (digest.readBigUInt64BE(0) << 64n) | digest.readBigUInt64BE(8)
}

/** The digest of the key being looked up, as four big-endian 32-bit words. */
const words = new Uint32Array(4)

function hashWords (partitionKey: string): void {
  if (md5ShortAscii(partitionKey, words)) return
  const digest = md5(partitionKey)
  for (let i = 0; i < 4; i++) words[i] = digest.readUInt32BE(4 * i)
}

function bigintOfWords (): bigint {
  return (BigInt(words[0] as number) << 96n) | (BigInt(words[1] as number) << 64n) | (BigInt(words[2] as number) << 32n) | BigInt(words[3] as number)
}

export class ShardMap {
  /** Open shards sorted by the start of their range. */
  readonly shards: readonly ShardRange[]
  /** The high 48 bits of each shard's start and end, for comparisons without BigInt. */
  private readonly startHigh: Float64Array
  private readonly endHigh: Float64Array
  /** One shard owning every hash key: each key maps to it without hashing. */
  private readonly single: boolean

  constructor (shards: readonly ShardRange[]) {
    this.shards = [...shards].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))
    this.startHigh = Float64Array.from(this.shards, (s) => Number(s.start >> LOW_BITS))
    this.endHigh = Float64Array.from(this.shards, (s) => Number(s.end >> LOW_BITS))
    const only = this.shards[0]
    this.single = this.shards.length === 1 && only !== undefined && only.start === 0n && only.end === HASH_KEY_MAX
  }

  /** Index into `shards` of the shard owning this hash key (-1 if no open shard covers it). */
  indexOfHashKey (hash: bigint): number {
    let lo = 0
    let hi = this.shards.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const s = this.shards[mid] as ShardRange
      if (hash < s.start) hi = mid - 1
      else if (hash > s.end) lo = mid + 1
      else return mid
    }
    return -1
  }

  /**
   * Index of the shard owning this partition key (-1 if none). The same answer as
   * indexOfHashKey(hashKeyOf(key)), cheaper: a one-shard stream needs no MD5, short ASCII keys are
   * hashed without allocating (md5-short.ts), and the search
   * compares the hash's high 48 bits as a number, building the 128-bit BigInt only when they
   * equal a shard boundary's.
   */
  indexOfPartitionKey (partitionKey: string): number {
    if (this.single) return 0
    if (this.shards.length === 0) return -1
    hashWords(partitionKey)
    const high = (words[0] as number) * 0x10000 + ((words[1] as number) >>> 16)
    let lo = 0
    let hi = this.shards.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const startHigh = this.startHigh[mid] as number
      const endHigh = this.endHigh[mid] as number
      if (high < startHigh) hi = mid - 1
      else if (high > endHigh) lo = mid + 1
      else if (high > startHigh && high < endHigh) return mid
      else return this.indexOfHashKey(bigintOfWords()) // on a boundary's high bits: compare exactly
    }
    return -1
  }

  shardIdFor (partitionKey: string): string | undefined {
    return this.shards[this.indexOfPartitionKey(partitionKey)]?.shardId
  }
}
