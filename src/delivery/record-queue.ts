/**
 * A FIFO of queued records that takes batches off its front in O(batch), not O(queue).
 *
 * The producer used an array and `splice(0, n)` per PutRecords batch, which moves every record
 * still queued: with 100,000 records waiting (a backlog in buffered mode, or an outage) that was
 * ~0.7 ms per 500-record batch, growing with the backlog. Here the front advances over a head
 * index, taken slots are cleared (so sent records can be collected), and the array is compacted
 * once more than half of it is dead, which keeps every operation amortized O(1) per record.
 */
export class RecordQueue<T> {
  private items: Array<T | undefined> = []
  private head = 0

  get length (): number {
    return this.items.length - this.head
  }

  push (item: T): void {
    this.items.push(item)
  }

  /** The i-th item from the front (undefined past the end). */
  at (i: number): T | undefined {
    return this.items[this.head + i]
  }

  /** Removes the first `count` items. */
  dropFront (count: number): void {
    const end = Math.min(this.head + count, this.items.length)
    for (let i = this.head; i < end; i++) this.items[i] = undefined
    this.head = end
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
  }

  /** Puts items back at the front, in the given order (records taken but held back by pacing). */
  putBackFront (items: readonly T[]): void {
    if (items.length === 0) return
    if (items.length <= this.head) {
      this.head -= items.length
      for (let i = 0; i < items.length; i++) this.items[this.head + i] = items[i]
    } else {
      this.items = [...items, ...this.items.slice(this.head)]
      this.head = 0
    }
  }
}
