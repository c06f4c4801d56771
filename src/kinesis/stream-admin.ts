import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  ResourceNotFoundException,
  type KinesisClient,
  type StreamStatus
} from '@aws-sdk/client-kinesis'
import { setTimeout as sleep } from 'node:timers/promises'

/** A stream's status, or "MISSING" when it does not exist. */
export type StreamState = StreamStatus | 'MISSING'

export async function streamState (client: KinesisClient, stream: string): Promise<StreamState> {
  try {
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }))
    return out.StreamDescriptionSummary?.StreamStatus ?? 'MISSING'
  } catch (err) {
    if (err instanceof ResourceNotFoundException || (err as Error).name === 'ResourceNotFoundException') return 'MISSING'
    throw err
  }
}

export interface EnsureStreamsOptions {
  /**
   * Create streams in on-demand capacity mode (StreamModeDetails ON_DEMAND, no shard count):
   * AWS scales the shards itself. kinesalite has no on-demand mode and refuses such a request.
   */
  readonly onDemand?: boolean
}

/** Creates each missing stream with `shards` shards (or on demand) and waits until every stream is ACTIVE. */
export async function ensureStreams (client: KinesisClient, streams: readonly string[], shards: number, timeoutMs = 60_000,
  options: EnsureStreamsOptions = {}): Promise<string[]> {
  const created: string[] = []
  for (const stream of streams) {
    if (await streamState(client, stream) !== 'MISSING') continue
    try {
      await client.send(new CreateStreamCommand(options.onDemand === true
        ? { StreamName: stream, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }
        : { StreamName: stream, ShardCount: shards }))
      created.push(stream)
    } catch (err) {
      // Another instance may have created it in the meantime.
      if ((err as Error).name !== 'ResourceInUseException') throw err
    }
  }
  const until = Date.now() + timeoutMs
  for (const stream of streams) {
    for (;;) {
      const state = await streamState(client, stream)
      if (state === 'ACTIVE' || state === 'UPDATING') break
      if (Date.now() > until) throw new Error(`stream ${stream} is ${state}, not ACTIVE, after ${timeoutMs} ms`)
      await sleep(100)
    }
  }
  return created
}

export interface StreamInfo {
  readonly stream: string
  readonly status: StreamState
  /** PROVISIONED or ON_DEMAND; undefined when missing or when the server does not say (kinesalite). */
  readonly mode: string | undefined
  readonly openShards: number | undefined
}

/** Status, capacity mode and open shard count of one stream (DescribeStreamSummary). */
export async function describeStream (client: KinesisClient, stream: string): Promise<StreamInfo> {
  try {
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }))
    const s = out.StreamDescriptionSummary
    return {
      stream,
      status: s?.StreamStatus ?? 'MISSING',
      mode: s?.StreamModeDetails?.StreamMode,
      openShards: s?.OpenShardCount
    }
  } catch (err) {
    if (err instanceof ResourceNotFoundException || (err as Error).name === 'ResourceNotFoundException') {
      return { stream, status: 'MISSING', mode: undefined, openShards: undefined }
    }
    throw err
  }
}
