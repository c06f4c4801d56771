import { isUtf8 } from 'node:buffer'
import { randomUUID } from 'node:crypto'
import { watch, type FSWatcher } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { compileGlob, expandGlob, matchesGlob, type Glob } from './glob.js'
import { fileId, FollowedFile } from './followed-file.js'
import { sendBatch, type GatewayTarget } from './gateway-client.js'
import type { Line } from './line-reader.js'
import { ShipBatch } from './ship-batch.js'
import type { ShipReporter, ShipStatus } from './ship-reporter.js'
import { lockState, readState, writeState, type FileCheckpoint, type InflightBatch } from './state-file.js'

export interface ShipOptions {
  readonly target: GatewayTarget
  readonly patterns: readonly string[]
  readonly exclude: readonly string[]
  /** text: each line becomes {message, file, host}; json: each line is an event. */
  readonly format: 'text' | 'json'
  /** json format: a line that is not a JSON object is skipped (and reported) or sent wrapped as text. */
  readonly invalidJson: 'skip' | 'wrap'
  readonly encoding: 'utf8' | 'latin1'
  /** Files found at the first start without a checkpoint begin at their end instead of their start. */
  readonly startAtEnd: boolean
  readonly stateFile: string
  readonly host: string
  readonly maxBatchEvents: number
  readonly maxBatchBytes: number
  readonly maxLineBytes: number
  readonly lingerMs: number
  readonly pollMs: number
  readonly rotateWaitMs: number
  readonly retryBaseMs: number
  readonly retryMaxMs: number
  readonly progressMs: number
  readonly fingerprintBytes: number
}

/** A refusal retrying cannot fix: the command stops with this message (exit 1), positions kept. */
export class ShipFatalError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ShipFatalError'
  }
}

type Encoded = { json: string, bytes: number } | { skip: string | undefined }

/**
 * Follows the files of `patterns` and ships their lines to one channel, one batch in flight at a
 * time: a batch is written to the state file before it is sent and the files' offsets after it is
 * acknowledged, so a crash resends at most that batch, under the same Idempotency-Key.
 */
export class Shipper {
  private readonly globs: Glob[]
  private readonly excludes: Glob[]
  private readonly files = new Map<string, FollowedFile>()
  /** Checkpoints of files not found (yet): kept, so a file that comes back resumes where it was. */
  private readonly unmatched = new Map<string, FileCheckpoint>()
  private readonly watchers = new Map<string, FSWatcher>()
  private limits: { events: number, bytes: number }
  private stopped = false
  private scanDue = true
  private wakeUp: (() => void) | undefined
  /** The batch written to the state file as in flight (it has a key), if any. */
  private inflight: ShipBatch | undefined
  private roundRobin = 0
  private shipped = 0
  private rejected = 0
  private skipped = 0
  private lastError: string | undefined
  private waiting: string | undefined
  private rate = { at: Date.now(), shipped: 0, perSecond: 0 }

  constructor (private readonly opts: ShipOptions, private readonly reporter: ShipReporter, private readonly signal: AbortSignal) {
    this.globs = opts.patterns.map((p) => compileGlob(p))
    this.excludes = opts.exclude.map((p) => compileGlob(p))
    this.limits = { events: opts.maxBatchEvents, bytes: opts.maxBatchBytes }
  }

  async run (): Promise<void> {
    const unlock = await lockState(this.opts.stateFile)
    const onStop = (): void => { this.stopped = true; this.wake() }
    this.signal.addEventListener('abort', onStop)
    if (this.signal.aborted) this.stopped = true
    const poll = setInterval(() => { this.scanDue = true; this.wake() }, this.opts.pollMs)
    const progress = setInterval(() => this.report(), this.reporter.interactive ? 1_000 : this.opts.progressMs)
    try {
      const state = await readState(this.opts.stateFile, this.opts.target.channel)
      for (const cp of state.files) this.unmatched.set(fileId(cp.dev, cp.ino), cp)
      await this.scan(true)
      await this.findRotatedAway()
      this.reporter.event('info', 'start', `shipping ${this.files.size} file(s) matching ${this.opts.patterns.join(' ')} to channel ${this.opts.target.channel} at ${this.opts.target.gateway}`,
        { files: [...this.files.values()].map((f) => ({ file: f.path, offset: f.acked })), state: this.opts.stateFile })
      let batch = state.inflight !== undefined ? await this.restore(state.inflight) : undefined
      this.inflight = batch
      await this.save()
      while (!this.stopped) {
        if (this.scanDue) await this.scan(false)
        batch ??= new ShipBatch()
        if (batch.key === undefined) await this.fill(batch)
        const now = Date.now()
        if (batch.empty) { await this.sleepUntilWoken(undefined); continue }
        const lingerEnd = (batch.firstAt ?? now) + this.opts.lingerMs
        if (batch.key === undefined && !batch.full && now < lingerEnd) { await this.sleepUntilWoken(lingerEnd); continue }
        // Stopped while waiting to resend: the batch stays in the state file, to be resent first next time.
        if (await this.ship(batch)) batch = undefined
      }
      // An unsent batch that was never given a key is just lines not yet acknowledged: read again next time.
      await this.save()
    } finally {
      clearInterval(poll)
      clearInterval(progress)
      this.signal.removeEventListener('abort', onStop)
      for (const w of this.watchers.values()) w.close()
      this.report()
      this.reporter.event('info', 'stop', `stopped: ${this.shipped} line(s) shipped this run`, { shippedLines: this.shipped, rejectedLines: this.rejected })
      for (const f of this.files.values()) await f.close()
      await unlock()
    }
  }

