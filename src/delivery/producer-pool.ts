import type { AggregateConfig, DeliveryConfig } from '../config/types.js'
import { aggregatingSender } from './kpl-aggregator.js'
import { StreamProducer, type ProducerObserver, type PutRecordsSender, type RecordPacer } from './stream-producer.js'

/** One producer per stream, created on first use, drained together at shutdown. */
export class ProducerPool {
  private readonly producers = new Map<string, StreamProducer>()
  private readonly send: PutRecordsSender
  private readonly delivery: DeliveryConfig
  private readonly observer: ProducerObserver | undefined
  private readonly pacerFor: ((stream: string) => RecordPacer | undefined) | undefined

  constructor (send: PutRecordsSender, delivery: DeliveryConfig, observer?: ProducerObserver, pacerFor?: (stream: string) => RecordPacer | undefined) {
    this.send = send
    this.delivery = delivery
    this.observer = observer
    this.pacerFor = pacerFor
  }

  /**
   * The producer of a stream. Channels that aggregate get a producer of their own per stream and
   * settings (two producers may write to one stream; each batches on its own).
   */
  forStream (stream: string, aggregation?: AggregateConfig & { mixKeys: boolean }): StreamProducer {
    const key = aggregation === undefined ? stream : `${stream}\0aggregate:${aggregation.maxBytes}:${aggregation.maxEvents}:${aggregation.mixKeys}`
    let producer = this.producers.get(key)
    if (producer === undefined) {
      const d = this.delivery
      const pacer = this.pacerFor?.(stream)
      producer = new StreamProducer({
        stream,
        send: aggregation === undefined ? this.send : aggregatingSender(this.send, aggregation),
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
    return producer
  }

  all (): IterableIterator<StreamProducer> {
    return this.producers.values()
  }

  async drain (): Promise<void> {
    await Promise.all([...this.producers.values()].map((p) => p.drain()))
  }
}
