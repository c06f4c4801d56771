// Does the default gateway-wide limit (10,000 requests/s, burst 5,000) hold when two instances share
// one Redis? Offers 1.5x the limit as rate-limit decisions from two instances' stores (two Redis
// connections, the gateway's own BucketStore and Lua script) and counts what is admitted.
// The HTTP layer is left out on purpose: this 2-core machine cannot also generate 15,000 HTTP
// requests/s; test/front-door/rate-limit.test.ts covers the same property over HTTP at 50/s.
//
//   npm run build && node bench/throttle-shared.mjs [seconds=3] [redis://127.0.0.1:6379]
import { pino } from 'pino'
import { RedisLink } from '../dist/front-door/redis-link.js'
import { BucketStore, LocalBuckets } from '../dist/front-door/token-bucket.js'
import { DEFAULTS } from '../dist/config/limits.js'

const seconds = Number(process.argv[2] ?? 3)
const url = process.argv[3] ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const perSecond = DEFAULTS.rateLimitPerSecond
const burst = DEFAULTS.rateLimitBurst
const windowMs = Math.round(burst * 1000 / perSecond)
const offeredPerSecond = perSecond * 1.5
const log = pino({ level: 'warn' })
const prefix = `kgw-bench-${process.pid}-${Date.now()}:`

function take (store, key) {
  return new Promise((resolve) => store.incr(key, (_err, r) => resolve(r.current <= burst), windowMs, burst))
}

/** Offers `offeredPerSecond` decisions/s for `seconds`, alternating between the stores, in 5 ms ticks. */
async function offer (stores) {
  const pending = []
  let admitted = 0
  let n = 0
  const start = performance.now()
  const total = offeredPerSecond * seconds
  while (n < total) {
    const due = Math.min(total, Math.floor((performance.now() - start) * offeredPerSecond / 1000) + 1)
    for (; n < due; n++) pending.push(take(stores[n % stores.length], 'global').then((ok) => { if (ok) admitted++ }))
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await Promise.all(pending)
  const elapsed = (performance.now() - start) / 1000
  return { offered: total, admitted, elapsed, bound: burst + perSecond * elapsed }
}

const links = [new RedisLink({ url, keyPrefix: prefix, commandTimeoutMs: 1000 }, log), new RedisLink({ url, keyPrefix: prefix, commandTimeoutMs: 1000 }, log)]
for (const l of links) l.start()
while (!links.every((l) => l.usable())) await new Promise((resolve) => setTimeout(resolve, 20))
const shared = await offer(links.map((l) => new BucketStore(l)))
const fallbacks = links.reduce((s, l) => s + l.fallbackCount(), 0)
await links[0].redis.del(`${prefix}rl:global`)
for (const l of links) await l.close()

const localStores = [new LocalBuckets(), new LocalBuckets()].map((b) => ({ incr: (k, cb, w, m) => cb(null, b.take(k, w, m)) }))
const local = await offer(localStores)

const fmt = (r) => `offered ${r.offered} in ${r.elapsed.toFixed(2)} s, admitted ${r.admitted} ` +
  `(${(r.admitted / r.elapsed).toFixed(0)}/s), bound burst + rate x time = ${r.bound.toFixed(0)}: ${r.admitted <= Math.ceil(r.bound) ? 'HOLDS' : 'EXCEEDED'}`
console.log(`limit ${perSecond}/s, burst ${burst}; two instances, ${offeredPerSecond}/s offered`)
console.log(`shared through Redis:      ${fmt(shared)}; decisions taken locally: ${fallbacks}`)
console.log(`local only (Redis down):   ${fmt(local)} (each instance applies the whole limit)`)
