// One gateway for the benchmark: the real built app (dist/), the real AWS SDK, talking to the
// endpoint in KINESIS_ENDPOINT, configured through the gateway's own parser. It tells the parent its
// address over IPC, and its live heap after a full GC when asked ('gc-stats', the --long run).
// BENCH_WORKERS=N (run.js --workers N): N worker processes share the port through node:cluster, as
// the gateway's cluster mode runs them; this process is then only their primary. CPU and memory
// are read by run.js from /proc for this process and all its descendants.
import cluster from 'node:cluster'
import { fileURLToPath, pathToFileURL } from 'node:url'

const workers = Number(process.env.BENCH_WORKERS ?? 1)

if (workers > 1 && cluster.isPrimary) await runPrimary()
else await runGateway()

async function runGateway () {
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
  // In a cluster worker, port 0 is the one port the primary picked for every worker.
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  process.on('message', (msg) => {
    if (msg === 'gc-stats') {
      globalThis.gc?.() // with --expose-gc (the --long run): live heap, not garbage waiting for GC
      process.send({ gcStats: { heapUsed: process.memoryUsage().heapUsed } })
    }
  })
  process.on('SIGTERM', async () => {
    await app.close()
    process.exit(0) // a normal exit, so --cpu-prof writes its profile
  })
  if (cluster.isPrimary) process.send({ ready: address })
}

/** Forks the workers, reports the shared address once all listen, relays gc-stats, stops them on SIGTERM. */
async function runPrimary () {
  const forked = Array.from({ length: workers }, () => cluster.fork())
  const addresses = await Promise.all(forked.map((w) => new Promise((resolve, reject) => {
    w.once('exit', (code) => reject(new Error(`gateway worker exited with ${code} before it listened`)))
    w.once('listening', (a) => resolve(a))
  })))
  process.on('message', async (msg) => {
    if (msg !== 'gc-stats') return
    const heaps = await Promise.all(forked.map((w) => new Promise((resolve) => {
      w.once('message', (m) => resolve(m.gcStats?.heapUsed ?? 0))
      w.send('gc-stats')
    })))
    process.send({ gcStats: { heapUsed: heaps.reduce((a, b) => a + b, 0) } })
  })
  process.on('SIGTERM', async () => {
    await Promise.all(forked.map((w) => new Promise((resolve) => { w.once('exit', resolve); w.process.kill('SIGTERM') })))
    process.exit(0)
  })
  process.send({ ready: `http://127.0.0.1:${addresses[0].port}` })
}
