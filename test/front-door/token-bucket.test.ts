import t from 'tap'
import { pino } from 'pino'
import { BucketStore, LocalBuckets, type BucketResult } from '../../src/front-door/token-bucket.js'
import { RedisLink } from '../../src/front-door/redis-link.js'
import { REDIS_URL, redisPrefix, until } from '../helpers/redis.js'

t.test('local GCRA: the burst at once, then one token per interval; ttl says when', async (t) => {
  const b = new LocalBuckets()
  // 5 per second, burst 5: the window (time to refill the burst) is 1000 ms, one token per 200 ms.
  const first = Array.from({ length: 5 }, () => b.take('k', 1000, 5, 10_000))
  t.same(first.map((r) => r.current), [1, 2, 3, 4, 5], 'current = burst - tokens left')
  const refused = b.take('k', 1000, 5, 10_000)
  t.equal(refused.current, 6, 'refused: current > max')
  t.equal(refused.ttl, 200, 'the next token comes in 200 ms')
  t.equal(b.take('k', 1000, 5, 10_199).current, 6, 'not yet')
  t.equal(b.take('k', 1000, 5, 10_200).current, 5, 'one token after 200 ms')
  t.equal(b.take('other', 1000, 5, 10_200).current, 1, 'buckets are independent')
  t.equal(b.take('k', 1000, 5, 20_000).current, 1, 'full again after a quiet period')
})

t.test('local GCRA: over any period at most burst + rate x time are admitted', async (t) => {
  const b = new LocalBuckets()
  const perSecond = 100
  const burst = 20
  const window = burst * 1000 / perSecond
  let admitted = 0
  // Offer 2x the rate for 10 s, one request every 5 ms.
  for (let now = 0; now <= 10_000; now += 5) if (b.take('g', window, burst, now).current <= burst) admitted++
  t.equal(admitted, burst + perSecond * 10, 'exactly the burst plus the steady rate')
})

t.test('the Redis script makes the same decisions as the local buckets', async (t) => {
  const link = new RedisLink({ url: REDIS_URL, keyPrefix: redisPrefix(t), commandTimeoutMs: 1000 }, pino({ level: 'silent' }))
  t.teardown(() => link.close())
  link.start()
  await until(() => link.usable())
  const store = new BucketStore(link)
  const take = async (): Promise<BucketResult> => await new Promise((resolve, reject) => {
    // 1 per second, burst 4: no token comes back during the test.
    store.incr('k', (err, r) => { if (err !== null || r === undefined) reject(err); else resolve(r) }, 4000, 4)
  })
  const results = []
  for (let i = 0; i < 6; i++) results.push(await take())
  t.same(results.map((r) => r.current), [1, 2, 3, 4, 5, 5], 'burst admitted, then refused (current > max)')
  t.ok(results[4]!.ttl > 900 && results[4]!.ttl <= 1000, `refused with the time to the next token (${results[4]!.ttl} ms)`)
  t.equal(link.fallbackCount(), 0, 'decided in Redis')
})
