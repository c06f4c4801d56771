import {
  ExpiredIteratorException,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type _Record as KinesisRecord,
  type KinesisClient,
  type Shard,
  type ShardIteratorType
} from '@aws-sdk/client-kinesis'
import { setTimeout as sleep } from 'node:timers/promises'

export interface TailOptions {
  readonly stream: string
  /** TRIM_HORIZON (every record still retained) instead of LATEST (only records written from now on). */
  readonly fromStart: boolean
  /** Read what is there, then return, instead of following the stream. */
  readonly once: boolean
  /** Stop after this many records. */
  readonly limit?: number | undefined
  /** Pause between polling rounds that found nothing new. */
  readonly pollMs?: number
  /** Aborting stops the tail at the next step (Ctrl-C). */
  readonly signal?: AbortSignal
  /**
   * Called for every record, in shard order; awaited, so a slow consumer slows the reading.
   * Returning false stops the tail after this record (a limit counted in something else than records).
   */
  readonly onRecord: (record: KinesisRecord, shardId: string) => boolean | undefined | Promise<boolean | undefined>
  /** Called once the starting shards have iterators: from here on, LATEST catches every new record. */
  readonly onReading?: (shards: number) => void
}

/** GetRecords: at most 10,000 records per call. */
const GET_RECORDS_MAX = 10_000
/** GetRecords: at most 5 calls per second per shard; a busy reader stays under that. */
const BUSY_POLL_MS = 250
const DEFAULT_POLL_MS = 1_000

interface Cursor {
  iterator: string
  /** Where to resume if the iterator expires (iterators live 5 minutes). */
  lastSequence: string | undefined
  readonly startType: ShardIteratorType
}

/**
 * Reads a stream back through GetRecords, shard by shard, the way a simple consumer does:
 * every shard is followed with its NextShardIterator; when a shard closes after a reshard
 * (NextShardIterator absent) its children are read from their start once all their parents
 * are finished, so the order of records per partition key is kept.
 * Resolves with the number of records delivered.
 */
export async function tailStream (client: KinesisClient, options: TailOptions): Promise<number> {
  const { stream, signal } = options
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS
  const limit = options.limit ?? Infinity
  const cursors = new Map<string, Cursor>()
  const started = new Set<string>()
  const finished = new Set<string>()
  let delivered = 0

  const open = async (shardId: string, type: ShardIteratorType, after?: string): Promise<void> => {
    const out = await client.send(new GetShardIteratorCommand({
      StreamName: stream,
      ShardId: shardId,
      ShardIteratorType: after !== undefined ? 'AFTER_SEQUENCE_NUMBER' : type,
      ...(after !== undefined ? { StartingSequenceNumber: after } : {})
    }), { abortSignal: signal })
    started.add(shardId)
    if (out.ShardIterator === undefined) finished.add(shardId)
    else cursors.set(shardId, { iterator: out.ShardIterator, lastSequence: after, startType: type })
  }

  // Shards to begin with: from the start, the oldest generation still listed (shards whose
  // parents have expired); from now on, the shards that are open.
  const shards = await listShards(client, stream, signal)
  const listed = new Set(shards.map((s) => s.ShardId))
  for (const shard of shards) {
    const id = shard.ShardId as string
    if (options.fromStart) {
      if (!listed.has(shard.ParentShardId) && !listed.has(shard.AdjacentParentShardId)) await open(id, 'TRIM_HORIZON')
    } else if (shard.SequenceNumberRange?.EndingSequenceNumber === undefined) {
      await open(id, 'LATEST')
    }
  }

  options.onReading?.(cursors.size)

  while (signal?.aborted !== true) {
    let behind = false
    let closed = false
    for (const [shardId, cursor] of cursors) {
      let page
      try {
        page = await client.send(new GetRecordsCommand({
          ShardIterator: cursor.iterator,
          Limit: Math.min(GET_RECORDS_MAX, limit - delivered)
        }), { abortSignal: signal })
      } catch (err) {
        if (err instanceof ExpiredIteratorException || (err as Error).name === 'ExpiredIteratorException') {
          cursors.delete(shardId)
          await open(shardId, cursor.startType, cursor.lastSequence)
          behind = true
          continue
        }
        throw err
      }
      const records = page.Records ?? []
      for (const record of records) {
        const more = await options.onRecord(record, shardId)
        cursor.lastSequence = record.SequenceNumber
        if (++delivered >= limit || more === false) return delivered
      }
      if (records.length > 0 || (page.MillisBehindLatest ?? 0) > 0) behind = true
      if (page.NextShardIterator === undefined) {
        // The shard was closed by a reshard and has been read to its end.
        cursors.delete(shardId)
        finished.add(shardId)
        closed = true
      } else {
        cursor.iterator = page.NextShardIterator
      }
    }
    if (closed) {
      for (const child of await listShards(client, stream, signal)) {
        const id = child.ShardId as string
        if (started.has(id)) continue
        const parents = [child.ParentShardId, child.AdjacentParentShardId].filter((p): p is string => p !== undefined)
        if (parents.length > 0 && parents.every((p) => finished.has(p))) {
          await open(id, 'TRIM_HORIZON')
          behind = true
        }
      }
    }
    if (options.once && !behind) break
    if (cursors.size === 0 && options.once) break
    try {
      await sleep(behind ? BUSY_POLL_MS : pollMs, undefined, { signal })
    } catch {
      break // aborted
    }
  }
  return delivered
}

async function listShards (client: KinesisClient, stream: string, signal: AbortSignal | undefined): Promise<Shard[]> {
  const shards: Shard[] = []
  let token: string | undefined
  do {
    // ListShards takes either the stream name or the NextToken of the previous page, not both.
    const out = await client.send(new ListShardsCommand(token === undefined ? { StreamName: stream } : { NextToken: token }),
      { abortSignal: signal })
    shards.push(...(out.Shards ?? []))
    token = out.NextToken
  } while (token !== undefined)
  return shards
}
