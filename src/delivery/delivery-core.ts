import type { KinesisClient } from '@aws-sdk/client-kinesis'
import type { GatewayConfig, KinesisConfig } from '../config/types.js'
import { createKinesisClient } from '../kinesis/kinesis-client.js'
import { createKinesisSink } from '../kinesis/put-records-sender.js'
import { senderSink, type PutRecordsSender, type Sink } from '../kinesis/sink.js'
import { startEmbeddedKinesis, type EmbeddedKinesis } from '../ops/embedded-kinesis.js'
import type { GatewayMetrics } from '../ops/metrics.js'
import { AckDispatcher } from './ack-modes.js'
import { ProducerPool } from './producer-pool.js'
import { ShardPacers } from './shard-pacers.js'

/** The few logger calls the core makes (a pino logger fits; made before any HTTP server exists). */
export interface CoreLogger {
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

export interface DeliveryDeps {
  readonly log: CoreLogger
  readonly metrics: GatewayMetrics
  /** A ListShards refresh failed (pacing keeps the previous shard list); default: a warning. */
  readonly shardListFailed?: (stream: string, err: unknown) => void
  /** Replaces the Kinesis data path (unit tests of the HTTP edge; integration tests use a real server). */
  readonly send?: PutRecordsSender
}

/** Everything between a prepared record and Kinesis, without HTTP. */
export interface DeliveryCore {
  /** The target in use (with the embedded server's endpoint resolved). */
  readonly kinesis: KinesisConfig
  /** The SDK client of the control plane (streams, shards, readiness). */
  readonly admin: KinesisClient
  readonly sink: Sink
  readonly pool: ProducerPool
  readonly shards: ShardPacers
  readonly acks: AckDispatcher
  /** Streams of channels in spool mode (their spools are open). */
  readonly spooledStreams: readonly string[]
  /** Spools stop taking appends; shippers stop reading (shutdown step 1). */
  stop: () => Promise<void>
  /** After the producers drained: final spool checkpoints, connections, the embedded server. */
  close: () => Promise<void>
}

/**
 * Builds producers, pacing, spools and acknowledgements from the configuration. Fastify-free:
 * buildApp registers it, a test or another front end can use it alone.
 */
export async function createDeliveryCore (config: GatewayConfig, deps: DeliveryDeps): Promise<DeliveryCore> {
  const { log, metrics } = deps
  let embedded: EmbeddedKinesis | undefined
  let kinesis = config.kinesis
  if (kinesis.mode === 'embedded') {
    embedded = await startEmbeddedKinesis(kinesis.embeddedPort)
    kinesis = { ...kinesis, endpoint: embedded.endpoint }
  }
  const admin = createKinesisClient(kinesis)
  // The data path signs with this client's credential chain and region (put-records-sender.ts).
  const sink = metrics.meteredSink(deps.send !== undefined ? senderSink(deps.send) : createKinesisSink(kinesis, admin))
  const releaseConnections = async (): Promise<void> => {
    sink.close?.()
    admin.destroy()
    await embedded?.close()
  }
  try {
    const shards = new ShardPacers(admin, config.delivery, deps.shardListFailed ??
      ((stream, err) => { log.warn({ stream, err }, 'ListShards failed: shard pacing uses the previous shard list') }))
    const metered = metrics.producerObserver()
    const pool = new ProducerPool(sink, config.delivery, {
      ...metered,
      // Non-retryable failures (stream missing, access denied) fail fast and loudly.
      callFailed: (stream, code, message, retryable) => {
        metered.callFailed?.(stream, code, message, retryable)
        if (!retryable) log.error({ stream, errorCode: code, message }, 'PutRecords failed with a non-retryable error')
      }
    }, (stream) => shards.forStream(stream))
    // Spools are opened (and recovered after a crash) before the first request is served.
    const spooledStreams = [...new Set([...config.channels.values()].filter((c) => c.ack === 'spool').map((c) => c.stream))]
    const acks = await AckDispatcher.create(spooledStreams, config.spool, pool, {
      corruptTail: (stream, segment, offset, reason) => log.error({ stream, segment, offset, reason }, 'spool: corrupt or torn record; rest of the segment skipped'),
      hardFailure: (stream, count, errorCode, message) => log.error({ stream, count, errorCode, message }, 'spool: Kinesis refused records; they stay spooled and are retried'),
      diskError: (stream, code, message) => log.error({ stream, code, message }, 'spool: the disk refused a write; requests get 503 GW_ERR_SPOOL_FULL until it takes writes again'),
      diskRecovered: (stream) => log.warn({ stream }, 'spool: the disk takes writes again'),
      bufferedLost: (stream, count, errorCode, message) => {
        metrics.recordsLostFor(stream, 'buffered', count, errorCode)
        log.error({ stream, count, errorCode, message }, 'buffered: acknowledged records refused by Kinesis for good (lost)')
      }
    })
    return {
      kinesis,
      admin,
      sink,
      pool,
      shards,
      acks,
      spooledStreams,
      stop: async () => {
        shards.stop()
        await acks.stop()
      },
      close: async () => {
        await acks.close()
        await releaseConnections()
      }
    }
  } catch (err) {
    await releaseConnections()
    throw err
  }
}
