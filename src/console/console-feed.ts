import type { ChannelRegistry } from '../channels/channel-registry.js'
import type { DeliveryConfig } from '../config/types.js'
import type { Rejection } from './rejection-ring.js'
import type { GatewaySnapshot, MetricsJson, WorkerInfo } from '../ops/gateway-view.js'
import { METRIC_PREFIX } from '../ops/metrics.js'

/**
 * What the console page polls (GET /console/feed): totals since start, not rates. The page
 * turns two consecutive feeds into rates (delta over time) and the histogram buckets into p50
 * and p99 over its recent window, as Prometheus' rate() and histogram_quantile() do, so the
 * server keeps no per-viewer state. In a cluster the figures are the whole gateway's.
 */
export interface ConsoleFeed {
  readonly gateway: {
    readonly version: string
    /** Unix ms when the feed was made. */
    readonly now: number
    readonly uptimeSeconds: number
    readonly ready: boolean
    readonly draining: boolean
    /** off, shared, local-fallback, or mixed (workers disagree). */
    readonly redis: string
    readonly kinesis: string
    readonly workers: readonly WorkerInfo[]
    readonly streams: Readonly<Record<string, string>>
  }
  readonly channels: readonly ChannelFeed[]
  readonly streams: readonly StreamFeed[]
  /** Kinesis' per-shard write limits the hottest shards are compared with. */
  readonly shardLimits: { readonly recordsPerSecond: number, readonly bytesPerSecond: number }
  readonly rejections: readonly Rejection[]
}

export interface ChannelFeed {
  readonly name: string
  readonly stream: string
  readonly ack: string
  readonly invalid: string
  readonly access: string
  readonly requests: number
  readonly eventsAccepted: number
  readonly eventsRejected: number
  readonly requestsRejected: number
  readonly throttled: number
  readonly quarantined: number
  /** Cumulative buckets of the time from receipt to acknowledgement: [upper bound in s, count]. */
  readonly ackBuckets: ReadonlyArray<readonly [number, number]>
}

export interface StreamFeed {
  readonly name: string
  readonly sent: number
  readonly retried: Readonly<Record<string, number>>
  readonly failed: Readonly<Record<string, number>>
  readonly callErrors: Readonly<Record<string, number>>
  readonly lost: number
  readonly bufferBytes: number
  readonly queuedRecords: number
  readonly spoolUnshippedBytes: number | null
  readonly spoolDiskBytes: number | null
  readonly payloadUnits: number
  readonly payloadBytes: number
  /** Records written per shard (totals), with the paced load of the last second where shard pacing is on. */
  readonly shards: ReadonlyArray<{ readonly shard: string, readonly records: number, readonly recordsLastSecond: number | null, readonly bytesLastSecond: number | null }>
}

type Labels = Record<string, string | number | undefined>

/** Series of the snapshot by metric name, read with label filters. */
class Series {
  private readonly byName = new Map<string, Array<{ labels: Labels, value: number, metricName?: string }>>()

  constructor (metrics: MetricsJson) {
    for (const m of metrics) this.byName.set(m.name, m.values as Array<{ labels: Labels, value: number, metricName?: string }>)
  }

  values (name: string): Array<{ labels: Labels, value: number, metricName?: string }> {
    return this.byName.get(METRIC_PREFIX + name) ?? []
  }

  /** Sum of the series of `name` whose labels match `where`. */
  sum (name: string, where: Labels): number {
    let total = 0
    for (const v of this.values(name)) if (matches(v.labels, where)) total += v.value
    return total
  }

  /** Sums of the series of `name` matching `where`, by the value of label `by`. */
  by (name: string, by: string, where: Labels): Record<string, number> {
    const out: Record<string, number> = {}
    for (const v of this.values(name)) {
      if (!matches(v.labels, where)) continue
      const key = String(v.labels[by] ?? '')
      out[key] = (out[key] ?? 0) + v.value
    }
    return out
  }

  has (name: string, where: Labels): boolean {
    return this.values(name).some((v) => matches(v.labels, where))
  }
}

function matches (labels: Labels, where: Labels): boolean {
  for (const key in where) if (labels[key] !== where[key]) return false
  return true
}

/** Routes of a channel that are not sending (dry runs, the schema): not counted as its requests. */
const NOT_SENDING = /\/(validate|schema)$/

