// npm run bench: the gateway's own CPU per delivered event, beside a bare Fastify baseline and a bare
// forwarder, over loopback, interleaved in one run, against the targets of issue 11.
//
//   node bench/run.js [--quick] [--duration 10] [--warmup 3] [--repeat 3] [--connections 64]
//                     [--only raw100,envelope100,...] [--no-floor] [--workers 1] [--long [--long-duration 60]]
//                     [--profile [--profile-baseline]] [--label text] [--shards 1000] [--against <built checkout>]
//   node bench/run.js --compare <old.json> <new.json>
//
// Env: BENCH_CHANNEL_JSON (extra channel keys for every scenario's gateway), BENCH_GATEWAY_JSON
// (extra top-level configuration), BENCH_GATEWAY_NODE_ARGS (Node flags for the gateway only),
// BENCH_AGAINST_ENV (extra environment of the --against gateway, JSON).
//
// The figure is the server's own user+system CPU (/proc, the process and all its descendants, so
// every cluster worker) from the end of the warm-up to the end of the flush after the load, divided
// by the events counted at the fake Kinesis endpoint over the same window. wrk (a separate process)
// drives the load. Each measurement starts fresh child processes. Results go to bench/results/.
import { execFile, execFileSync, fork } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { startFakeKinesis } from './fake-kinesis.js'
import { cpuSeconds, memory, processTree } from './proc-stats.js'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const args = process.argv.slice(2)
const flag = (name) => args.includes(`--${name}`)
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i === -1 ? fallback : args[i + 1]
}

// The figure of every comparison: the server's own CPU seconds per million delivered events.
const CPU = 'cpuSecondsPerMillionEvents'

if (flag('compare')) {
  const i = args.indexOf('--compare')
  compare(args[i + 1], args[i + 2])
  process.exit(0)
}

// --quick: a smoke run (every scenario once, 3 s each); its figures are not for quoting.
const quick = flag('quick')
const duration = Number(option('duration', process.env.BENCH_DURATION ?? (quick ? 3 : 10)))
const warmup = Number(option('warmup', quick ? 1 : 3))
const repeat = Math.max(1, Number(option('repeat', quick ? 1 : 3)))
// wrk -t1 -c64, as issue 11 measured: a delivered answer holds its connection for the linger plus
// a PutRecords round trip, so connections bound the batch size of single events (at most 64).
const connections = Number(option('connections', 64))
// Fixed-rate scenarios need connections to spare, or a slow moment stalls the schedule.
const RATE_CONNECTIONS = 256
const floor = !flag('no-floor')
const workers = Number(option('workers', 1))
const profile = flag('profile')
// Open shards of the fake stream. The gateway paces each shard at Kinesis' 1,000 records/s, so the
// stream must be as large as the load (a 1-shard stream caps every scenario at 1,000 events/s).
const shards = Number(option('shards', process.env.BENCH_SHARDS ?? 1000))
// --against <dir>: a second gateway build (its dist/, e.g. a git worktree of an older commit)
// measured in the same rounds, for an A/B comparison that machine drift affects on both sides.
const against = option('against', undefined)

