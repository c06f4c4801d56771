import { ListShardsCommand, type KinesisClient, type Shard } from '@aws-sdk/client-kinesis'
import { ShardMap } from './shard-map.js'
import type { OutgoingRecord, RecordPacer } from './stream-producer.js'

const PACING_TICK_MS = 20
/** Shards a routable record tries before it waits for the next pacing tick. */
const ROUTE_TRIES = 8

export interface ShardPacerOptions {
  /** Per-shard write limits: Kinesis allows 1,000 records/s and 1 MiB/s per shard. */
  readonly recordsPerSecond: number
  readonly bytesPerSecond: number
  /** How often the shard list is read again (resharding). */
  readonly refreshMs: number
  readonly now?: () => number
  readonly onError?: (err: unknown) => void
}

/** What a shard has carried, so hot partition keys are visible. */
export interface ShardLoad {
  readonly shardId: string
  /** Records and bytes sent since start. */
  readonly records: number
  readonly bytes: number
  /** Records sent during the last whole second. */
  readonly recordsLastSecond: number
  readonly bytesLastSecond: number
  /** Times a record waited because its shard was at its limit (throttling avoided). */
  readonly deferred: number
}

/** A token bucket per shard, holding at most one second of that shard's limits. */
class ShardBucket {
  records: number
  bytes: number
  updatedAt: number
  total = { records: 0, bytes: 0, deferred: 0 }
  second = { start: 0, records: 0, bytes: 0, lastRecords: 0, lastBytes: 0 }

  constructor (recordsPerSecond: number, bytesPerSecond: number, now: number) {
    this.records = recordsPerSecond
    this.bytes = bytesPerSecond
    this.updatedAt = now
    this.second.start = now
  }
}

/**
 * Keeps each shard of a stream under its write limits, so throttling is avoided rather than
 * retried. It learns the shards with ListShards (open shards only: a closed parent takes no
 * writes), maps each record's partition key to its shard, and admits a record only while that
 * shard's token bucket has room; the producer holds back the others and tries again shortly.
 * The map only paces: Kinesis itself routes records, so a stale map during resharding costs a
 * few throttled (and retried) records, never a misrouted one. Refreshed every `refreshMs`.
 */
export class ShardPacer implements RecordPacer {
  readonly stream: string
  private readonly client: KinesisClient
  private readonly opts: ShardPacerOptions
  private readonly now: () => number
  private map = new ShardMap([])
  private buckets: ShardBucket[] = []
  /** Each shard's StartingHashKey as a decimal string: the ExplicitHashKey that routes to it. */
  private hashKeys: string[] = []
  /** Where the next routable record starts looking for a shard with room (round robin). */
  private cursor = 0
  private timer: NodeJS.Timeout | undefined

  constructor (client: KinesisClient, stream: string, opts: ShardPacerOptions) {
    this.client = client
    this.stream = stream
    this.opts = opts
    this.now = opts.now ?? Date.now
  }

