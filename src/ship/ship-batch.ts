import type { FollowedFile } from './followed-file.js'
import type { InflightBatch } from './state-file.js'

export interface BatchEvent {
  /** The NDJSON line sent for it. */
  readonly json: string
  /** Its bytes in the body, newline included (what the gateway's body limit counts, decompressed). */
  readonly bytes: number
  readonly path: string
  /** Offset of its line in the file: what a report names. */
  readonly offset: number
}

/** The lines a batch took from one file: a contiguous byte range, read under one name and generation. */
export interface BatchPart {
  readonly file: FollowedFile
  readonly path: string
  readonly generation: number
  readonly start: number
  end: number
}

/**
 * One batch: the lines read into it (as byte ranges per file, which is what is checkpointed and
 * what a restart reads again) and the events they became. A line may become no event (skipped);
 * `done` holds the events already written (a partial 503) or refused for good.
 */
export class ShipBatch {
  key: string | undefined
  readonly parts: BatchPart[] = []
  readonly events: BatchEvent[] = []
  readonly done = new Set<number>()
  /** Events of `done` refused for good (the others were written). */
  refused = 0
  bytes = 0
  firstAt: number | undefined
  full = false

  /** The line [start, end) of `file` is in this batch, as `json` (or as nothing, when skipped). */
  take (file: FollowedFile, start: number, end: number, event: { json: string, bytes: number } | undefined, now: number): void {
    const last = this.parts.findLast((p) => p.file === file)
    if (last !== undefined && last.generation === file.generation && last.end === start) last.end = end
    else this.parts.push({ file, path: file.path, generation: file.generation, start, end })
    if (event !== undefined) {
      this.events.push({ json: event.json, bytes: event.bytes, path: file.path, offset: start })
      this.bytes += event.bytes
    }
    this.firstAt ??= now
  }

  get empty (): boolean {
    return this.parts.length === 0
  }

  /** Indexes of the events still to send, in order: body index i is event sendable[i]. */
  sendable (): number[] {
    const out: number[] = []
    for (let i = 0; i < this.events.length; i++) if (!this.done.has(i)) out.push(i)
    return out
  }

  body (sendable: readonly number[]): string {
    let out = ''
    for (const i of sendable) out += (this.events[i] as BatchEvent).json + '\n'
    return out
  }

  inflight (): InflightBatch {
    return {
      key: this.key ?? '',
      parts: this.parts.map((p) => ({ dev: p.file.dev, ino: p.file.ino, path: p.path, start: p.start, end: p.end })),
      done: [...this.done].sort((a, b) => a - b)
    }
  }
}
