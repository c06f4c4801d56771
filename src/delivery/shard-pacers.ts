import type { KinesisClient } from '@aws-sdk/client-kinesis'
import type { DeliveryConfig } from '../config/types.js'
import { ShardPacer, type ShardLoad } from './shard-pacer.js'

/** One ShardPacer per stream, created with its producer, started once the streams exist. */
export class ShardPacers {
  private readonly pacers = new Map<string, ShardPacer>()
  private readonly client: KinesisClient
  private readonly delivery: DeliveryConfig
  private readonly onError: (stream: string, err: unknown) => void

  constructor (client: KinesisClient, delivery: DeliveryConfig, onError: (stream: string, err: unknown) => void) {
    this.client = client
    this.delivery = delivery
    this.onError = onError
  }

  /** The pacer of a stream (undefined when shard-aware sending is off). */
  forStream (stream: string): ShardPacer | undefined {
    if (!this.delivery.shardAware) return undefined
    let pacer = this.pacers.get(stream)
    if (pacer === undefined) {
      pacer = new ShardPacer(this.client, stream, {
        recordsPerSecond: this.delivery.shardRecordsPerSecond,
        bytesPerSecond: this.delivery.shardBytesPerSecond,
        refreshMs: this.delivery.shardRefreshMs,
        onError: (err) => this.onError(stream, err)
      })
      this.pacers.set(stream, pacer)
    }
    return pacer
  }

  /** Reads every stream's shards (a failure leaves that stream unpaced until a refresh works). */
  async start (): Promise<void> {
    await Promise.all([...this.pacers.values()].map((p) => p.start()))
  }

  stop (): void {
    for (const p of this.pacers.values()) p.stop()
  }

  /** Per-shard load of every stream (for metrics: hot partition keys show up here). */
  load (): Record<string, ShardLoad[]> {
    const out: Record<string, ShardLoad[]> = {}
    for (const [stream, p] of this.pacers) out[stream] = p.load()
    return out
  }
}
