import t from 'tap'
import { RecordQueue } from '../../src/delivery/record-queue.js'

t.test('RecordQueue behaves as an array with push, splice(0, n) and unshift', async (t) => {
  const q = new RecordQueue<number>()
  const model: number[] = []
  let next = 0
  let seed = 7
  const random = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
  let differences = 0
  // Bounded (5,000 steps, a queue of ~150,000 at most): the array model is O(n) per step, and the
  // test must stay fast on a loaded machine.
  for (let step = 0; step < 5_000; step++) {
    const op = random(10)
    if (op < 6) {
      const n = random(500)
      for (let i = 0; i < n; i++) { q.push(next); model.push(next); next++ }
    } else {
      // As takeBatch does: take up to 500 from the front, put some of them back (held by pacing).
      const end = Math.min(model.length, random(600))
      const taken = model.slice(0, end)
      const held = taken.filter((x) => x % 3 === 0)
      model.splice(0, end)
      model.unshift(...held)
      q.dropFront(end)
      q.putBackFront(held)
    }
    if (q.length !== model.length || q.at(0) !== model[0] || q.at(model.length - 1) !== model[model.length - 1]) differences++
  }
  const all: Array<number | undefined> = []
  for (let i = 0; i < q.length; i++) all.push(q.at(i))
  t.same(all, model, 'same items in the same order at the end')
  t.equal(differences, 0, 'same length, front and back after every step')
  t.equal(q.at(q.length), undefined, 'nothing past the end')
  q.putBackFront([-1, -2])
  t.same([q.at(0), q.at(1)], [-1, -2], 'put back in the given order, also into an empty front')
  q.dropFront(q.length + 5)
  t.equal(q.length, 0, 'dropping more than there is empties the queue')
})
