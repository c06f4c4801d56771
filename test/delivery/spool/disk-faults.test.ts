import { execFile } from 'node:child_process'
import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import t from 'tap'
import { startFaultyKinesis } from '../../helpers/fault-proxy.js'
import { post, startGateway, uniqueStream, type RunningGateway, type Teardown } from '../../helpers/gateway.js'
import { audit, waitForAcked } from '../../helpers/load.js'
import { readAllRecords } from '../../helpers/stream-reader.js'

// Issue 17, item 2: a spool whose disk refuses writes (full, read-only, folder removed) answers
// 503 GW_ERR_SPOOL_FULL with Retry-After, leaves no segment files behind, frees what it shipped,
// takes events again on its own once the disk does, and loses nothing it acknowledged.

const run = promisify(execFile)
const { proxy, reader } = await startFaultyKinesis(t)

/** A small tmpfs at a new folder (root only); undefined, with the reason, where mounting is not permitted. */
async function smallDisk (t: Teardown, bytes: number): Promise<{ dir: string } | { skip: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'kg-small-'))
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir])
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    return { skip: `cannot mount a ${bytes}-byte tmpfs (${(err as Error).message.split('\n')[0] ?? ''}): needs root with CAP_SYS_ADMIN` }
  }
  t.teardown(async () => {
    await run('umount', ['-l', dir]).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  return { dir }
}

/** A gateway with one spool channel on `dir` (64 KiB segments, the smallest allowed), through the fault proxy. */
async function spoolGateway (t: Teardown, tag: string, dir: string): Promise<{ gw: RunningGateway, stream: string, folder: string }> {
  const stream = uniqueStream(tag)
  proxy.setPlan({})
  const gw = await startGateway(t, {
    endpoint: proxy.endpoint,
    channels: { events: { stream, ack: 'spool' } },
    extra: { spool: { dir, segmentBytes: 64 * 1024, checkpointIntervalMs: 50 }, delivery: { retryMaxMs: 200 } }
  })
  return { gw, stream, folder: join(dir, stream) }
}

/**
 * How this machine can make a folder unwritable under a running gateway: a read-only bind mount
 * over it (as root: creating, renaming and deleting files fail with EROFS; root ignores permission
 * bits), or, where mounting is not permitted and the process is not root, mode 0555 (EACCES).
 */
async function readOnlyMethod (): Promise<'mount' | 'chmod' | { skip: string }> {
  const probe = await mkdtemp(join(tmpdir(), 'kg-probe-'))
  try {
    await run('mount', ['--bind', probe, probe])
    await run('umount', [probe])
    return 'mount'
  } catch (err) {
    if (process.getuid?.() !== 0) return 'chmod'
    return { skip: `cannot bind-mount as root (${(err as Error).message.split('\n')[0] ?? ''}), and root ignores mode 0555` }
  } finally {
    await rm(probe, { recursive: true, force: true })
  }
}

/** Makes `folder` unwritable; the returned function (idempotent) makes it writable again. */
async function makeReadOnly (folder: string, method: 'mount' | 'chmod'): Promise<() => Promise<void>> {
  let undone = false
  if (method === 'chmod') {
    await chmod(folder, 0o555)
    return async () => { if (!undone) { undone = true; await chmod(folder, 0o755) } }
  }
  await run('mount', ['--bind', folder, folder])
  const undo = async (): Promise<void> => { if (!undone) { undone = true; await run('umount', [folder]) } }
  // The remount fails (busy) while the gateway has a file open for writing through the new mount
  // (a checkpoint being written): try again a moment later, a bounded number of times.
  for (let attempt = 1; ; attempt++) {
    try {
      await run('mount', ['-o', 'remount,bind,ro', folder])
      return undo
    } catch (err) {
      if (attempt >= 100) { await undo(); throw err }
      await sleep(10)
    }
  }
}

interface Refusal { status: number, code: unknown, retryAfter: string | null }

/** Posts a 10-event batch with unique cids (about 3 KB, or 11 KB with `big`); adds them to `acked` on 202. */
async function postBatch (gw: RunningGateway, tag: string, acked: Set<string>, big = false): Promise<Refusal | undefined> {
  const batch = Array.from({ length: 10 }, (_, i) => ({ cid: `${tag}-${i}`, pad: 'p'.repeat(big ? 1000 : 120) }))
  const res = await post(`${gw.url}/v1/events`, JSON.stringify(batch))
  if (res.status === 202) { for (const e of batch) acked.add(e.cid); return undefined }
  return { status: res.status, code: res.json.code, retryAfter: res.headers.get('retry-after') }
}

/** Segment files in a stream's spool folder, with their sizes. */
async function segments (dir: string): Promise<number[]> {
  const names = await readdir(dir).catch(() => [] as string[])
  const out: number[] = []
  for (const n of names.filter((n) => n.endsWith('.seg'))) out.push(await stat(join(dir, n)).then((s) => s.size, () => -1))
  return out
}

/** Posts until a batch is taken again (at most `ms`); returns the refusals met meanwhile. */
async function untilTaken (gw: RunningGateway, tag: string, acked: Set<string>, ms: number): Promise<{ taken: boolean, refusals: Refusal[] }> {
  const end = Date.now() + ms
  const refusals: Refusal[] = []
  for (let i = 0; Date.now() < end; i++) {
    const r = await postBatch(gw, `${tag}-${i}`, acked)
    if (r === undefined) return { taken: true, refusals }
    refusals.push(r)
    await sleep(50)
  }
  return { taken: false, refusals }
}

/** Posts `count` batches one after the other; returns the refusals. */
async function postMany (gw: RunningGateway, tag: string, acked: Set<string>, count: number, big = false): Promise<Refusal[]> {
  const refusals: Refusal[] = []
  for (let r = 0; r < count; r++) {
    const refusal = await postBatch(gw, `${tag}-${r}`, acked, big)
    if (refusal !== undefined) refusals.push(refusal)
  }
  return refusals
}

const isSpoolFull = (r: Refusal): boolean => r.status === 503 && r.code === 'GW_ERR_SPOOL_FULL' && r.retryAfter === '1'

t.test('a full disk (256 KiB tmpfs) with Kinesis down: 503 with Retry-After, no segment files pile up, and it recovers by itself', async (t) => {
  const disk = await smallDisk(t, 256 * 1024)
  if ('skip' in disk) { t.plan(0, disk.skip); return }
  // The budget (1 GiB, the default) is far beyond the disk: the disk fills first.
  const { gw, stream, folder } = await spoolGateway(t, 'enospc', disk.dir)
  proxy.outage(120_000)
  t.teardown(() => proxy.endOutage())

  const acked = new Set<string>()
  const refusals: Refusal[] = []
  let segmentsAtFirstRefusal: number[] = []
  for (let r = 0; r < 2_000 && refusals.length < 100; r++) {
    const refusal = await postBatch(gw, `full-${r}`, acked)
    if (refusal === undefined) continue
    if (refusals.length === 0) segmentsAtFirstRefusal = await segments(folder)
    refusals.push(refusal)
  }
  const segmentsAfter = await segments(folder)
  t.comment(`taken ${acked.size} events, then ${refusals.length} refusals; segments ${segmentsAtFirstRefusal.length} -> ${segmentsAfter.length}`)
  t.ok(acked.size > 0, 'the disk took events until it was full')
  t.equal(refusals.length, 100, 'then it refused')
  t.same(refusals.filter((r) => !isSpoolFull(r)), [], 'every refusal is 503 GW_ERR_SPOOL_FULL with Retry-After: 1 (never 500)')
  // The first failure seals the segment it hit; the next attempt's (empty) segment stays the active one.
  t.ok(segmentsAfter.length <= segmentsAtFirstRefusal.length + 1,
    `100 failed writes left at most the one active segment file (${segmentsAtFirstRefusal.length} -> ${segmentsAfter.length})`)
  t.ok(segmentsAfter.filter((size) => size === 0).length <= 1, 'no empty segment files piled up')

  // Kinesis back: what was acknowledged is shipped, the segments are freed, and the channel takes events again.
  proxy.endOutage()
  const { counts } = await waitForAcked(() => readAllRecords(reader, stream), acked, 30_000)
  const before = audit(acked, counts)
  t.equal(before.missing.length, 0, 'every event acknowledged before the disk was full is in Kinesis')
  const again = await untilTaken(gw, 'after', acked, 20_000)
  t.ok(again.taken, 'the channel takes events again on its own (no restart)')
  t.same(again.refusals.filter((r) => !isSpoolFull(r)), [], 'until then: 503 GW_ERR_SPOOL_FULL only')
  t.same(await postMany(gw, 'later', acked, 50), [], 'and goes on taking them: 50 more batches, more than the disk held')
  const { counts: final } = await waitForAcked(() => readAllRecords(reader, stream), acked, 30_000)
  t.equal(audit(acked, final).missing.length, 0, 'every acknowledged event is in Kinesis')
  let left: number[] = []
  for (const end = Date.now() + 10_000; Date.now() < end; await sleep(50)) {
    left = await segments(folder)
    if (left.length <= 2) break
  }
  t.ok(left.length <= 2, `shipped segments are deleted (${left.length} left)`)
})

t.test('the spool folder removed while running: 503 at most, then it is made again and takes events', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kg-removed-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { gw, stream } = await spoolGateway(t, 'removed', dir)
  const acked = new Set<string>()
  t.same(await postMany(gw, 'before', acked, 10), [], 'taken before the fault')
  await waitForAcked(() => readAllRecords(reader, stream), acked, 15_000)

  // The gateway may be writing into the folder while it goes: rm retries on ENOTEMPTY (maxRetries).
  await rm(join(dir, stream), { recursive: true, force: true, maxRetries: 20, retryDelay: 5 })
  const refusals = await postMany(gw, 'after', acked, 30, true)
  t.comment(`after removal: ${30 - refusals.length} taken, ${refusals.length} refused`)
  t.same(refusals.filter((r) => !isSpoolFull(r)), [], 'a request the spool cannot take is 503 GW_ERR_SPOOL_FULL (never 500)')
  t.ok(refusals.length <= 2, `the folder is made again at once (${refusals.length} refused)`)
  const again = await untilTaken(gw, 'end', acked, 10_000)
  t.ok(again.taken, 'the channel takes events')
  t.ok((await stat(join(dir, stream))).isDirectory(), 'the folder is there again')
  const { counts } = await waitForAcked(() => readAllRecords(reader, stream), acked, 20_000)
  t.equal(audit(acked, counts).missing.length, 0, 'every acknowledged event is in Kinesis')
})