// Events as an analytics client sends them (~190 bytes each), valid against fixtures/click.json.
function event (i) {
  return {
    type: 'click',
    user_id: `user-${i % 1000}`,
    session_id: `s-${(i * 7919) % 100000}`,
    ts: '2026-11-25T12:00:00.000Z',
    url: `https://shop.example.com/products/${i % 500}?ref=home`,
    props: { button: 'buy', position: i % 10, test: false }
  }
}
const batch = Array.from({ length: 100 }, (_, i) => event(i))
const array = JSON.stringify(batch)
const JSON_TYPE = 'application/json'
// Every scenario's channel: acknowledged after delivery, envelope records, the fixture's schema
// (gateway-child.js), unless the scenario says otherwise.
const CHANNEL = { ack: 'delivered', record: 'envelope' }
const SCENARIOS = {
  raw100: { body: array, type: JSON_TYPE, events: 100, channel: { record: 'raw' } },
  envelope100: { body: array, type: JSON_TYPE, events: 100 },
  // Single events at one fixed rate for all three servers: CPU per request depends on the load
  // (a saturated process reads many requests per wake-up, one at a few thousand req/s does not), so
  // only equal rates compare. Measured at max rate, the baseline serves ~8x the gateway's rate (a
  // delivered answer holds its connection ~10 ms) and its cost per request looks ~half of what it
  // is at the gateway's rate. 5,000 req/s is within what the gateway serves with 256 connections.
  single: { body: JSON.stringify(event(1)), type: JSON_TYPE, events: 1, rate: 5_000 },
  ndjson100: { body: batch.map((e) => JSON.stringify(e)).join('\n') + '\n', type: 'application/x-ndjson', events: 100 },
  gzip100: { body: gzipSync(array), type: JSON_TYPE, encoding: 'gzip', events: 100 },
  aggregated100: { body: array, type: JSON_TYPE, events: 100, channel: { aggregate: true } },
  // Latency at a fixed offered rate, answers once the records are in the send buffer.
  buffered10k: { body: JSON.stringify(event(1)), type: JSON_TYPE, events: 1, rate: 10_000, channel: { ack: 'buffered' } },
  // --long only: memory over a minute at a moderate rate.
  long: { body: JSON.stringify(event(1)), type: JSON_TYPE, events: 1, rate: 2_000 }
}
const DEFAULT_SCENARIOS = Object.keys(SCENARIOS).filter((name) => name !== 'long')
const only = option('only', DEFAULT_SCENARIOS.join(',')).split(',')
for (const name of only) {
  if (SCENARIOS[name] === undefined || name === 'long') throw new Error(`unknown scenario ${name}; known: ${DEFAULT_SCENARIOS.join(', ')} (and --long)`)
}

try {
  execFileSync('wrk', ['-v'], { stdio: 'ignore' })
} catch (err) {
  // wrk -v exits 1 after printing its version; only a missing binary is an error.
  if (err.code === 'ENOENT') {
    console.error('bench/run.js: wrk is not installed. Fix: apt-get install wrk (Debian/Ubuntu), brew install wrk (macOS)')
    process.exit(1)
  }
}

const kinesis = await startFakeKinesis({ shards })
const bodyDir = mkdtempSync(join(tmpdir(), 'kg-bench-'))
for (const [name, s] of Object.entries(SCENARIOS)) {
  s.bodyFile = join(bodyDir, name)
  writeFileSync(s.bodyFile, s.body)
}

async function startChild (kind, scenario, exposeGc) {
  const script = here({ gateway: './gateway-child.js', against: './gateway-child.js', floor: './forward-child.js', baseline: './baseline-child.js' }[kind])
  const isGateway = kind === 'gateway' || kind === 'against'
  const profiled = profile && (kind !== 'baseline' || flag('profile-baseline'))
  // BENCH_GATEWAY_NODE_ARGS: Node flags for the gateway only (e.g. "--max-semi-space-size=64").
  const nodeArgs = isGateway ? (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter((a) => a !== '') : []
  // Cluster workers write one profile each: Node's default names (with the pid) keep them apart.
  const profName = workers > 1 && isGateway ? [] : ['--cpu-prof-name', `${kind}-${Date.now()}.cpuprofile`]
  const execArgv = [...(profiled ? ['--cpu-prof', '--cpu-prof-dir', here('./results/profiles'), ...profName] : []),
    ...nodeArgs, ...(exposeGc ? ['--expose-gc'] : [])]
  // The AWS SDK warns on Node 20 that its future versions need Node 22: noise in a benchmark's output.
  const env = { ...process.env, KINESIS_ENDPOINT: kinesis.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }
  if (isGateway) {
    env.BENCH_CHANNEL_JSON = JSON.stringify({ ...CHANNEL, ...JSON.parse(process.env.BENCH_CHANNEL_JSON ?? '{}'), ...scenario.channel })
    env.BENCH_WORKERS = String(workers)
  }
  if (kind === 'against') {
    env.BENCH_GATEWAY_DIST = join(against, 'dist')
    Object.assign(env, JSON.parse(process.env.BENCH_AGAINST_ENV ?? '{}'))
  }
  const child = fork(script, [], { env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const address = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code} before it was ready`)))
    child.on('message', (m) => { if (m.ready !== undefined) resolve(m.ready) })
  })
  const heapAfterGc = () => new Promise((resolve) => {
    const on = (m) => { if (m.gcStats !== undefined) { child.off('message', on); resolve(m.gcStats.heapUsed) } }
    child.on('message', on)
    child.send('gc-stats')
  })
  const stop = async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))])
  }
  return { pid: child.pid, address, heapAfterGc, stop }
}

/** wrk against the scenario's body for `seconds` (bench/wrk-rate.lua): counts and latency. */
async function load (address, scenario, seconds) {
  const rate = scenario.rate ?? 0
  const out = await new Promise((resolve, reject) => {
    execFile('wrk', ['-t1', `-c${rate > 0 ? RATE_CONNECTIONS : connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', here('./wrk-rate.lua'),
      address + '/v1/bench', '--', String(rate), scenario.type, scenario.bodyFile, scenario.encoding ?? ''],
    { encoding: 'utf8' }, (err, stdout) => (err ? reject(err) : resolve(stdout)))
  })
  const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '))
  if (line === undefined) throw new Error(`wrk printed no summary:\n${out}`)
  const w = JSON.parse(line.slice('WRK_JSON '.length))
  return { seconds: w.durationUs / 1e6, ok: w.requests - w.statusErrors, non2xx: w.statusErrors, errors: w.socketErrors + w.timeouts, p50Ms: w.p50Us / 1000, p99Ms: w.p99Us / 1000 }
}

