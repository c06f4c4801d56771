// CPU time and memory of a server under test as Linux accounts them, read from /proc for the process
// and all its descendants (cluster workers, anything it forks). The figure does not depend on the
// server reporting itself, and counts every thread of every process (libuv's pool, V8's GC).
import { readdirSync, readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

// utime and stime are in clock ticks (USER_HZ, 100 on Linux; asked once, in case it is not).
const TICKS_PER_SECOND = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { return 100 }
})()

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields (pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return text.slice(text.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined // the process has exited
  }
}

/** The pid and every live descendant of it. */
export function processTree (root) {
  const children = new Map()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const f = statFields(name)
    if (f === undefined) continue
    const ppid = Number(f[1]) // field 4 of stat: the parent's pid
    if (!children.has(ppid)) children.set(ppid, [])
    children.get(ppid).push(Number(name))
  }
  const tree = []
  const todo = [root]
  while (todo.length > 0) {
    const pid = todo.pop()
    tree.push(pid)
    todo.push(...(children.get(pid) ?? []))
  }
  return tree
}

/** User + system CPU seconds of the tree's live processes (fields 14 and 15 of stat). */
export function cpuSeconds (pids) {
  let ticks = 0
  for (const pid of pids) {
    const f = statFields(pid)
    if (f !== undefined) ticks += Number(f[11]) + Number(f[12])
  }
  return ticks / TICKS_PER_SECOND
}

/** Resident memory now and at its peak (VmRSS, VmHWM), summed over the processes, in bytes. */
export function memory (pids) {
  let rss = 0
  let peak = 0
  for (const pid of pids) {
    let status
    try { status = readFileSync(`/proc/${pid}/status`, 'latin1') } catch { continue }
    rss += kib(status, 'VmRSS') * 1024
    peak += kib(status, 'VmHWM') * 1024
  }
  return { rss, peak }
}

function kib (status, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)
  return m === null ? 0 : Number(m[1])
}
