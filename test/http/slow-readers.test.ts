import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { startChildGateway } from '../helpers/child-gateway.js'
import { uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { cidCounts } from '../helpers/load.js'
import { rawPost } from '../helpers/raw-http.js'
import { testKinesisClient, waitForRecords } from '../helpers/stream-reader.js'

// Issue 17, item 4: connections that pipeline many requests and never read the answers. Before
// the connection bounds, 100 such connections (400 requests each, 2.6 MB in all, half of them
// GET /metrics) took the gateway process from 286 MB to 1,174 MB, left a normal client without
// an answer for 40 s and were never dropped; with them, 292 MB to 397 MB, the slowest answer to the
// normal client took 3.8 s, and every attacker was dropped after 4 s (this machine, 2 cores). The gateway runs in a child process so that its memory is its
// own; the attackers and a normal client run here. Linux: memory and sockets are read in /proc.

const ATTACKERS = 100
const REQUESTS_EACH = 400
const MAX_GROWTH_MB = 200
const MAX_WAIT_MS = 15_000

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

function rssMb (pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
}

/** TCP connections the gateway holds on its port (established, or closed by the peer but not yet by the gateway). */
function connectionsOn (port: number): number {
  let n = 0
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/)
      if (local !== undefined && parseInt(local.split(':')[1] ?? '', 16) === port && (state === '01' || state === '08')) n++
    }
  }
  return n
}

t.test(`${ATTACKERS} connections pipelining ${REQUESTS_EACH} requests each and never reading: memory stays bounded, a normal client is served, the attackers are cut off`, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kg-slow-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const stream = uniqueStream('slow-readers')
  // Development defaults: /metrics on the public port, as the probe found it.
  const gw = await startChildGateway({ dir, endpoint: kinesis.endpoint, channels: { events: { stream } } })
  t.teardown(() => { gw.child.kill('SIGKILL') })
  const pid = gw.child.pid as number
  const port = Number(new URL(gw.url).port)
  for (let i = 0; i < 5; i++) await (await fetch(`${gw.url}/metrics`)).text()
  const normal = async (cid: string): Promise<number> =>
    (await fetch(`${gw.url}/v1/events`, { method: 'POST', body: JSON.stringify({ cid }), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(MAX_WAIT_MS) })).status
  t.equal(await normal('warm-up'), 200)
  const baseline = { rss: rssMb(pid), connections: connectionsOn(port) }

  const requests = Array.from({ length: REQUESTS_EACH }, (_, i) => i % 2 === 0
    ? 'GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n'
    : rawPost('/v1/events', '{"attack":1}')).join('')
  const attackers: Socket[] = []
  t.teardown(() => { for (const s of attackers) s.destroy() })
  await Promise.all(Array.from({ length: ATTACKERS }, async () => {
    const socket = connect(port, '127.0.0.1')
    socket.pause() // never reads
    socket.on('error', () => {})
    attackers.push(socket)
    await new Promise<void>((resolve) => socket.once('connect', () => { resolve() }))
    socket.write(requests)
  }))
  const attackedAt = Date.now()

  // A normal client sends one event after another while the attack lasts, until the gateway has
  // dropped every attacking connection (or 60 s pass).
  const probes: Array<{ cid: string, status: number, ms: number }> = []
  let peak = 0
  let cutOffAfter = -1
  while (Date.now() - attackedAt < 60_000) {
    const cid = randomUUID()
    const sentAt = Date.now()
    const status = await normal(cid).catch(() => 0)
    probes.push({ cid, status, ms: Date.now() - sentAt })
    peak = Math.max(peak, rssMb(pid))
    if (connectionsOn(port) <= baseline.connections) {
      cutOffAfter = Date.now() - attackedAt
      break
    }
    await sleep(100)
  }
  const growth = peak - baseline.rss
  t.comment(`rss ${baseline.rss.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB; ${probes.length} probes, slowest ${Math.max(...probes.map((p) => p.ms))} ms; attackers cut off after ${cutOffAfter} ms`)
  t.ok(growth < MAX_GROWTH_MB, `memory growth ${growth.toFixed(0)} MB stays under ${MAX_GROWTH_MB} MB`)
  const unanswered = probes.filter((p) => p.status !== 200).length
  t.equal(unanswered, 0, `every request of the normal client answered 200 within ${MAX_WAIT_MS} ms (${unanswered} of ${probes.length} not)`)
  t.ok(cutOffAfter >= 0, 'the gateway dropped every attacking connection')

  const counts = cidCounts(await waitForRecords(reader, stream, probes.length, 10_000))
  t.ok(probes.every((p) => counts.get(p.cid) === 1), 'every event of the normal client written once')
  t.equal(await normal('after'), 200, 'served after the attack')
})