export function consoleFeed (snapshot: GatewaySnapshot, ctx: {
  registry: ChannelRegistry
  version: string
  kinesis: string
  delivery: DeliveryConfig
}): ConsoleFeed {
  const s = new Series(snapshot.metrics)
  const channels: ChannelFeed[] = []
  for (const name of ctx.registry.names()) {
    const config = ctx.registry.get(name)?.config
    if (config === undefined) continue
    const buckets = s.values('ack_duration_seconds')
      .filter((v) => v.metricName?.endsWith('_bucket') === true && v.labels.channel === name)
      .map((v) => [v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), v.value] as const)
      .sort((a, b) => a[0] - b[0])
    let requests = 0
    for (const v of s.values('http_requests_total')) {
      if (v.labels.channel === name && !NOT_SENDING.test(String(v.labels.route))) requests += v.value
    }
    channels.push({
      name,
      stream: config.stream,
      ack: config.ack,
      invalid: config.invalid,
      access: config.access,
      requests,
      eventsAccepted: s.sum('events_accepted_total', { channel: name }),
      eventsRejected: s.sum('events_rejected_total', { channel: name }),
      requestsRejected: s.sum('requests_rejected_total', { channel: name }),
      throttled: s.sum('requests_throttled_total', { channel: name }),
      quarantined: s.sum('events_quarantined_total', { channel: name }),
      // JSON has no Infinity: the last bucket's bound is sent as a large number.
      ackBuckets: buckets.map(([le, n]) => [Number.isFinite(le) ? le : 1e9, n] as const)
    })
  }

  const streams: StreamFeed[] = []
  for (const name of ctx.registry.streams()) {
    const where = { stream: name }
    const paced = s.has('shard_records_last_second', where)
    const shardTotals = s.by('shard_records_total', 'shard', where)
    const pacedRecords = paced ? s.by('shard_records_last_second', 'shard', where) : {}
    const pacedBytes = paced ? s.by('shard_bytes_last_second', 'shard', where) : {}
    const shardIds = new Set([...Object.keys(shardTotals), ...Object.keys(pacedRecords)])
    streams.push({
      name,
      sent: s.sum('records_sent_total', where),
      retried: s.by('records_retried_total', 'error_code', where),
      failed: s.by('records_failed_total', 'error_code', where),
      callErrors: s.by('putrecords_errors_total', 'error_code', where),
      lost: s.sum('records_lost_total', where),
      bufferBytes: s.sum('buffer_bytes', where),
      queuedRecords: s.sum('buffer_queued_records', where),
      spoolUnshippedBytes: s.has('spool_unshipped_bytes', where) ? s.sum('spool_unshipped_bytes', where) : null,
      spoolDiskBytes: s.has('spool_disk_bytes', where) ? s.sum('spool_disk_bytes', where) : null,
      payloadUnits: s.sum('put_payload_units_total', where),
      payloadBytes: s.sum('put_payload_bytes_total', where),
      shards: [...shardIds].sort().map((shard) => ({
        shard,
        records: shardTotals[shard] ?? 0,
        recordsLastSecond: paced ? pacedRecords[shard] ?? 0 : null,
        bytesLastSecond: paced ? pacedBytes[shard] ?? 0 : null
      }))
    })
  }

  const workers = snapshot.workers
  const redisStates = new Set(workers.map((w) => w.redis))
  const streamStates: Record<string, string> = {}
  for (const w of workers) {
    for (const [stream, state] of Object.entries(w.streams)) {
      // A stream is as good as its worst report.
      if (streamStates[stream] === undefined || state !== 'ACTIVE') streamStates[stream] = state
    }
  }
  return {
    gateway: {
      version: ctx.version,
      now: Date.now(),
      uptimeSeconds: Math.max(0, ...workers.map((w) => w.uptimeSeconds)),
      ready: workers.length > 0 && workers.every((w) => w.ready),
      draining: workers.some((w) => w.draining),
      redis: redisStates.size === 1 ? [...redisStates][0] ?? 'off' : redisStates.size === 0 ? 'off' : 'mixed',
      kinesis: ctx.kinesis,
      workers,
      streams: streamStates
    },
    channels,
    streams,
    shardLimits: { recordsPerSecond: ctx.delivery.shardRecordsPerSecond, bytesPerSecond: ctx.delivery.shardBytesPerSecond },
    rejections: snapshot.rejections
  }
}
