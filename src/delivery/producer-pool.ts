import type { DeliveryConfig } from '../config/types.js'
import { StreamProducer, type ProducerObserver, type PutRecordsSender } from './stream-producer.js'

/** One producer per stream, created on first use, drained together at shutdown. */
export class ProducerPool {
  private readonly producers = new Map<string, StreamProducer>()
  private readonly send: PutRecordsSender
  private readonly delivery: DeliveryConfig
  private readonly observer: ProducerObserver | undefined

  constructor (send: PutRecordsSender, delivery: DeliveryConfig, observer?: ProducerObserver) {
    this.send = send
    this.delivery = delivery
    this.observer = observer
  }

  forStream (stream: string): StreamProducer {
    let producer = this.producers.get(stream)
    if (producer === undefined) {
      const d = this.delivery
      producer = new StreamProducer({
        stream,
        send: this.send,
        lingerMs: d.lingerMs,
        maxInFlight: d.maxInFlightPerStream,
        recordDeadlineMs: d.recordDeadlineMs,
        retryBaseMs: d.retryBaseMs,
        retryMaxMs: d.retryMaxMs,
        maxBufferedBytes: d.maxBufferedBytesPerStream,
        maxBufferedRecords: d.maxBufferedRecordsPerStream,
        ...(this.observer !== undefined ? { observer: this.observer } : {})
      })
      this.producers.set(stream, producer)
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