  // ---- files -------------------------------------------------------------------------------

  /** Expands the globs: new files are followed, files whose name now points elsewhere are rotated, rotated ones released when done. */
  private async scan (initial: boolean): Promise<void> {
    this.scanDue = false
    const now = Date.now()
    const seen = new Set<string>()
    for (const glob of this.globs) {
      const { files, folders } = await expandGlob(glob)
      for (const folder of folders) this.watchFolder(folder)
      for (const path of files) {
        if (this.excluded(path)) continue
        const st = await stat(path).catch(() => undefined)
        if (st === undefined) continue
        const id = fileId(st.dev, st.ino)
        seen.add(id)
        const known = this.files.get(id)
        if (known !== undefined) {
          if (known.path !== path && known.rotatedAt === undefined) known.path = path // renamed to another matching name: still followed
          continue
        }
        await this.follow(path, id, initial && this.opts.startAtEnd, now)
      }
    }
    for (const f of this.files.values()) {
      if (f.rotatedAt === undefined && !seen.has(f.id)) {
        f.rotatedAt = now
        this.reporter.event('info', 'rotated', `${f.path} was renamed or deleted: reading the old file to its end`, { file: f.path, offset: f.readPos })
      }
      const change = await f.refresh(this.opts.fingerprintBytes, now).catch(() => 'same' as const)
      if (change === 'truncated') {
        this.reporter.event('warn', 'truncated', `${f.path} was truncated (copytruncate): reading it again from its start`, { file: f.path })
      }
      if (this.releasable(f, now)) {
        this.files.delete(f.id)
        await f.close()
        this.reporter.event('info', 'released', `${f.path} (rotated or deleted) was shipped to its end and is closed`, { file: f.path, offset: f.acked })
        await this.save()
      }
    }
  }

  private async follow (path: string, id: string, startAtEnd: boolean, now: number): Promise<FollowedFile | undefined> {
    const resume = this.unmatched.get(id)
    const opened = await FollowedFile.open(path, { resume, startAtEnd: startAtEnd && resume === undefined, maxLineBytes: this.opts.maxLineBytes, fingerprintBytes: this.opts.fingerprintBytes, now })
    if (opened === undefined) return undefined
    this.unmatched.delete(id)
    const { file, ignored } = opened
    this.files.set(file.id, file)
    if (ignored !== undefined) this.reporter.event('warn', 'checkpoint-ignored', `${path}: checkpoint not used: ${ignored}`, { file: path })
    this.reporter.event('info', 'follow', `following ${path} from offset ${file.acked}${resume !== undefined && ignored === undefined ? ' (checkpoint)' : ''}`, { file: path, offset: file.acked })
    return file
  }

  /**
   * A checkpointed file that no glob matches any more may have been rotated away while the shipper
   * was down: look for it (same device and inode) in its folder and read it to its end.
   */
  private async findRotatedAway (): Promise<void> {
    for (const [id, cp] of [...this.unmatched]) {
      const folder = dirname(cp.path)
      let names: string[]
      try { names = await readdir(folder) } catch { continue } // folder not there now: keep the checkpoint
      let found = false
      for (const name of names) {
        const path = join(folder, name)
        const st = await stat(path).catch(() => undefined)
        if (st === undefined || fileId(st.dev, st.ino) !== id) continue
        const file = await this.follow(path, id, false, Date.now())
        if (file !== undefined) { file.rotatedAt = Date.now(); found = true }
        break
      }
      if (!found) {
        this.unmatched.delete(id)
        this.reporter.event('warn', 'gone', `${cp.path} (checkpointed at offset ${cp.offset}) is gone: lines written to it after that, if any, were not shipped`, { file: cp.path, offset: cp.offset })
      }
    }
  }

