import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand
} from '@aws-sdk/client-kinesis'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { setTimeout as sleep } from 'node:timers/promises'

export interface ReadRecord {
  readonly shardId: string
  readonly sequenceNumber: string
  readonly partitionKey: string
  readonly text: string
  /** The raw bytes (binary records, e.g. KPL aggregates, do not survive UTF-8 decoding). */
  readonly data: Uint8Array
}

/** An SDK client for tests: HTTP/1.1, local credentials. */
export function testKinesisClient (endpoint: string): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler()
  })
}

/** Every record of every shard of `stream`, from the start, read with GetRecords. */
export async function readAllRecords (client: KinesisClient, stream: string): Promise<ReadRecord[]> {
  const shards = (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? []
  const out: ReadRecord[] = []
  for (const shard of shards) {
    const shardId = shard.ShardId as string
    let iterator = (await client.send(new GetShardIteratorCommand({
      StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON'
    }))).ShardIterator
    while (iterator !== undefined) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }))
      for (const r of page.Records ?? []) {
        out.push({
          shardId,
          sequenceNumber: r.SequenceNumber as string,
          partitionKey: r.PartitionKey as string,
          text: Buffer.from(r.Data as Uint8Array).toString('utf8'),
          data: r.Data as Uint8Array
        })
      }
      if ((page.Records ?? []).length === 0) break
      iterator = page.NextShardIterator
    }
  }
  return out
}

/** Reads until at least `count` records are there (or the timeout passes), then returns them all. */
export async function waitForRecords (client: KinesisClient, stream: string, count: number, timeoutMs = 10_000): Promise<ReadRecord[]> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const records = await readAllRecords(client, stream)
    if (records.length >= count || Date.now() > until) return records
    await sleep(100)
  }
}
