import type { ReadRecord } from './stream-reader.js'

/**
 * A concurrent client that sends events carrying unique client ids (`cid`) and records which
 * ones the gateway acknowledged: all of a 200 or 202, and the `written: true` events of a 503
 * GW_ERR_NOT_DELIVERED answer. Anything else (other errors, resets) acknowledges nothing.
 */
export interface LoadOptions {
  /** Full URL of the channel, e.g. http://127.0.0.1:1234/v1/events */
  readonly url: string
  readonly events: number
  readonly batchSize: number
  readonly concurrency: number
  /** Prefix of the client ids, unique per run. */
  readonly prefix: string
  /** Stop sending new requests when this returns true. */
  readonly stop?: () => boolean
}

export interface LoadResult {
  readonly acked: Set<string>
  readonly sent: number
  readonly statuses: Map<number | string, number>
  /** cids of events answered written=false in a 503 (the client would resend them). */
  readonly notWritten: number
}

interface NotDeliveredEntry { index: number, written: boolean }

export async function sendLoad (opts: LoadOptions): Promise<LoadResult> {
  const acked = new Set<string>()
  const statuses = new Map<number | string, number>()
  const count = (k: number | string): void => { statuses.set(k, (statuses.get(k) ?? 0) + 1) }
  let next = 0
  let sent = 0
  let notWritten = 0
  const worker = async (): Promise<void> => {
    while (next < opts.events && opts.stop?.() !== true) {
      const start = next
      const end = Math.min(opts.events, start + opts.batchSize)
      next = end
      const cids: string[] = []
      const batch: Array<{ cid: string, n: number }> = []
      for (let i = start; i < end; i++) {
        const cid = `${opts.prefix}-${i}`
        cids.push(cid)
        batch.push({ cid, n: i })
      }
      sent += cids.length
      let status: number
      let json: { events?: NotDeliveredEntry[] } = {}
      try {
        const res = await fetch(opts.url, { method: 'POST', body: JSON.stringify(batch), headers: { 'content-type': 'application/json' } })
        status = res.status
        try { json = await res.json() as { events?: NotDeliveredEntry[] } } catch { json = {} }
      } catch (err) {
        const code = (err as { cause?: { code?: string } }).cause?.code ?? 'fetch'
        count(`error:${code}`)
        // Nobody listens any more (the gateway closed): this worker is done.
        if (code === 'ECONNREFUSED') break
        continue
      }
      count(status)
      if (status === 200 || status === 202) {
        for (const c of cids) acked.add(c)
      } else if (status === 503 && Array.isArray(json.events)) {
        for (const e of json.events) {
          if (e.written) acked.add(cids[e.index] as string)
          else notWritten++
        }
      }
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency }, worker))
  return { acked, sent, statuses, notWritten }
}

/** How many times each client id occurs in the records read back (envelope or raw records). */
export function cidCounts (records: readonly ReadRecord[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const r of records) {
    const parsed = JSON.parse(r.text) as { cid?: string, data?: { cid?: string } }
    const cid = parsed.data?.cid ?? parsed.cid
    if (cid !== undefined) counts.set(cid, (counts.get(cid) ?? 0) + 1)
  }
  return counts
}

/** Acknowledged ids missing from the stream, and how many records are extra copies. */
export function audit (acked: ReadonlySet<string>, counts: ReadonlyMap<string, number>): { missing: string[], duplicates: number } {
  const missing: string[] = []
  for (const cid of acked) if (!counts.has(cid)) missing.push(cid)
  let duplicates = 0
  for (const n of counts.values()) if (n > 1) duplicates += n - 1
  return { missing, duplicates }
}

/** Reads the stream until every acknowledged id is there (or the timeout passes); returns the counts. */
export async function waitForAcked (read: () => Promise<readonly ReadRecord[]>, acked: ReadonlySet<string>, timeoutMs = 30_000): Promise<{ counts: Map<string, number>, records: number }> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const records = await read()
    const counts = cidCounts(records)
    let all = true
    for (const cid of acked) if (!counts.has(cid)) { all = false; break }
    if (all || Date.now() > until) return { counts, records: records.length }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