  private excluded (path: string): boolean {
    return this.excludes.some((g) => matchesGlob(g, path))
  }

  private releasable (f: FollowedFile, now: number): boolean {
    return f.rotatedAt !== undefined && f.readPos >= f.size && f.acked >= f.readPos && now - f.grewAt >= this.opts.rotateWaitMs
  }

  /** fs.watch wakes the loop at once; the poll timer is the fallback where watching fails (NFS, some containers). */
  private watchFolder (folder: string): void {
    if (this.watchers.has(folder)) return
    try {
      const w = watch(folder, { persistent: false }, (eventType) => {
        if (eventType === 'rename') this.scanDue = true
        this.wake()
      })
      w.on('error', () => { w.close(); this.watchers.delete(folder) })
      this.watchers.set(folder, w)
    } catch { /* not watchable: polling covers it */ }
  }

  // ---- batches -----------------------------------------------------------------------------

  /** Reads whole lines into the batch until it is full or no file has more, taking files in turn. */
  private async fill (batch: ShipBatch): Promise<void> {
    const list = [...this.files.values()]
    const now = Date.now()
    for (let k = 0; k < list.length && !batch.full; k++) {
      const f = list[(this.roundRobin + k) % list.length] as FollowedFile
      // A rotated file that stopped growing will not get its last newline: its end ends the line.
      const final = f.rotatedAt !== undefined && now - f.grewAt >= this.opts.rotateWaitMs
      for (;;) {
        const line = await f.reader.lineAt(f.readPos, final)
        if (line === undefined) break
        const encoded = this.encode(line, f, f.path)
        if ('json' in encoded) {
          const over = batch.events.length + 1 > this.limits.events || batch.bytes + encoded.bytes > this.limits.bytes
          if (over && batch.events.length > 0) { batch.full = true; break }
          batch.take(f, line.start, line.end, encoded, now)
        } else {
          batch.take(f, line.start, line.end, undefined, now)
        }
        f.readPos = line.end
        if (f.readPos > f.size) f.size = f.readPos
      }
    }
    this.roundRobin = list.length === 0 ? 0 : (this.roundRobin + 1) % list.length
  }

  private encode (line: Line, f: FollowedFile, path: string): Encoded {
    let text: string
    if (this.opts.encoding === 'latin1') text = line.bytes.toString('latin1')
    else {
      if (!f.invalidUtf8Reported && !isUtf8(line.bytes)) {
        f.invalidUtf8Reported = true
        this.reporter.event('warn', 'invalid-utf8', `${path}: a line is not valid UTF-8: its invalid bytes are sent as U+FFFD (reported once per file; --encoding latin1 keeps every byte)`, { file: path, offset: line.start })
      }
      text = line.bytes.toString('utf8')
    }
    if (this.opts.format === 'json') {
      if (line.truncated) {
        this.skip(`a line longer than --max-line-bytes (${this.opts.maxLineBytes}) cannot be cut and stay JSON: skipped`, path, line.start)
        return { skip: 'too long' }
      }
      const trimmed = text.trim()
      if (trimmed === '') return { skip: undefined }
      let parsed: unknown
      try { parsed = JSON.parse(trimmed) } catch { parsed = undefined }
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return sized(trimmed)
      if (this.opts.invalidJson === 'skip') {
        this.skip('a line is not a JSON object: skipped (--invalid-json wrap sends it as {message, file, host})', path, line.start)
        return { skip: 'not JSON' }
      }
      return sized(JSON.stringify({ message: text, file: path, host: this.opts.host, invalid_json: true }))
    }
    return sized(JSON.stringify(line.truncated
      ? { message: text, file: path, host: this.opts.host, truncated: true }
      : { message: text, file: path, host: this.opts.host }))
  }

  private skip (why: string, path: string, offset: number): void {
    this.skipped++
    this.reporter.event('warn', 'skipped', `${path}@${offset}: ${why}`, { file: path, offset })
  }

