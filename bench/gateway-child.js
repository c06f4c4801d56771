// One gateway process for the benchmark: the real built app (dist/), the real AWS SDK, talking to
// the endpoint in KINESIS_ENDPOINT. It reports its port, CPU time and memory to the parent over IPC.
import { fileURLToPath, pathToFileURL } from 'node:url'

// BENCH_GATEWAY_DIST: another build to measure (bench/run.js --against), e.g. a worktree's dist/.
const dist = process.env.BENCH_GATEWAY_DIST === undefined ? new URL('../dist/', import.meta.url) : pathToFileURL(process.env.BENCH_GATEWAY_DIST + '/')
const { buildApp } = await import(new URL('app.js', dist).href)
const { parseConfig } = await import(new URL('config/load-config.js', dist).href)

const file = fileURLToPath(new URL('./fixtures/bench.yaml', import.meta.url))
const channel = { stream: 'bench', schema: 'click.json', ...JSON.parse(process.env.BENCH_CHANNEL_JSON ?? '{}') }
// The gateway-wide rate limit (default 10,000 requests/s, as API Gateway's) would cap the
// single-event scenarios with 429s: raised far above any load here, it still runs on every request.
const text = JSON.stringify({
  rateLimit: { perSecond: 10_000_000, burst: 1_000_000 },
  ...JSON.parse(process.env.BENCH_GATEWAY_JSON ?? '{}'),
  channels: { bench: channel }
})
const config = parseConfig(text, file, {
  KINESIS_ENDPOINT: process.env.KINESIS_ENDPOINT,
  KINESIS_CREATE_STREAMS: 'true',
  PORT: '0',
  LOG_LEVEL: 'warn'
})
const app = await buildApp(config)
const address = await app.listen({ port: 0, host: '127.0.0.1' })
process.on('message', (msg) => {
  if (msg === 'stats') process.send({ stats: usage() })
  if (msg === 'gc-stats') {
    globalThis.gc?.() // with --expose-gc (the --long run): live heap, not garbage waiting for GC
    process.send({ stats: usage() })
  }
})
process.on('SIGTERM', async () => {
  await app.close()
  process.exit(0) // a normal exit, so --cpu-prof writes its profile
})
process.send({ ready: address })

function usage () {
  const cpu = process.cpuUsage()
  const mem = process.memoryUsage()
  return { cpuMicros: cpu.user + cpu.system, rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external, maxRss: process.resourceUsage().maxRSS * 1024 }
}