t.test('the spool folder made read-only while running: 503 at most, nothing lost, segments freed once writable', async (t) => {
  const method = await readOnlyMethod()
  if (typeof method === 'object') { t.plan(0, method.skip); return }
  const dir = await mkdtemp(join(tmpdir(), 'kg-readonly-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { gw, stream, folder } = await spoolGateway(t, 'readonly', dir)
  const acked = new Set<string>()
  t.same(await postMany(gw, 'before', acked, 10), [], 'taken before the fault')

  const writable = await makeReadOnly(folder, method)
  t.teardown(writable)
  t.comment(`made unwritable by ${method === 'mount' ? 'a read-only bind mount (EROFS)' : 'mode 0555 (EACCES)'}`)
  const refusals = await postMany(gw, 'ro', acked, 30, true)
  t.comment(`read-only: ${30 - refusals.length} taken (into the open segment), ${refusals.length} refused`)
  t.ok(refusals.length > 0, 'a new segment cannot be made: refused')
  t.same(refusals.filter((r) => !isSpoolFull(r)), [], 'as 503 GW_ERR_SPOOL_FULL with Retry-After (never 500)')

  await writable()
  const again = await untilTaken(gw, 'rw', acked, 10_000)
  t.ok(again.taken, 'writable again: the channel takes events on its own')
  const { counts } = await waitForAcked(() => readAllRecords(reader, stream), acked, 20_000)
  t.equal(audit(acked, counts).missing.length, 0, 'every acknowledged event is in Kinesis')
  let left: number[] = []
  for (const end = Date.now() + 10_000; Date.now() < end; await sleep(50)) {
    left = await segments(folder)
    if (left.length <= 2) break
  }
  t.ok(left.length <= 2, `segments shipped while the folder was read-only are deleted once it is writable (${left.length} left)`)
})