  /** The batch in flight when the last run stopped, read again from the same byte ranges: the same body, the same key. */
  private async restore (inflight: InflightBatch): Promise<ShipBatch | undefined> {
    const batch = new ShipBatch()
    for (const part of inflight.parts) {
      const f = this.files.get(fileId(part.dev, part.ino))
      const why = f === undefined ? 'its file is gone' : f.acked !== part.start ? 'its file was truncated or rewritten' : undefined
      if (why !== undefined || f === undefined) return this.dropInflight(inflight, why ?? '')
      for (let pos = part.start; pos < part.end;) {
        const line = await f.reader.lineAt(pos, true)
        if (line === undefined || line.end > part.end) return this.dropInflight(inflight, `${part.path} no longer holds the same lines`)
        const encoded = this.encode(line, f, part.path)
        batch.take(f, line.start, line.end, 'json' in encoded ? encoded : undefined, Date.now())
        pos = line.end
      }
      f.readPos = part.end
    }
    batch.key = inflight.key
    for (const i of inflight.done) batch.done.add(i)
    this.reporter.event('info', 'resume', `resending the batch that was in flight when the last run stopped (${batch.events.length - batch.done.size} event(s), same Idempotency-Key)`, { events: batch.events.length })
    return batch
  }

  private dropInflight (inflight: InflightBatch, why: string): undefined {
    for (const f of this.files.values()) f.readPos = f.acked
    this.reporter.event('warn', 'inflight-dropped', `the batch in flight at the last stop cannot be rebuilt (${why}): its files are read again from their checkpoints`, { parts: inflight.parts.length })
    return undefined
  }

  /**
   * Sends the batch until every event is written or refused for good: true. False when the command
   * stopped while waiting to resend it (it stays in the state file as in flight).
   */
  private async ship (batch: ShipBatch): Promise<boolean> {
    let attempt = 0
    if (batch.key === undefined) await this.newBody(batch)
    for (;;) {
      const sendable = batch.sendable()
      if (sendable.length === 0) { await this.commit(batch); return true }
      const outcome = await sendBatch(this.opts.target, batch.body(sendable), batch.key ?? '')
      switch (outcome.kind) {
        case 'accepted':
          if (this.waiting !== undefined || outcome.replayed) {
            this.reporter.event('info', 'recovered', `the gateway took the batch${outcome.replayed ? ' (an idempotent replay: it had been written before, not again)' : ''}`, { replayed: outcome.replayed })
          }
          this.waiting = undefined
          await this.commit(batch)
          return true
        case 'partial':
          for (const i of outcome.written) batch.done.add(sendable[i] as number)
          await this.newBody(batch)
          if (!await this.wait(outcome.retryAfterMs ?? backoff(attempt++, this.opts), `${sendable.length - outcome.written.length} event(s) not written yet (${outcome.problem})`)) return false
          break
        case 'rejected':
          for (const e of outcome.errors) {
            const index = sendable[e.index]
            if (index === undefined || batch.done.has(index)) continue
            const ev = batch.events[index]
            batch.done.add(index)
            batch.refused++
            this.rejected++
            this.reporter.event('error', 'rejected', `the gateway refused the line at ${ev?.path ?? '?'}@${ev?.offset ?? '?'}${e.pointer !== '' ? ` (at ${e.pointer})` : ''}: ${e.reason}; dropped (${outcome.problem})`,
              { file: ev?.path, offset: ev?.offset, pointer: e.pointer, reason: e.reason })
          }
          this.lastError = outcome.problem
          await this.newBody(batch)
          break
        case 'too-large':
          if (sendable.length === 1) {
            const ev = batch.events[sendable[0] as number]
            batch.done.add(sendable[0] as number)
            batch.refused++
            this.rejected++
            this.reporter.event('error', 'rejected', `the line at ${ev?.path ?? '?'}@${ev?.offset ?? '?'} is too large for the channel on its own: dropped (${outcome.problem})`, { file: ev?.path, offset: ev?.offset })
            await this.newBody(batch)
            break
          }
          await this.shrink(batch, outcome.code, sendable.length, outcome.problem)
          return true
        case 'key-reused':
          this.reporter.event('warn', 'key-reused', `${outcome.problem}: sending the batch again under a new key`)
          await this.newBody(batch)
          break
        case 'retry':
          this.lastError = outcome.reason
          if (!await this.wait(outcome.retryAfterMs ?? backoff(attempt++, this.opts), outcome.reason)) return false
          break
        case 'fatal':
          this.lastError = outcome.problem
          throw new ShipFatalError(`${outcome.problem}. The files' positions are kept in ${this.opts.stateFile}: fix the cause and start ship again`)
      }
    }
  }

