// npm run bench: the gateway against a bare Fastify baseline, over loopback, in one run.
//
//   node bench/run.js [--duration 10] [--connections 64] [--only single,batch100,ndjson100,rate10k]
//                     [--long] [--profile [--profile-baseline]] [--label text] [--shards 1000] [--wrk]
//                     [--floor] [--repeat 3] [--against <other checkout, built>]
//   node bench/run.js --compare <old.json> <new.json>
//
// Env: BENCH_DURATION (seconds per scenario), BENCH_CHANNEL_JSON (extra channel keys for the
// gateway, e.g. '{"aggregate":true}'), BENCH_GATEWAY_JSON (extra top-level configuration, e.g.
// '{"delivery":{"maxInFlightPerStream":32}}').
// Every scenario starts fresh child processes (so CPU time and peak RSS are per scenario), warms
// them up, then drives them with autocannon. Events delivered are counted at the fake Kinesis
// endpoint, not from the HTTP answers. Results go to bench/results/<timestamp>-<sha>.json.
import { execFile, execFileSync, fork } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { startFakeKinesis } from './fake-kinesis.js'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const args = process.argv.slice(2)
const flag = (name) => args.includes(`--${name}`)
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`)
  return i === -1 ? fallback : args[i + 1]
}

if (flag('compare')) {
  const i = args.indexOf('--compare')
  compare(args[i + 1], args[i + 2])
  process.exit(0)
}

const duration = Number(option('duration', process.env.BENCH_DURATION ?? 10))
// Delivered mode holds each request for the linger time plus a PutRecords round trip (~10-20 ms),
// so a single-event client needs many connections to offer the load: 256 by default.
const connections = Number(option('connections', 256))
const aggregated = /"aggregate"\s*:\s*(true|\{)/.test(process.env.BENCH_CHANNEL_JSON ?? '')
const warmup = Math.min(3, Math.max(1, Math.round(duration / 4)))
const only = option('only', 'single,batch100,ndjson100,rate10k,rate10k-buffered').split(',')
// Fixed-rate scenarios with wrk (must be installed) instead of autocannon, which runs in this
// process next to the fake endpoint and itself saturates near 10,000 req/s on a small machine.
const useWrk = flag('wrk')
const profile = flag('profile')
// Open shards of the fake stream. The gateway paces each shard at Kinesis' 1,000 records/s, so the
// stream must be as large as the load (a 1-shard stream caps every scenario at 1,000 events/s).
const shards = Number(option('shards', process.env.BENCH_SHARDS ?? 1000))
// A third server per scenario (bench/forward-child.js): bare Fastify that forwards every event to
// the endpoint with plain PutRecords calls and nothing else, the floor of any delivering gateway.
const floor = flag('floor')
const repeat = Math.max(1, Number(option('repeat', 1)))
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
const SCENARIOS = {
  single: { body: JSON.stringify(event(1)), type: 'application/json', events: 1 },
  batch100: { body: JSON.stringify(batch), type: 'application/json', events: 100 },
  ndjson100: { body: batch.map((e) => JSON.stringify(e)).join('\n') + '\n', type: 'application/x-ndjson', events: 100 },
  // Latency at a fixed offered rate (issue 6: p99 < 20 ms at 10,000 req/s).
  rate10k: { body: JSON.stringify(event(1)), type: 'application/json', events: 1, rate: 10_000 },
  // The same in `buffered` acknowledgement mode (202 once the records are in the send buffer).
  'rate10k-buffered': { body: JSON.stringify(event(1)), type: 'application/json', events: 1, rate: 10_000, channel: { ack: 'buffered' } }
}

const kinesis = await startFakeKinesis({ shards })

async function startChild (kind, extraArgv = [], channel = undefined) {
  const script = here({ gateway: './gateway-child.js', against: './gateway-child.js', floor: './forward-child.js', baseline: './baseline-child.js' }[kind])
  const profiled = profile && (kind !== 'baseline' || flag('profile-baseline'))
  // BENCH_GATEWAY_NODE_ARGS: Node flags for the gateway only (e.g. "--max-semi-space-size=64").
  const nodeArgs = kind === 'gateway' ? (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter((a) => a !== '') : []
  const execArgv = [...(profiled ? ['--cpu-prof', '--cpu-prof-dir', here('./results/profiles'), '--cpu-prof-name', `${kind}-${Date.now()}.cpuprofile`] : []), ...nodeArgs, ...extraArgv]
  // The AWS SDK warns on Node 20 that its future versions need Node 22: noise in a benchmark's output.
  const env = { ...process.env, KINESIS_ENDPOINT: kinesis.endpoint, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }
  if (kind === 'against') {
    env.BENCH_GATEWAY_DIST = join(against, 'dist')
    // BENCH_AGAINST_ENV: extra environment for the --against gateway only (JSON object), e.g. to
    // compare one build with itself under another setting.
    Object.assign(env, JSON.parse(process.env.BENCH_AGAINST_ENV ?? '{}'))
  }
  if (channel !== undefined) env.BENCH_CHANNEL_JSON = JSON.stringify({ ...JSON.parse(process.env.BENCH_CHANNEL_JSON ?? '{}'), ...channel })
  const child = fork(script, [], { env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const address = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code} before it was ready`)))
    child.on('message', (m) => { if (m.ready !== undefined) resolve(m.ready) })
  })
  const stats = (what = 'stats') => new Promise((resolve) => {
    const on = (m) => { if (m.stats !== undefined) { child.off('message', on); resolve(m.stats) } }
    child.on('message', on)
    child.send(what)
  })
  const stop = async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))])
  }
  return { address, stats, stop }
}

