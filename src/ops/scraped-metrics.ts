import { Counter, Gauge, type Registry } from 'prom-client'
import type { ShardLoad } from '../delivery/shard-pacer.js'
import type { SpoolStats } from '../delivery/spool/stream-spool.js'
import type { SharedState } from '../front-door/redis-link.js'
import { METRIC_PREFIX } from './metrics.js'

/**
 * Where the state read at scrape time comes from. Nothing here runs on the request path: each
 * source is read once per scrape, so the figures cost the hot path nothing.
 */
export interface ScrapeSources {
  /** Front door: are limits shared through Redis now ("off" when no Redis is configured)? */
  readonly sharedState: () => SharedState
  /** Front door: decisions taken locally because Redis could not be used (only grows). */
  readonly redisFallbacks: () => number
  /** The disk spools, by stream (only streams with a channel in ack: spool). */
  readonly spools: () => Iterable<readonly [string, SpoolStats]>
  /** Shard pacing: per-shard load of every stream (empty when shard-aware sending is off). */
  readonly shardLoad: () => Record<string, readonly ShardLoad[]>
  /** Readiness: the gateway is draining (SIGTERM received). */
  readonly draining: () => boolean
}

type Labels<L extends string> = Partial<Record<L, string>>

/**
 * A counter whose value is kept elsewhere (it only grows): at each scrape its series are set to
 * the source's totals. Series whose source disappeared (a merged shard) are dropped.
 */
function mirroredCounter<L extends string> (registry: Registry, name: string, help: string, labelNames: readonly L[],
  read: () => Iterable<readonly [Labels<L>, number]>): void {
  // eslint-disable-next-line no-new
  new Counter<L>({
    name: METRIC_PREFIX + name,
    help,
    labelNames,
    registers: [registry],
    collect () {
      this.reset()
      for (const [labels, value] of read()) this.inc(labels, value)
    }
  })
}

/**
 * A gauge read at scrape time. In a cluster its series are summed over the workers (buffers,
 * spool depth, per-shard load: the gateway's total), unless `aggregator` says how else.
 */
function scrapedGauge<L extends string> (registry: Registry, name: string, help: string, labelNames: readonly L[],
  read: () => Iterable<readonly [Labels<L>, number]>, aggregator: 'sum' | 'min' | 'max' = 'sum'): void {
  // eslint-disable-next-line no-new
  new Gauge<L>({
    name: METRIC_PREFIX + name,
    help,
    labelNames,
    aggregator,
    registers: [registry],
    collect () {
      this.reset()
      for (const [labels, value] of read()) this.set(labels, value)
    }
  })
}

/** Per-stream figures of every spool, one array per figure. */
function spoolSeries (sources: ScrapeSources, pick: (s: SpoolStats) => number): Array<[Labels<'stream'>, number]> {
  const out: Array<[Labels<'stream'>, number]> = []
  for (const [stream, stats] of sources.spools()) out.push([{ stream }, pick(stats)])
  return out
}

function shardSeries (sources: ScrapeSources, pick: (l: ShardLoad) => number): Array<[Labels<'stream' | 'shard'>, number]> {
  const out: Array<[Labels<'stream' | 'shard'>, number]> = []
  for (const [stream, shards] of Object.entries(sources.shardLoad())) {
    for (const load of shards) out.push([{ stream, shard: load.shardId }, pick(load)])
  }
  return out
}

/**
 * Registers the metrics read from the front door, the spools, shard pacing and readiness when
 * Prometheus scrapes (docs/operations.md, metrics reference).
 */
export function registerScrapedMetrics (registry: Registry, sources: ScrapeSources): void {
  // Redis is configured at start (a reload cannot add it): without it there is no state to report.
  if (sources.sharedState() !== 'off') {
    scrapedGauge(registry, 'redis_shared_limits',
      '1 while rate limits, quotas and idempotency keys are shared through Redis, 0 while this instance (in a cluster: any worker) falls back to local state (only with Redis configured)',
      [], () => [[{}, sources.sharedState() === 'shared' ? 1 : 0]], 'min')
  }
  mirroredCounter(registry, 'redis_fallbacks_total',
    'Rate-limit, quota and idempotency decisions taken locally because Redis could not be used',
    [], () => [[{}, sources.redisFallbacks()]])

  scrapedGauge(registry, 'spool_unshipped_bytes', 'Spool bytes on disk not yet confirmed by Kinesis, per stream (read at scrape)',
    ['stream'], () => spoolSeries(sources, (s) => s.unshippedBytes))
  scrapedGauge(registry, 'spool_disk_bytes', 'Spool bytes on disk (segments not yet deleted) plus bytes being written; compared with spool.maxBytes (read at scrape)',
    ['stream'], () => spoolSeries(sources, (s) => s.usedBytes))
  scrapedGauge(registry, 'spool_segments', 'Spool segment files on disk per stream (read at scrape)',
    ['stream'], () => spoolSeries(sources, (s) => s.segments))
  scrapedGauge(registry, 'spool_shipping_bytes', 'Spool bytes read and handed to the producer, waiting for Kinesis (read at scrape)',
    ['stream'], () => spoolSeries(sources, (s) => s.pendingBytes))
  mirroredCounter(registry, 'spool_records_appended_total', 'Records appended to the spool and fsynced since start',
    ['stream'], () => spoolSeries(sources, (s) => s.appendedRecords))
  mirroredCounter(registry, 'spool_records_shipped_total', 'Spooled records confirmed by Kinesis since start (including records a previous process left)',
    ['stream'], () => spoolSeries(sources, (s) => s.shippedRecords))
  mirroredCounter(registry, 'spool_corrupt_tails_total', 'Torn or corrupt spool records met by the shipper (the rest of that segment was skipped)',
    ['stream'], () => spoolSeries(sources, (s) => s.corruptTails))

  mirroredCounter(registry, 'shard_paced_records_total', 'Records admitted by shard pacing per shard (attempts: a retried record counts again)',
    ['stream', 'shard'], () => shardSeries(sources, (l) => l.records))
  mirroredCounter(registry, 'shard_paced_bytes_total', 'Bytes admitted by shard pacing per shard (data plus partition key)',
    ['stream', 'shard'], () => shardSeries(sources, (l) => l.bytes))
  scrapedGauge(registry, 'shard_records_last_second', 'Records admitted to the shard during the last whole second',
    ['stream', 'shard'], () => shardSeries(sources, (l) => l.recordsLastSecond))
  scrapedGauge(registry, 'shard_bytes_last_second', 'Bytes admitted to the shard during the last whole second',
    ['stream', 'shard'], () => shardSeries(sources, (l) => l.bytesLastSecond))
  mirroredCounter(registry, 'shard_held_back_total', 'Times a record was held back because its shard was at its pacing limit (throttling avoided)',
    ['stream', 'shard'], () => shardSeries(sources, (l) => l.deferred))

  scrapedGauge(registry, 'draining', '1 while the gateway (in a cluster: any worker) is draining (SIGTERM received: /readyz answers 503), else 0',
    [], () => [[{}, sources.draining() ? 1 : 0]], 'max')
}