/** What one server has used and the endpoint has received, now. */
function snapshot (pid) {
  const tree = processTree(pid)
  return { cpu: cpuSeconds(tree), memory: memory(tree), endpoint: { ...kinesis.stats }, benchCpu: process.cpuUsage(), at: performance.now() }
}

/**
 * Waits until the server has finished what the load left it (requests queued in its sockets,
 * buffered records, retries): no record reached the endpoint and the server used under 10% of a
 * core, for 300 ms on end. Bounded, so a server that never settles cannot stall the run.
 */
async function settle (pid) {
  const started = performance.now()
  let last = snapshot(pid)
  let quiet = 0
  while (quiet < 3 && performance.now() - started < 30_000) {
    await sleep(100)
    const now = snapshot(pid)
    const idle = now.endpoint.records === last.endpoint.records && now.cpu - last.cpu <= 0.01 * (now.at - last.at) / 100
    quiet = idle ? quiet + 1 : 0
    last = now
  }
  if (quiet < 3) process.stdout.write('(did not settle in 30 s) ')
  return performance.now() - started
}

async function measure (kind, name, seconds = duration, sampleEveryMs = undefined) {
  const scenario = SCENARIOS[name]
  const child = await startChild(kind, scenario, sampleEveryMs !== undefined)
  try {
    await load(child.address, scenario, warmup)
    await settle(child.pid)
    const before = snapshot(child.pid)
    const rssSamples = []
    const heapSamples = []
    let sampler
    if (sampleEveryMs !== undefined) {
      // RSS as the OS sees it, and the live JS heap after a full GC (a leak grows the latter).
      sampler = setInterval(async () => {
        rssSamples.push(round(memory(processTree(child.pid)).rss / 1048576, 1))
        heapSamples.push(round(await child.heapAfterGc() / 1048576, 1))
      }, sampleEveryMs)
    }
    const r = await load(child.address, scenario, seconds)
    clearInterval(sampler)
    const flushMs = await settle(child.pid)
    const after = snapshot(child.pid)
    if (r.non2xx > 0 || r.errors > 0) process.stdout.write(`(${kind}: ${r.non2xx} non-2xx answers, ${r.errors} socket errors or timeouts) `)

    const delivers = kind !== 'baseline'
    const records = after.endpoint.records - before.endpoint.records
    // Events: counted at the endpoint for the servers that deliver (inside KPL aggregates too);
    // the baseline delivers nothing, so its events are the ones it answered.
    const events = delivers ? after.endpoint.events - before.endpoint.events : r.ok * scenario.events
    const calls = after.endpoint.calls - before.endpoint.calls
    const cpu = after.cpu - before.cpu
    const benchCpu = process.cpuUsage(before.benchCpu)
    return {
      requestsPerSec: round(r.ok / r.seconds),
      eventsPerSec: round(events / r.seconds),
      p50Ms: round(r.p50Ms, 2),
      p99Ms: round(r.p99Ms, 2),
      cpuSecondsPerMillionEvents: events > 0 ? round(cpu / events * 1e6, 2) : null,
      cpuMicrosPerRequest: r.ok > 0 ? round(cpu / r.ok * 1e6, 1) : null,
      // Cores the server used over the load window (its CPU includes the flush after it).
      cores: round(cpu / r.seconds, 2),
      ...(delivers
        ? {
            bytesPerRecord: records > 0 ? round((after.endpoint.recordBytes - before.endpoint.recordBytes) / records) : null,
            eventsPerRecord: records > 0 ? round(events / records, 1) : null,
            recordsPerPutRecordsCall: calls > 0 ? round(records / calls, 1) : null,
            answeredEvents: r.ok * scenario.events,
            deliveredEvents: events
          }
        : {}),
      flushMs: round(flushMs),
      peakRssMiB: round(after.memory.peak / 1048576, 1),
      non2xx: r.non2xx,
      errors: r.errors,
      // The bench process (fake endpoint) on the same machine: context for a saturated run.
      endpointCores: round((benchCpu.user + benchCpu.system) / 1e6 / ((after.at - before.at) / 1000), 2),
      ...(rssSamples.length > 0 ? { rssSamplesMiB: rssSamples, heapAfterGcSamplesMiB: heapSamples } : {})
    }
  } finally {
    await child.stop()
  }
}