  /** The body changed (fewer events): a new Idempotency-Key, written to the state file before it is used. */
  private async newBody (batch: ShipBatch): Promise<void> {
    batch.key = randomUUID()
    this.inflight = batch
    await this.save()
  }

  /** The channel takes less than the batch limits: halve the limit hit and read the lines again into smaller batches. */
  private async shrink (batch: ShipBatch, code: string, events: number, problem: string): Promise<void> {
    if (code === 'GW_ERR_TOO_MANY_EVENTS') this.limits.events = Math.max(1, Math.floor(events / 2))
    else this.limits.bytes = Math.max(1, Math.floor(batch.bytes / 2))
    for (const p of batch.parts) if (p.file.generation === p.generation) p.file.readPos = Math.min(p.file.readPos, p.start)
    this.reporter.event('warn', 'limits-lowered', `${problem}: batches are now at most ${this.limits.events} events and ${this.limits.bytes} bytes (set --max-batch-events / --max-batch-bytes to the channel's limits)`)
    this.inflight = undefined
    await this.save()
  }

  private async commit (batch: ShipBatch): Promise<void> {
    for (const p of batch.parts) {
      if (p.file.generation === p.generation && p.file.acked < p.end) p.file.acked = p.end
    }
    this.shipped += batch.events.length - batch.refused
    this.inflight = undefined
    await this.save()
  }

  /** Waits `ms` (ending early when the command stops); false when stopped. */
  private async wait (ms: number, reason: string): Promise<boolean> {
    const seconds = Math.max(1, Math.round(ms / 1000))
    this.waiting = `${reason}; retry in ${seconds} s`
    this.reporter.event('warn', 'waiting', `${reason}: retrying in ${(ms / 1000).toFixed(1)} s (nothing is dropped: the files are the buffer)`, { retryInMs: ms })
    if (this.reporter.interactive) this.report()
    await this.sleepUntilWoken(Date.now() + ms, true)
    return !this.stopped
  }

  /** The state file: every file's acknowledged offset, and the keyed batch in flight. */
  private async save (): Promise<void> {
    const inflight = this.inflight?.inflight()
    const files = [...[...this.files.values()].map((f) => f.checkpoint()), ...this.unmatched.values()]
    await writeState(this.opts.stateFile, { version: 1, channel: this.opts.target.channel, files, ...(inflight !== undefined ? { inflight } : {}) })
  }

  // ---- waiting and reporting ---------------------------------------------------------------

  private wake (): void {
    const w = this.wakeUp
    this.wakeUp = undefined
    w?.()
  }

  /** Until woken (a watch event, the poll timer, a stop) or `until`; `onlyStop`: file events do not end it. */
  private async sleepUntilWoken (until: number | undefined, onlyStop = false): Promise<void> {
    if (this.stopped) return
    await new Promise<void>((resolve) => {
      const timer = until !== undefined ? setTimeout(done, Math.max(0, until - Date.now())) : undefined
      const self = this
      function done (): void {
        clearTimeout(timer)
        if (self.wakeUp === listener) self.wakeUp = undefined
        resolve()
      }
      function listener (): void {
        if (onlyStop && !self.stopped) { self.wakeUp = listener; return }
        done()
      }
      this.wakeUp = listener
    })
  }

  private report (): void {
    const now = Date.now()
    const elapsed = (now - this.rate.at) / 1000
    if (elapsed >= 0.5) this.rate = { at: now, shipped: this.shipped, perSecond: (this.shipped - this.rate.shipped) / elapsed }
    let lag = 0
    for (const f of this.files.values()) lag += Math.max(0, f.size - f.acked)
    const status: ShipStatus = {
      files: this.files.size,
      shippedLines: this.shipped,
      linesPerSecond: this.rate.perSecond,
      lagBytes: lag,
      rejectedLines: this.rejected,
      skippedLines: this.skipped,
      lastError: this.lastError,
      waiting: this.waiting
    }
    this.reporter.status(status)
  }
}

function sized (json: string): { json: string, bytes: number } {
  return { json, bytes: Buffer.byteLength(json) + 1 }
}

/** Full-jitter exponential backoff (AWS Architecture Blog, "Exponential Backoff and Jitter"), bounded. */
function backoff (attempt: number, opts: { retryBaseMs: number, retryMaxMs: number }): number {
  const cap = Math.min(opts.retryMaxMs, opts.retryBaseMs * 2 ** Math.min(attempt, 20))
  return Math.max(opts.retryBaseMs, Math.random() * cap)
}