  async start (): Promise<void> {
    await this.refresh()
    this.timer = setInterval(() => { void this.refresh() }, this.opts.refreshMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  /** Reads the open shards again; buckets of shards that remain keep their state. */
  async refresh (): Promise<void> {
    let shards: Shard[]
    try {
      shards = await listAllShards(this.client, this.stream)
    } catch (err) {
      this.opts.onError?.(err)
      return
    }
    this.setShards(shards)
  }

  /** Installs a shard list (from ListShards). */
  setShards (shards: readonly Shard[]): void {
    const open = shards.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined && s.HashKeyRange !== undefined)
    const map = new ShardMap(open.map((s) => ({
      shardId: s.ShardId as string,
      start: BigInt(s.HashKeyRange?.StartingHashKey as string),
      end: BigInt(s.HashKeyRange?.EndingHashKey as string)
    })))
    const old = new Map(this.map.shards.map((s, i) => [s.shardId, this.buckets[i] as ShardBucket]))
    const now = this.now()
    this.buckets = map.shards.map((s) => old.get(s.shardId) ?? new ShardBucket(this.opts.recordsPerSecond, this.opts.bytesPerSecond, now))
    this.hashKeys = map.shards.map((s) => s.start.toString())
    this.map = map
  }

  get shardMap (): ShardMap {
    return this.map
  }

  admit (record: OutgoingRecord): boolean {
    if (this.buckets.length === 0) return true
    if (record.routable === true) return this.route(record)
    const i = this.map.indexOfPartitionKey(record.partitionKey)
    const b = this.buckets[i]
    if (b === undefined) return true
    const now = this.now()
    this.refill(b, now)
    if (b.records < 1 || b.bytes < record.size) {
      b.total.deferred++
      return false
    }
    this.take(b, record.size)
    return true
  }

  /**
   * A record whose partition key is random (the event id) may go to any shard: rather than hash
   * the key (MD5) to learn where it would land, it is sent to the next shard with room, named by
   * ExplicitHashKey. The spread stays even (round robin) and a full shard is simply skipped.
   * Looks at a few shards only, so a saturated stream costs little per held-back record.
   */
  private route (record: OutgoingRecord): boolean {
    const buckets = this.buckets
    const n = buckets.length
    const now = this.now()
    const tries = Math.min(n, ROUTE_TRIES)
    for (let k = 0; k < tries; k++) {
      const i = (this.cursor + k) % n
      const b = buckets[i] as ShardBucket
      this.refill(b, now)
      if (b.records >= 1 && b.bytes >= record.size) {
        this.cursor = i + 1 === n ? 0 : i + 1
        this.take(b, record.size)
        record.explicitHashKey = this.hashKeys[i]
        return true
      }
    }
    ;(buckets[this.cursor % n] as ShardBucket).total.deferred++
    this.cursor = (this.cursor + tries) % n
    return false
  }

  private take (b: ShardBucket, size: number): void {
    b.records -= 1
    b.bytes -= size
    b.total.records++
    b.total.bytes += size
    b.second.records++
    b.second.bytes += size
  }

  /**
   * When to look at held-back records again: 20 ms, the time a shard at 1,000 records/s needs to
   * earn 20 records. Shorter would re-hash the waiting records in a busy loop for little gain.
   */
  retryInMs (): number {
    return PACING_TICK_MS
  }

  private refill (b: ShardBucket, now: number): void {
    const elapsed = now - b.updatedAt
    if (elapsed > 0) {
      b.records = Math.min(this.opts.recordsPerSecond, b.records + elapsed * this.opts.recordsPerSecond / 1000)
      b.bytes = Math.min(this.opts.bytesPerSecond, b.bytes + elapsed * this.opts.bytesPerSecond / 1000)
      b.updatedAt = now
    }
    if (now - b.second.start >= 1000) {
      const whole = now - b.second.start < 2000
      b.second.lastRecords = whole ? b.second.records : 0
      b.second.lastBytes = whole ? b.second.bytes : 0
      b.second.records = 0
      b.second.bytes = 0
      b.second.start = now - ((now - b.second.start) % 1000)
    }
  }

  /** Per-shard load, for metrics and for spotting hot partition keys. */
  load (): ShardLoad[] {
    const now = this.now()
    return this.map.shards.map((s, i) => {
      const b = this.buckets[i] as ShardBucket
      this.refill(b, now)
      return {
        shardId: s.shardId,
        records: b.total.records,
        bytes: b.total.bytes,
        recordsLastSecond: b.second.lastRecords,
        bytesLastSecond: b.second.lastBytes,
        deferred: b.total.deferred
      }
    })
  }
}

async function listAllShards (client: KinesisClient, stream: string): Promise<Shard[]> {
  const out: Shard[] = []
  let next: string | undefined
  do {
    const page = await client.send(new ListShardsCommand(next === undefined ? { StreamName: stream } : { NextToken: next }))
    out.push(...(page.Shards ?? []))
    next = page.NextToken
  } while (next !== undefined)
  return out
}
