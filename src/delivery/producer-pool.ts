import type { DeliveryConfig } from '../config/types.js'
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

  forStream (stream: string): StreamProducer {
    let producer = this.producers.get(stream)
    if (producer === undefined) {
      const d = this.delivery
      const pacer = this.pacerFor?.(stream)
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
        ...(this.observer !== undefined ? { observer: this.observer } : {}),
        ...(pacer !== undefined ? { pacer } : {})
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
