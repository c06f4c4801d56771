import { mock } from 'node:test'
import t from 'tap'
t.test('mock timers', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1000 })
  let fired = 0
  setTimeout(() => { fired = Date.now() }, 50)
  mock.timers.tick(49)
  t.equal(fired, 0)
  mock.timers.tick(1)
  t.equal(fired, 1050)
  await new Promise((r) => setImmediate(r))
  mock.timers.reset()
})
