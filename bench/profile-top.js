// Reads a V8 .cpuprofile (node --cpu-prof) and prints the functions with the most self time,
// and self time summed per package / source folder: where the gateway's CPU goes.
//   node bench/profile-top.js <file.cpuprofile> [topN]
import { readFileSync } from 'node:fs'

const [file, topArg] = process.argv.slice(2)
if (file === undefined) {
  console.error('usage: node bench/profile-top.js <file.cpuprofile> [topN]')
  process.exit(2)
}
const top = Number(topArg ?? 30)
const profile = JSON.parse(readFileSync(file, 'utf8'))
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const selfMicros = new Map()
// timeDeltas[i] is the time before samples[i]; attribute it to that sample's node.
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
}
const total = [...selfMicros.values()].reduce((a, b) => a + b, 0)
const perFunction = new Map()
const perArea = new Map()
for (const [id, micros] of selfMicros) {
  const { callFrame: f } = byId.get(id)
  const where = f.url.replace(/^file:\/\//, '')
  const name = `${f.functionName || '(anonymous)'}  ${where.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`
  perFunction.set(name, (perFunction.get(name) ?? 0) + micros)
  perArea.set(area(where, f.functionName), (perArea.get(area(where, f.functionName)) ?? 0) + micros)
}
const pct = (m) => (m / total * 100).toFixed(1).padStart(5) + '%'
console.log(`total sampled: ${(total / 1e6).toFixed(2)} s\n\nself time by area:`)
for (const [k, v] of [...perArea].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${pct(v)}  ${k}`)
console.log(`\ntop ${top} functions by self time:`)
for (const [k, v] of [...perFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`)

function area (url, fn) {
  if (url === '') return fn.startsWith('(') ? fn : '(native/V8 builtins)'
  const nm = url.lastIndexOf('node_modules/')
  if (nm !== -1) {
    const rest = url.slice(nm + 13).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  if (url.startsWith('node:')) return url.split('/')[0] + (url.includes('internal/') ? ' (internal)' : '')
  const dist = url.indexOf('/dist/')
  if (dist !== -1) return 'gateway ' + url.slice(dist + 6).split('/').slice(0, -1).join('/')
  return url
}