const round = (x, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits
const ratio = (a, b) => (a == null || b == null || b === 0 ? null : round(a / b, 2))
const median = (values) => {
  const v = values.filter((x) => typeof x === 'number').sort((a, b) => a - b)
  if (v.length === 0) return null
  return v.length % 2 === 1 ? v[(v.length - 1) / 2] : round((v[v.length / 2 - 1] + v[v.length / 2]) / 2, 2)
}
/** The median of every numeric field over rounds (other fields from the first round). */
const medianOf = (rounds) => Object.fromEntries(Object.keys(rounds[0]).map((k) =>
  [k, typeof rounds[0][k] === 'number' ? median(rounds.map((r) => r[k])) : rounds[0][k]]))

// Rounds outside, scenarios inside: each scenario's servers take turns within a round, and every
// scenario is measured once per round, so drift of the shared machine spreads over all of them.
const rounds = Object.fromEntries(only.map((name) => [name, []]))
for (let i = 0; i < repeat; i++) {
  for (const name of only) {
    process.stdout.write(`${name}: ${repeat > 1 ? `[${i + 1}/${repeat}] ` : ''}baseline... `)
    const turn = { baseline: await measure('baseline', name) }
    if (floor) {
      process.stdout.write('floor... ')
      turn.floor = await measure('floor', name)
    }
    if (against !== undefined) {
      process.stdout.write('against... ')
      turn.against = await measure('against', name)
    }
    process.stdout.write('gateway... ')
    turn.gateway = await measure('gateway', name)
    rounds[name].push(turn)
    process.stdout.write(`done (gateway ${turn.gateway[CPU]} CPU s/M events)\n`)
  }
}

const results = {}
for (const name of only) {
  const perRound = rounds[name]
  const s = SCENARIOS[name]
  // Ratios are the medians of each round's own ratios: a slow minute weighs on both sides of one round.
  const cpuRatio = (a, b) => median(perRound.map((r) => ratio(r[a]?.[CPU], r[b]?.[CPU])))
  results[name] = {
    offeredRate: s.rate ?? 'max',
    eventsPerRequest: s.events,
    channel: { ...CHANNEL, ...s.channel },
    contentEncoding: s.encoding ?? null,
    rounds: perRound.length,
    ...Object.fromEntries(['baseline', 'floor', 'against', 'gateway'].filter((who) => perRound[0][who] !== undefined)
      .map((who) => [who, medianOf(perRound.map((r) => r[who]))])),
    cpuRatios: {
      gatewayToBaseline: cpuRatio('gateway', 'baseline'),
      ...(floor ? { gatewayToFloor: cpuRatio('gateway', 'floor'), floorToBaseline: cpuRatio('floor', 'baseline') } : {}),
      ...(against !== undefined ? { gatewayToAgainst: cpuRatio('gateway', 'against'), againstToBaseline: cpuRatio('against', 'baseline') } : {})
    },
    perRound
  }
}
if (flag('long')) {
  const seconds = Number(option('long-duration', quick ? 15 : 60))
  process.stdout.write(`long: gateway, single events at 2,000 req/s for ${seconds} s, RSS sampled every 5 s... `)
  const gateway = await measure('gateway', 'long', seconds, 5_000)
  results.long = {
    offeredRate: SCENARIOS.long.rate,
    seconds,
    gateway,
    // Growth over the run from a least-squares line through the samples after the first.
    rssGrowthPercent: growthPercent(gateway.rssSamplesMiB),
    heapGrowthPercent: growthPercent(gateway.heapAfterGcSamplesMiB)
  }
  process.stdout.write('done\n')
}
await kinesis.close()
rmSync(bodyDir, { recursive: true, force: true })

const sha = gitSha()
const report = {
  at: new Date().toISOString(),
  git: sha,
  label: option('label', undefined),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: round(totalmem() / 2 ** 30, 1), node: process.version },
  settings: {
    quick,
    durationSeconds: duration,
    warmupSeconds: warmup,
    repeat,
    loadGenerator: `wrk -t1 -c${connections} (fixed rates: -c${RATE_CONNECTIONS})`,
    shards,
    workers,
    floor,
    against: against ?? null,
    channel: process.env.BENCH_CHANNEL_JSON ?? null,
    gateway: process.env.BENCH_GATEWAY_JSON ?? null
  },
  results,
  targets: targets(results)
}
mkdirSync(here('./results'), { recursive: true })
const out = here(`./results/${report.at.replaceAll(':', '-').replace(/\..*/, '')}-${sha}${quick ? '-quick' : ''}.json`)
writeFileSync(out, JSON.stringify(report, null, 2) + '\n')
printReport(report)
console.log(`\nwritten to ${out}`)
if (profile) console.log(`CPU profiles in ${here('./results/profiles')} (read them with: node bench/profile-top.js <file>)`)

