/**
 * Memory during a long Kinesis outage (issue 3: "memory stays flat").
 *
 * Starts kinesalite and the fault proxy here, the real gateway (src/server.ts) as a child process,
 * and a steady load of 20-event requests. After 5 s the proxy resets every connection for 30 s;
 * then 5 s of recovery. The gateway's RSS (/proc/<pid>/status, Linux) is sampled every second.
 *
 *   npm run build && TS_NODE_TRANSPILE_ONLY=1 node --no-warnings --import @tapjs/typescript/import bench/outage-rss.ts [buffered|delivered|spool] [outageSeconds] [heapCapMiB]
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { startChildGateway } from '../test/helpers/child-gateway.js'
import { startFaultProxy } from '../test/helpers/fault-proxy.js'
import { startKinesalite } from '../test/helpers/kinesis-servers.js'
import { sendLoad } from '../test/helpers/load.js'

const mode = process.argv[2] ?? 'buffered'
const outageSeconds = Number(process.argv[3] ?? 30)
/** Optional V8 heap cap for the gateway (MiB): if memory were unbounded it would crash with it. */
const heapCapMiB = process.argv[4]

async function rssMiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return Math.round(kb / 1024)
}

const kinesis = await startKinesalite()
const proxy = await startFaultProxy(kinesis.endpoint)
const dir = await mkdtemp(join(tmpdir(), 'kg-bench-'))
const gw = await startChildGateway({
  dir,
  endpoint: proxy.endpoint,
  channels: { events: { stream: `bench-${randomUUID()}`, ack: mode } },
  compiled: true,
  ...(heapCapMiB !== undefined ? { nodeArgs: [`--max-old-space-size=${heapCapMiB}`] } : {}),
  extra: {
    spool: { dir: join(dir, 'spool'), maxBytes: 256 * 1024 * 1024 },
    // The documented defaults, written out: 100,000 records / 64 MiB per stream.
    delivery: { maxBufferedRecordsPerStream: 100_000, maxBufferedBytesPerStream: 64 * 1024 * 1024 }
  }
})
const pid = gw.child.pid as number
let stop = false
const load = sendLoad({ url: `${gw.url}/v1/events`, events: Number.MAX_SAFE_INTEGER, batchSize: 20, concurrency: 8, prefix: randomUUID(), stop: () => stop })

const samples: Array<{ t: number, phase: string, rss: number }> = []
const total = 5 + outageSeconds + 5
for (let s = 0; s < total; s++) {
  const phase = s < 5 ? 'before' : s < 5 + outageSeconds ? 'outage' : 'after'
  if (s === 5) proxy.outage(outageSeconds * 1000)
  samples.push({ t: s, phase, rss: await rssMiB(pid) })
  await sleep(1000)
}
stop = true
const result = await load
gw.child.kill('SIGTERM')
await gw.exited
await proxy.close()
await kinesis.close()
await rm(dir, { recursive: true, force: true })

const of = (phase: string): number[] => samples.filter((x) => x.phase === phase).map((x) => x.rss)
const outage = of('outage')
console.log(JSON.stringify({
  mode,
  outageSeconds,
  heapCapMiB: heapCapMiB ?? 'default',
  exit: await gw.exited,
  rssMiB: {
    before: of('before').at(-1),
    outageMin: Math.min(...outage),
    outageMax: Math.max(...outage),
    outageLast: outage.at(-1),
    after: of('after').at(-1)
  },
  series: samples.map((x) => x.rss).join(' '),
  acknowledged: result.acked.size,
  statuses: Object.fromEntries(result.statuses)
}, null, 2))
