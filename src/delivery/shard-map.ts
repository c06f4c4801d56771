import { createHash } from 'node:crypto'

/** One open shard and the range of 128-bit hash keys it owns (inclusive, as Kinesis states them). */
export interface ShardRange {
  readonly shardId: string
  readonly start: bigint
  readonly end: bigint
}

/**
 * Maps a partition key to its shard the way Kinesis does: "Kinesis Data Streams uses MD5 to map
 * partition keys to 128-bit integer values and to map associated data records to shards using
 * the hash key ranges of the shards" (Kinesis developer guide, Terminology: partition key).
 */
export function hashKeyOf (partitionKey: string): bigint {
  return BigInt('0x' + createHash('md5').update(partitionKey, 'utf8').digest('hex'))
}

export class ShardMap {
  /** Open shards sorted by the start of their range. */
  readonly shards: readonly ShardRange[]

  constructor (shards: readonly ShardRange[]) {
    this.shards = [...shards].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))
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

  shardIdFor (partitionKey: string): string | undefined {
    return this.shards[this.indexOfHashKey(hashKeyOf(partitionKey))]?.shardId
  }
}