function load (url, scenario, seconds, generator = 'autocannon') {
  if (generator === 'wrk') return loadWithWrk(url, scenario, seconds)
  const opts = {
    url: url + '/v1/bench',
    method: 'POST',
    headers: { 'content-type': scenario.type },
    body: scenario.body,
    connections: scenario.rate !== undefined ? 128 : connections,
    duration: seconds
  }
  if (scenario.rate !== undefined) opts.overallRate = scenario.rate
  return autocannon(opts)
}

/** The same measurement with wrk at a fixed rate (bench/wrk-rate.lua), in autocannon's result shape. */
async function loadWithWrk (url, scenario, seconds) {
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-'))
  const bodyFile = join(dir, 'body')
  writeFileSync(bodyFile, scenario.body)
  try {
    const out = await new Promise((resolve, reject) => {
      execFile('wrk', ['-t1', '-c128', `-d${seconds}s`, '--timeout', '10s', '-s', here('./wrk-rate.lua'), url + '/v1/bench', '--',
        String(scenario.rate), scenario.type, bodyFile], { encoding: 'utf8' }, (err, stdout) => (err ? reject(err) : resolve(stdout)))
    })
    const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '))
    if (line === undefined) throw new Error(`wrk printed no summary:\n${out}`)
    const w = JSON.parse(line.slice('WRK_JSON '.length))
    return {
      duration: w.durationUs / 1e6,
      '2xx': w.requests - w.statusErrors,
      non2xx: w.statusErrors,
      errors: w.socketErrors,
      timeouts: w.timeouts,
      latency: { p50: round(w.p50Us / 1000, 2), p99: round(w.p99Us / 1000, 2) }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function measure (kind, name, seconds = duration, samples) {
  const scenario = SCENARIOS[name]
  const child = await startChild(kind, samples === undefined ? [] : ['--expose-gc'], kind === 'gateway' || kind === 'against' ? scenario.channel : undefined)
  const generator = useWrk && scenario.rate !== undefined ? 'wrk' : 'autocannon'
  try {
    await load(child.address, scenario, warmup)
    await sleep(200)
    const before = await child.stats()
    const recordsBefore = kinesis.stats.records
    const callsBefore = kinesis.stats.calls
    let sampler
    const rssSamples = []
    const heapSamples = []
    if (samples !== undefined) {
      // RSS as the OS sees it, and the live JS heap after a full GC (a leak grows the latter).
      sampler = setInterval(async () => {
        const s = await child.stats('gc-stats')
        rssSamples.push(Math.round(s.rss / 1048576))
        heapSamples.push(round(s.heapUsed / 1048576, 1))
      }, samples)
    }
    const r = await load(child.address, scenario, seconds, generator)
    clearInterval(sampler)
    if (r.non2xx > 0 || r.errors > 0) process.stdout.write(`(${kind}: ${r.non2xx} non-2xx answers, ${r.errors} errors) `)
    await sleep(100) // let the last PutRecords calls land
    const after = await child.stats()
    const delivered = kinesis.stats.records - recordsBefore
    const calls = kinesis.stats.calls - callsBefore
    const elapsed = r.duration
    const ok = r['2xx']
    // Delivered events are counted at the endpoint; with aggregation it sees Kinesis records that
    // each hold many events, so events are then the acknowledged ones (acks come after delivery).
    const countAtEndpoint = ((kind === 'gateway' || kind === 'against') && !aggregated) || kind === 'floor'
    const events = countAtEndpoint ? delivered : ok * scenario.events
    const eventsPerSec = events / elapsed
    const cpuSeconds = (after.cpuMicros - before.cpuMicros) / 1e6
    return {
      loadGenerator: generator,
      requestsPerSec: round(ok / elapsed),
      eventsPerSec: round(eventsPerSec),
      ...(kind !== 'baseline' ? { kinesisRecordsPerSec: round(delivered / elapsed), recordsPerPutRecordsCall: calls > 0 ? round(delivered / calls, 1) : null } : {}),
      p50Ms: r.latency.p50,
      p99Ms: r.latency.p99,
      cpuSecondsPerMillionEvents: events > 0 ? round(cpuSeconds / events * 1e6, 2) : null,
      cpuUtilization: round(cpuSeconds / elapsed, 2),
      peakRssMiB: round(after.maxRss / 1048576, 1),
      non2xx: r.non2xx,
      errors: r.errors + r.timeouts,
      ...(rssSamples.length > 0 ? { rssSamplesMiB: rssSamples, heapAfterGcSamplesMiB: heapSamples } : {})
    }
  } finally {
    await child.stop()
  }
}

const round = (x, digits = 0) => Math.round(x * 10 ** digits) / 10 ** digits
const ratio = (a, b) => (a == null || b == null || b === 0 ? null : round(a / b, 2))

const RATIO_KEYS = ['requestsPerSec', 'eventsPerSec', 'p50Ms', 'p99Ms', 'cpuSecondsPerMillionEvents', 'peakRssMiB']
const ratiosOf = (a, b) => Object.fromEntries(RATIO_KEYS.map((key) => [key, ratio(a[key], b[key])]))
const median = (values) => {
  const v = values.filter((x) => typeof x === 'number').sort((a, b) => a - b)
  if (v.length === 0) return null
  return v.length % 2 === 1 ? v[(v.length - 1) / 2] : round((v[v.length / 2 - 1] + v[v.length / 2]) / 2, 2)
}
/** The median of every numeric field over rounds (other fields from the first round). */
const medianOf = (rounds) => Object.fromEntries(Object.keys(rounds[0]).map((k) =>
  [k, typeof rounds[0][k] === 'number' ? median(rounds.map((r) => r[k])) : rounds[0][k]]))

const results = {}
for (const name of only) {
  if (SCENARIOS[name] === undefined) throw new Error(`unknown scenario ${name}`)
  // With --repeat N the servers take turns N times; ratios are the medians of each round's own
  // ratios, so a slower minute on a shared machine weighs on both sides of the same round.
  const rounds = []
  for (let i = 0; i < repeat; i++) {
    const tag = repeat > 1 ? `[${i + 1}/${repeat}] ` : ''
    process.stdout.write(`${name}: ${tag}baseline... `)
    const baseline = await measure('baseline', name)
    let forward
    if (floor) {
      process.stdout.write('floor... ')
      forward = await measure('floor', name)
    }
    let other
    if (against !== undefined) {
      process.stdout.write('against... ')
      other = await measure('against', name)
    }
    process.stdout.write('gateway... ')
    const gateway = await measure('gateway', name)
    rounds.push({ baseline, forward, other, gateway })
    process.stdout.write('done\n')
  }
  const pick = (who) => rounds.map((r) => r[who])
  const medianRatios = (a, b) => Object.fromEntries(RATIO_KEYS.map((key) => [key, median(rounds.map((r) => ratiosOf(r[a], r[b])[key]))]))
  results[name] = {
    offeredRate: SCENARIOS[name].rate ?? 'max',
    eventsPerRequest: SCENARIOS[name].events,
    ack: SCENARIOS[name].channel?.ack ?? 'delivered',
    ...(repeat > 1 ? { rounds: repeat } : {}),
    baseline: repeat > 1 ? medianOf(pick('baseline')) : rounds[0].baseline,
    ...(floor ? { floor: repeat > 1 ? medianOf(pick('forward')) : rounds[0].forward } : {}),
    gateway: repeat > 1 ? medianOf(pick('gateway')) : rounds[0].gateway,
    ratios: medianRatios('gateway', 'baseline'),
    ...(floor ? { floorRatios: medianRatios('forward', 'baseline'), gatewayToFloor: medianRatios('gateway', 'forward') } : {}),
    ...(against !== undefined ? { against: repeat > 1 ? medianOf(pick('other')) : rounds[0].other, gatewayToAgainst: medianRatios('gateway', 'other') } : {}),
    ...(repeat > 1 ? { ratiosPerRound: rounds.map((r) => ratiosOf(r.gateway, r.baseline)) } : {})
  }
}
if (flag('long')) {
  const seconds = Number(option('long-duration', 60))
  process.stdout.write(`long: gateway, single events at 2,000 req/s for ${seconds} s, RSS sampled every 5 s... `)
  SCENARIOS.long = { ...SCENARIOS.single, rate: 2_000 }
  const gateway = await measure('gateway', 'long', seconds, 5_000)
  const s = gateway.rssSamplesMiB
  const h = gateway.heapAfterGcSamplesMiB
  results.long = {
    offeredRate: 2_000,
    seconds,
    gateway,
    rssGrowthMiB: s.length > 1 ? round(s[s.length - 1] - s[1], 1) : null,
    heapGrowthMiB: h.length > 1 ? round(h[h.length - 1] - h[1], 1) : null
  }
  process.stdout.write('done\n')
}
await kinesis.close()

const sha = gitSha()
const report = {
  at: new Date().toISOString(),
  git: sha,
  label: option('label', undefined),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: round(totalmem() / 2 ** 30, 1), node: process.version },
  settings: { durationSeconds: duration, warmupSeconds: warmup, connections, shards, repeat, floor, against: against ?? null, channel: process.env.BENCH_CHANNEL_JSON ?? null, gateway: process.env.BENCH_GATEWAY_JSON ?? null },
  results
}
mkdirSync(here('./results'), { recursive: true })
const out = here(`./results/${report.at.replaceAll(':', '-').replace(/\..*/, '')}-${sha}.json`)
writeFileSync(out, JSON.stringify(report, null, 2) + '\n')
printTable(report)
console.log(`\nwritten to ${out}`)
if (profile) console.log(`CPU profiles in ${here('./results/profiles')} (read them with: node bench/profile-top.js <file>)`)

function gitSha () {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== ''
    return dirty ? `${head}-dirty` : head
  } catch {
    return 'nogit'
  }
}

function printTable (rep) {
  console.log(`\n${rep.at}  ${rep.git}  ${rep.machine.cpus} x ${rep.machine.cpuModel}  Node ${rep.machine.node}  ${rep.settings.durationSeconds} s/scenario` +
    (rep.settings.repeat > 1 ? `, medians of ${rep.settings.repeat} rounds` : ''))
  const head = ['scenario', 'who', 'req/s', 'events/s', 'p50 ms', 'p99 ms', 'CPU s/M ev', 'peak RSS MiB', 'non2xx']
  const rows = [head]
  for (const [name, r] of Object.entries(rep.results)) {
    for (const who of ['baseline', 'floor', 'against', 'gateway']) {
      const m = r[who]
      if (m === undefined) continue
      rows.push([name + (r.offeredRate === 'max' ? '' : `@${r.offeredRate}`), who, m.requestsPerSec, m.eventsPerSec, m.p50Ms, m.p99Ms, m.cpuSecondsPerMillionEvents, m.peakRssMiB, m.non2xx])
    }
    if (r.ratios !== undefined) {
      const q = r.ratios
      rows.push(['', 'ratio', q.requestsPerSec, q.eventsPerSec, q.p50Ms, q.p99Ms, q.cpuSecondsPerMillionEvents, q.peakRssMiB, ''])
    }
    for (const [label, q] of [['floor/base', r.floorRatios], ['gw/floor', r.gatewayToFloor], ['gw/against', r.gatewayToAgainst]]) {
      if (q !== undefined) rows.push(['', label, q.requestsPerSec, q.eventsPerSec, q.p50Ms, q.p99Ms, q.cpuSecondsPerMillionEvents, q.peakRssMiB, ''])
    }
    if (r.gateway?.rssSamplesMiB !== undefined) {
      console.log(`${name}: RSS MiB every 5 s: ${r.gateway.rssSamplesMiB.join(' ')}`)
      console.log(`${name}: live heap MiB after GC every 5 s: ${r.gateway.heapAfterGcSamplesMiB.join(' ')}`)
    }
  }
  const widths = head.map((_, i) => Math.max(...rows.map((row) => String(row[i] ?? '').length)))
  for (const row of rows) console.log(row.map((c, i) => String(c ?? '').padStart(widths[i])).join('  '))
}

function compare (oldFile, newFile) {
  const a = JSON.parse(readFileSync(oldFile, 'utf8'))
  const b = JSON.parse(readFileSync(newFile, 'utf8'))
  console.log(`${a.git} (${a.at})  ->  ${b.git} (${b.at})`)
  console.log('ratios to the baseline of each run (the comparable figures), old -> new:')
  for (const [name, rb] of Object.entries(b.results)) {
    const ra = a.results[name]
    if (ra?.ratios === undefined || rb.ratios === undefined) continue
    const parts = Object.entries(rb.ratios).map(([k, v]) => `${k} ${ra.ratios[k]} -> ${v}`)
    console.log(`  ${name}: ${parts.join(', ')}`)
  }
}