/** Percent growth of a series over its span, from a least-squares line (the first sample, warming up, left out). */
function growthPercent (samples) {
  const y = samples.slice(1)
  if (y.length < 2) return null
  const n = y.length
  const mx = (n - 1) / 2
  const my = y.reduce((a, b) => a + b, 0) / n
  let sxy = 0
  let sxx = 0
  for (let i = 0; i < n; i++) { sxy += (i - mx) * (y[i] - my); sxx += (i - mx) ** 2 }
  return round(sxy / sxx * (n - 1) / my * 100, 1)
}

/** The targets of issue 11, item 2, each with the measured figure and met / not met / not measured. */
function targets (res) {
  const gw = (name) => res[name]?.gateway?.[CPU] ?? null
  // A scenario's gateway CPU against envelope100's, as the median of the rounds' own ratios.
  const toArray = (name) => res[name] === undefined || res.envelope100 === undefined
    ? null
    : median(res[name].perRound.map((r, i) => ratio(r.gateway[CPU], res.envelope100.perRound[i]?.gateway[CPU])))
  const buffered = res.buffered10k?.gateway
  const single = res.single?.gateway
  const long = res.long
  const list = [
    { target: '100-event arrays, record: raw', limit: '<= 2.4 CPU-s/M events', value: gw('raw100'), met: (v) => v <= 2.4 },
    { target: '100-event arrays, envelope', limit: '<= 3.6 CPU-s/M events', value: gw('envelope100'), met: (v) => v <= 3.6 },
    // Equal rates only: a gateway that cannot serve the offered rate is not compared at it.
    { target: 'single events at 5,000 req/s, gateway / baseline CPU per request', limit: '<= 1.5x, >= 4,900 req/s served', value: res.single?.cpuRatios.gatewayToBaseline ?? null, met: (v) => v <= 1.5 && single.requestsPerSec >= 4_900, note: single === undefined ? undefined : `${single.requestsPerSec} req/s served` },
    { target: 'NDJSON 100 / JSON array 100 (envelope), CPU per event', limit: '<= 1.25x', value: toArray('ndjson100'), met: (v) => v <= 1.25 },
    { target: 'gzip 100 / JSON array 100 (envelope), CPU per event', limit: '<= 1.25x', value: toArray('gzip100'), met: (v) => v <= 1.25 },
    { target: 'aggregated 100 / JSON array 100 (envelope), CPU per event', limit: '<= 1.00x', value: toArray('aggregated100'), met: (v) => v <= 1 },
    // p99 at 10,000 req/s only means something if 10,000 req/s were served.
    { target: 'buffered, p99 at 10,000 req/s offered', limit: '< 20 ms, >= 9,800 req/s served', value: buffered?.p99Ms ?? null, met: (v) => v < 20 && buffered.requestsPerSec >= 9_800, note: buffered === undefined ? undefined : `${buffered.requestsPerSec} req/s served` },
    { target: `RSS and live heap flat over ${long?.seconds ?? 60} s (--long)`, limit: 'growth <= 10%', value: long?.rssGrowthPercent == null || long.heapGrowthPercent == null ? null : Math.max(long.rssGrowthPercent, long.heapGrowthPercent), met: (v) => v <= 10, note: long === undefined ? undefined : `RSS ${long.rssGrowthPercent}%, heap ${long.heapGrowthPercent}%` }
  ]
  return list.map(({ met, ...t }) => ({ ...t, verdict: t.value === null ? 'not measured' : met(t.value) ? 'met' : 'not met' }))
}

