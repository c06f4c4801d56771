import type { AckMode, SpoolConfig } from '../config/types.js'
import type { ProducerPool } from './producer-pool.js'
import { StreamSpool } from './spool/stream-spool.js'
import type { ShipperObserver } from './spool/spool-shipper.js'
import type { DeliveryReport, OutgoingRecord, StreamProducer } from './stream-producer.js'

/**
 * The three acknowledgement modes (docs/reliability.md):
 * - delivered: resolve with every record's outcome once Kinesis has answered for all of them;
 * - buffered: resolve as soon as the records are in the bounded in-memory buffer; they are then
 *   retried until written (no deadline), so only a crash or a non-retryable error loses them;
 * - spool: resolve once the records are fsynced to the stream's disk spool; its shipper sends them.
 * Buffer and spool limits throw BufferFullError / SpoolFullError before anything is accepted.
 */
export type Acknowledgement =
  | { readonly mode: 'delivered', readonly report: DeliveryReport }
  | { readonly mode: 'buffered' | 'spool' }

export interface AckObserver extends ShipperObserver {
  /** Buffered-mode records refused for good by Kinesis after they were acknowledged (lost). */
  bufferedLost?: (stream: string, count: number, errorCode: string, message: string) => void
}

export class AckDispatcher {
  private readonly spools = new Map<string, StreamSpool>()
  private readonly observer: AckObserver

  private constructor (observer: AckObserver) {
    this.observer = observer
  }

  /** Opens (and recovers) a spool for each stream that has a channel in spool mode. */
  static async create (spooledStreams: Iterable<string>, spool: SpoolConfig, pool: ProducerPool, observer: AckObserver = {}): Promise<AckDispatcher> {
    const acks = new AckDispatcher(observer)
    try {
      for (const stream of new Set(spooledStreams)) {
        acks.spools.set(stream, await StreamSpool.open(stream, spool, pool.forStream(stream), observer))
      }
    } catch (err) {
      await acks.close()
      throw err
    }
    return acks
  }

  spoolOf (stream: string): StreamSpool | undefined {
    return this.spools.get(stream)
  }

  async accept (mode: AckMode, producer: StreamProducer, records: readonly OutgoingRecord[]): Promise<Acknowledgement> {
    if (mode === 'delivered') return { mode, report: await producer.submit(records) }
    if (mode === 'buffered') {
      const stream = producer.stream
      void producer.submit(records, Number.POSITIVE_INFINITY).then((report) => {
        if (report.failed === 0 || report.errorCodes === null) return
        const last = report.errorCodes.findLastIndex((c) => c !== '')
        this.observer.bufferedLost?.(stream, report.failed, report.errorCodes[last] ?? '', report.errorMessages?.[last] ?? '')
      })
      return { mode }
    }
    const spool = this.spools.get(producer.stream)
    if (spool === undefined) throw new Error(`no spool is open for stream ${producer.stream}`)
    await spool.append(records)
    return { mode }
  }

  /** Shutdown step 1: no more appends, shippers stop reading (unsent records stay on disk). */
  async stop (): Promise<void> {
    await Promise.all([...this.spools.values()].map((s) => s.stop()))
  }

  /** Shutdown step 2, after the producers drained: final checkpoints. */
  async close (): Promise<void> {
    await Promise.all([...this.spools.values()].map((s) => s.close()))
  }
}
