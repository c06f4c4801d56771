/**
 * How fast `ship` empties a backlog: N lines already in a file, the real gateway (delivered mode)
 * against in-process kinesalite, the shipper as a child process; prints lines/s until the
 * checkpoint reaches the end of the file.
 * Run: TS_NODE_TRANSPILE_ONLY=1 node --import @tapjs/typescript/import bench/ship-throughput.ts [lines] [shards]
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { startGateway, uniqueStream } from '../test/helpers/gateway.js'
import { startKinesalite } from '../test/helpers/kinesis-servers.js'
import { spawnCli } from '../test/helpers/run-cli.js'

const lines = Number(process.argv[2] ?? 50_000)
// The gateway paces each shard under Kinesis' write quota (1,000 records/s): with one shard that is the ceiling.
const shards = Number(process.argv[3] ?? 8)
const teardowns: Array<() => unknown> = []
const t = { teardown: (fn: () => unknown) => { teardowns.push(fn) } }
const dir = await mkdtemp(join(tmpdir(), 'ship-bench-'))
const kinesis = await startKinesalite()
const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { logs: { stream: uniqueStream('bench') } }, extra: { kinesis: { shards } } })
const log = join(dir, 'app.log')
await writeFile(log, Array.from({ length: lines }, (_, i) => `2026-12-02T01:25:39.041Z INFO request ${i} served in 12 ms path=/api/v1/items/${i}\n`).join(''))
const size = (await stat(log)).size
const state = join(dir, 'state.json')
const child = spawnCli(['ship', 'logs', log, '--gateway', gw.url, '--state', state, '--linger-ms', '50'])
child.stderr?.resume()
let started = 0
for (;;) {
  const s = await readFile(state, 'utf8').then((x) => JSON.parse(x) as { files: Array<{ offset: number }> }).catch(() => undefined)
  const offset = s?.files[0]?.offset ?? 0
  if (started === 0 && s !== undefined) started = Date.now()
  if (offset === size) break
  await sleep(20)
}
const seconds = (Date.now() - started) / 1000
console.log(`${shards} shard(s): ${lines} lines (${(size / 1024 / 1024).toFixed(1)} MiB) shipped in ${seconds.toFixed(2)} s: ${Math.round(lines / seconds)} lines/s`)
child.kill('SIGTERM')
await new Promise((resolve) => child.once('close', resolve))
for (const fn of teardowns.reverse()) await fn()
await kinesis.close()
await rm(dir, { recursive: true, force: true })