function gitSha () {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== ''
    return dirty ? `${head}-dirty` : head
  } catch {
    return 'nogit'
  }
}

function printTable (rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => String(row[i] ?? '').length)))
  for (const row of rows) console.log(row.map((c, i) => i === 0 ? String(c ?? '').padEnd(widths[i]) : String(c ?? '').padStart(widths[i])).join('  '))
}

function printReport (rep) {
  const s = rep.settings
  console.log(`\n${rep.at}  ${rep.git}  ${rep.machine.cpus} x ${rep.machine.cpuModel}  Node ${rep.machine.node}`)
  console.log(`${s.durationSeconds} s per measurement after ${s.warmupSeconds} s warm-up, ${s.loadGenerator}, ${s.workers} gateway worker(s), ` +
    `${s.repeat > 1 ? `medians of ${s.repeat} rounds` : '1 round'}${s.quick ? ' (--quick: a smoke run, not for quoting)' : ''}`)
  console.log('CPU = the server\'s own user+system CPU (all its processes) over the load and the flush after it; events counted at the endpoint.\n')
  const rows = [['scenario', 'who', 'CPU s/M ev', 'CPU us/req', 'x base', 'x floor', 'B/record', 'ev/record', 'events/s', 'req/s', 'p99 ms', 'cores', 'peak RSS MiB', 'errors']]
  for (const [name, r] of Object.entries(rep.results)) {
    if (name === 'long') continue
    for (const who of ['baseline', 'floor', 'against', 'gateway']) {
      const m = r[who]
      if (m === undefined) continue
      const toBase = { gateway: r.cpuRatios.gatewayToBaseline, floor: r.cpuRatios.floorToBaseline, against: r.cpuRatios.againstToBaseline }[who]
      const toFloor = who === 'gateway' ? r.cpuRatios.gatewayToFloor : undefined
      rows.push([name + (r.offeredRate === 'max' ? '' : `@${r.offeredRate}`), who, m[CPU], m.cpuMicrosPerRequest, toBase, toFloor,
        m.bytesPerRecord, m.eventsPerRecord, m.eventsPerSec, m.requestsPerSec, m.p99Ms, m.cores, m.peakRssMiB, m.non2xx + m.errors || ''])
    }
  }
  printTable(rows)
  if (rep.settings.against !== null) {
    console.log(`\ngateway / against (${rep.settings.against}), CPU per event, median of the rounds' ratios: ` +
      Object.entries(rep.results).filter(([name]) => name !== 'long').map(([name, r]) => `${name} ${r.cpuRatios.gatewayToAgainst}`).join(', '))
  }
  if (rep.results.long !== undefined) {
    const g = rep.results.long.gateway
    console.log(`\nlong: RSS MiB every 5 s: ${g.rssSamplesMiB.join(' ')}`)
    console.log(`long: live heap MiB after GC every 5 s: ${g.heapAfterGcSamplesMiB.join(' ')}`)
  }
  console.log('\nTargets (issue 11, item 2):')
  printTable([['target', 'limit', 'measured', 'verdict'], ...rep.targets.map((t) => [t.target, t.limit, t.value + (t.note === undefined ? '' : ` (${t.note})`), t.verdict])])
}

function compare (oldFile, newFile) {
  const a = JSON.parse(readFileSync(oldFile, 'utf8'))
  const b = JSON.parse(readFileSync(newFile, 'utf8'))
  console.log(`${a.git} (${a.at})  ->  ${b.git} (${b.at})`)
  console.log('gateway CPU s per M delivered events, and its ratio to the baseline of each run, old -> new:')
  for (const [name, rb] of Object.entries(b.results)) {
    const ra = a.results[name]
    if (ra?.gateway === undefined || rb.gateway === undefined || rb.cpuRatios === undefined) continue
    console.log(`  ${name}: ${ra.gateway[CPU]} -> ${rb.gateway[CPU]} CPU s/M, x baseline ${ra.cpuRatios?.gatewayToBaseline ?? '?'} -> ${rb.cpuRatios.gatewayToBaseline}`)
  }
}
