import type { AggregateConfig, DeliveryConfig } from '../config/types.js'
import type { Sink, SinkLimits } from '../kinesis/sink.js'
import { aggregatingSink } from './kpl-aggregator.js'
import { StreamProducer, type ProducerObserver, type RecordPacer } from './stream-producer.js'

/** One producer per stream, created on first use, drained together at shutdown. */
export class ProducerPool {
  private readonly producers = new Map<string, StreamProducer>()
  private readonly sink: Sink
  private readonly delivery: DeliveryConfig
  private readonly observer: ProducerObserver | undefined
  private readonly pacerFor: ((stream: string) => RecordPacer | undefined) | undefined

  constructor (sink: Sink, delivery: DeliveryConfig, observer?: ProducerObserver, pacerFor?: (stream: string) => RecordPacer | undefined) {
    this.sink = sink
    this.delivery = delivery
    this.observer = observer
    this.pacerFor = pacerFor
  }

  /**
   * The producer of a stream. Channels that aggregate get a producer of their own per stream and
   * settings (two producers may write to one stream; each batches on its own).
   */
  forStream (stream: string, aggregation?: AggregateConfig & { mixKeys: boolean }, maxRecordBytes?: number): StreamProducer {
    const key = aggregation === undefined ? stream : `${stream}\0aggregate:${aggregation.maxBytes}:${aggregation.maxEvents}:${aggregation.mixKeys}`
    let producer = this.producers.get(key)
    if (producer === undefined) {
      const d = this.delivery
      const pacer = this.pacerFor?.(stream)
      producer = new StreamProducer({
        stream,
        sink: aggregation === undefined ? this.sink : aggregatingSink(this.sink, aggregation),
        lingerMs: d.lingerMs,
        maxInFlight: d.maxInFlightPerStream,
        recordDeadlineMs: d.recordDeadlineMs,
        retryBaseMs: d.retryBaseMs,
        retryMaxMs: d.retryMaxMs,
        maxBufferedBytes: d.maxBufferedBytesPerStream,
        maxBufferedRecords: d.maxBufferedRecordsPerStream,
        ...(this.observer !== undefined ? { observer: this.observer } : {}),
        ...(pacer !== undefined ? { pacer } : {})
      })
      this.producers.set(key, producer)
    }
    // Large records (up to 10 MiB): a call must be able to carry one.
    if (maxRecordBytes !== undefined) producer.allowRecordsOf(maxRecordBytes)
    return producer
  }

  /** What one call to the sink may carry (a record larger than maxRecordBytes is the client's error). */
  get limits (): SinkLimits {
    return this.sink.limits
  }

  all (): IterableIterator<StreamProducer> {
    return this.producers.values()
  }

  async drain (): Promise<void> {
    await Promise.all([...this.producers.values()].map((p) => p.drain()))
  }
}
