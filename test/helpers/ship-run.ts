import type { ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import { spawnCli } from './run-cli.js'
import { readAllRecords } from './stream-reader.js'

/** One JSON log line of `kinesis-gateway ship` (not on a terminal). */
export interface ShipLogLine { level: string, event: string, msg: string, file?: string, offset?: number, [key: string]: unknown }

export interface ShipRun {
  readonly child: ChildProcess
  /** Every log line so far. */
  log (): ShipLogLine[]
  stderr (): string
  readonly exited: Promise<number | null>
}

/**
 * `kinesis-gateway ship <args>` as a child process (from the TypeScript source, as run-cli.ts does),
 * its JSON log lines collected. Killed with SIGKILL at teardown if still running.
 */
export function startShip (t: { teardown (fn: () => unknown): void }, args: readonly string[], env: Record<string, string | undefined> = {}): ShipRun {
  const child = spawnCli(['ship', ...args], { env })
  let err = ''
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { err += s })
  child.stdout?.resume()
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited // before the test's folder is removed
  })
  return {
    child,
    exited,
    stderr: () => err,
    log: () => err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ShipLogLine)
  }
}

/** Polls `probe` until it returns something other than undefined; fails with `what` after `timeoutMs`. */
export async function until<T> (what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

/** Waits for a log line of the given event (and matching `where`, if given). */
export async function untilEvent (run: ShipRun, event: string, where: (l: ShipLogLine) => boolean = () => true, timeoutMs = 20_000): Promise<ShipLogLine> {
  return await until(`ship event "${event}" (log so far:\n${run.stderr()})`, () => run.log().find((l) => l.event === event && where(l)), timeoutMs)
}

interface Envelope { data: Record<string, unknown> }

/** The events (the `data` of each envelope) in the stream now. */
export async function shippedEvents (reader: KinesisClient, stream: string): Promise<Array<Record<string, unknown>>> {
  return (await readAllRecords(reader, stream)).map((r) => (JSON.parse(r.text) as Envelope).data)
}

/** Waits until the stream holds at least `count` events, then returns them all. */
export async function untilEvents (reader: KinesisClient, stream: string, count: number, timeoutMs = 20_000): Promise<Array<Record<string, unknown>>> {
  return await until(`${count} events in stream ${stream}`, async () => {
    const events = await shippedEvents(reader, stream)
    return events.length >= count ? events : undefined
  }, timeoutMs)
}

export interface StateFile {
  files: Array<{ path: string, offset: number }>
  inflight?: { key: string, parts: Array<{ path: string, start: number, end: number }>, done: number[] }
}

export async function readStateFile (file: string): Promise<StateFile | undefined> {
  try { return JSON.parse(await readFile(file, 'utf8')) as StateFile } catch { return undefined }
}

/** Sorted messages, for comparing what was shipped with what was written, duplicates included. */
export function messages (events: ReadonlyArray<Record<string, unknown>>): string[] {
  return events.map((e) => String(e.message)).sort()
}

/** `n` distinct lines with a prefix: `prefix-0000 ...`. */
export function lines (prefix: string, n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${String(from + i).padStart(4, '0')} some log text ü €`)
}
