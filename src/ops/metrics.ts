import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { ProducerObserver, StreamProducer } from '../delivery/stream-producer.js'
import type { QuarantineObserver } from '../ingest/quarantine.js'
import type { OutgoingRecord, Sink } from '../kinesis/sink.js'

/** Every metric name starts with this, so a dashboard finds them all. */
export const METRIC_PREFIX = 'kinesis_gateway_'

/** Kinesis bills PUT payload units of 25 KB: each record rounds up to a whole number of them. */
export const PUT_PAYLOAD_UNIT_BYTES = 25 * 1024

/** PutRecords takes 1 to 500 records; buckets follow the shapes a batch usually has. */
const BATCH_RECORD_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500]
/** Seconds: from a few ms (same region) to the record deadline (10 s by default). */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Counters of one channel, created once so a request only does a Map get. */
interface ChannelSeries {
  readonly accepted: Counter.Internal
  readonly ack: Histogram.Internal<'channel'>
  readonly byStatus: Map<number | string, Counter.Internal>
  readonly rejectedRequests: Map<string, Counter.Internal>
  readonly rejectedEvents: Map<string, Counter.Internal>
  /** Throttled requests by reason (which limit refused them). */
  readonly throttled: Map<string, Counter.Internal>
  readonly replays: Counter.Internal
}

/** Series of one stream, created on the first batch of that stream. */
interface StreamSeries {
  readonly sent: Counter.Internal
  readonly units: Counter.Internal
  readonly bytes: Counter.Internal
  readonly batchRecords: Histogram.Internal<'stream'>
  readonly latency: Histogram.Internal<'stream'>
  readonly duplicates: Counter.Internal
  readonly shards: Map<string, Counter.Internal>
  /** Records written per shard since start, counted per call; folded into `shards` at scrape. */
  readonly shardTally: Map<string, number>
  readonly shardFolded: Map<string, number>
}

/** What one answered request tells the metrics. */
export interface RequestFacts {
  /** The route pattern ("/v1/:channel"), or undefined when no route matched. */
  readonly route: string | undefined
  /** The channel name for an ingest request whose channel exists, else undefined. */
  readonly channel: string | undefined
  readonly status: number
  /** GW_ERR_* code of a refused request. */
  readonly errorCode: string | null
  /** Events in the body (0 when the body was never parsed). */
  readonly events: number
  /** Events written to Kinesis. */
  readonly written: number
  /** Milliseconds from receipt to the answer. */
  readonly elapsedMs: number
  /** Which limit refused a 429 (set by the front door), else null. */
  readonly limitedBy?: string | null
  /** The answer is a replay of a stored Idempotency-Key answer (nothing was written). */
  readonly replayed?: boolean
}

/** The route whose answers are acknowledgements (dry runs and replays are not). */
const INGEST_ROUTE = '/v1/:channel'

/** Reason label of a throttled request, from its GW_ERR_* code and the limit that refused it. */
function throttleReason (errorCode: string | null, limitedBy: string | null | undefined): string | undefined {
  if (errorCode === 'GW_ERR_RATE_LIMITED') return `${limitedBy ?? 'gateway'}_rate_limit`
  if (errorCode === 'GW_ERR_QUOTA_EXCEEDED') return 'daily_quota'
  return undefined
}

/**
 * The gateway's Prometheus metrics, on a registry of its own (so several gateways in one process,
 * as in tests, do not mix). Other modules import this class's instance from `app.gateway.metrics`:
 * e.g. the rate limiter calls `metrics.throttled(channel)`; the sink is wrapped by `meteredSink`.
 */
export class GatewayMetrics {
  readonly registry = new Registry()
  private readonly channels = new Map<string, ChannelSeries>()
  private readonly streams = new Map<string, StreamSeries>()
  private readonly otherRequests = new Map<string, Counter.Internal>()
  /** Gauges read from the producers when Prometheus scrapes. */
  private readonly scrapedGauges: Array<Gauge<'stream'>>

  private readonly requests: Counter<'route' | 'channel' | 'status'>
  private readonly eventsAccepted: Counter<'channel'>
  private readonly eventsRejected: Counter<'channel' | 'reason'>
  private readonly requestsRejected: Counter<'channel' | 'reason'>
  private readonly requestsThrottled: Counter<'channel' | 'reason'>
  private readonly idempotentReplays: Counter<'channel'>
  private readonly recordsLost: Counter<'stream' | 'mode' | 'error_code'>
  private readonly eventsQuarantined: Counter<'channel' | 'reason'>
  private readonly deprecatedRequests: Counter<'channel' | 'client_id'>
  private readonly quarantineLost: Counter<'channel' | 'error_code'>
  private readonly ackSeconds: Histogram<'channel'>
  private readonly recordsSent: Counter<'stream'>
  private readonly recordsFailed: Counter<'stream' | 'error_code'>
  private readonly recordsRetried: Counter<'stream' | 'error_code'>
  private readonly possibleDuplicates: Counter<'stream'>
  private readonly callErrors: Counter<'stream' | 'error_code' | 'retryable'>
  private readonly batchRecords: Histogram<'stream'>
  private readonly putSeconds: Histogram<'stream'>
  private readonly payloadUnits: Counter<'stream'>
  private readonly payloadBytes: Counter<'stream'>
  private readonly shardRecordsTotal: Counter<'stream' | 'shard'>
  private readonly reloads: Counter<'result'>
  private readonly lastReload: Gauge

  constructor (opts: { version: string, producers: () => Iterable<StreamProducer>, defaultMetrics?: boolean }) {
    const registers = [this.registry]
    const p = METRIC_PREFIX
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry })
    // Cluster mode (ops/cluster-metrics.ts) sums every series over the workers, except where the
    // aggregator below says otherwise: what is one fact of the gateway is taken once, not summed.
    new Gauge({ name: p + 'info', help: 'Always 1; the labels tell the running version', labelNames: ['version'], registers, aggregator: 'first' })
      .set({ version: opts.version }, 1)
    new Gauge({ name: p + 'workers', help: 'Worker processes that answered this scrape (each reports 1; summed over the cluster)', registers })
      .set(1)

    this.requests = new Counter({ name: p + 'http_requests_total', help: 'HTTP requests answered, by route pattern, channel and status', labelNames: ['route', 'channel', 'status'], registers })
    this.eventsAccepted = new Counter({ name: p + 'events_accepted_total', help: 'Events written to Kinesis and acknowledged (or reported written in a partial failure)', labelNames: ['channel'], registers })
    this.eventsRejected = new Counter({ name: p + 'events_rejected_total', help: 'Events of parsed requests that were refused or not written, by GW_ERR_* reason', labelNames: ['channel', 'reason'], registers })
    this.requestsRejected = new Counter({ name: p + 'requests_rejected_total', help: 'Requests answered with an error, by GW_ERR_* reason (includes bodies that never parsed)', labelNames: ['channel', 'reason'], registers })
    this.requestsThrottled = new Counter({ name: p + 'requests_throttled_total', help: 'Requests refused with 429 by a rate limit or a daily quota, by reason (api_key_rate_limit, channel_rate_limit, gateway_rate_limit, daily_quota)', labelNames: ['channel', 'reason'], registers })
    this.idempotentReplays = new Counter({ name: p + 'idempotent_replays_total', help: 'Requests answered with the stored answer of their Idempotency-Key (nothing written)', labelNames: ['channel'], registers })
    this.recordsLost = new Counter({ name: p + 'records_lost_total', help: 'Acknowledged records (ack: buffered) that Kinesis refused for good: lost', labelNames: ['stream', 'mode', 'error_code'], registers })
    this.eventsQuarantined = new Counter({ name: p + 'events_quarantined_total', help: 'Events (or bodies that are not JSON) sent to the channel\'s quarantine stream, by problem kind (schema, partitionKey, tooLarge, malformed)', labelNames: ['channel', 'reason'], registers })
    this.deprecatedRequests = new Counter({ name: p + 'deprecated_requests_total', help: 'Requests to a deprecated channel version, by channel and API key id ("" without a key): who still sends to it', labelNames: ['channel', 'client_id'], registers })
    this.quarantineLost = new Counter({ name: p + 'quarantine_records_lost_total', help: 'Quarantine records that could not be queued (buffer full) or that Kinesis refused for good', labelNames: ['channel', 'error_code'], registers })
    this.ackSeconds = new Histogram({ name: p + 'ack_duration_seconds', help: 'Time from receipt of an ingest request to its answer', labelNames: ['channel'], buckets: LATENCY_BUCKETS, registers })
    this.recordsSent = new Counter({ name: p + 'records_sent_total', help: 'Records Kinesis accepted (PutRecords entries without an ErrorCode)', labelNames: ['stream'], registers })
    this.recordsFailed = new Counter({ name: p + 'records_failed_total', help: 'Records given up on (reported to the client as not written), by Kinesis error code', labelNames: ['stream', 'error_code'], registers })
    this.recordsRetried = new Counter({ name: p + 'records_retried_total', help: 'Records scheduled for another attempt, by the Kinesis error code of the failed one', labelNames: ['stream', 'error_code'], registers })
    this.possibleDuplicates = new Counter({ name: p + 'records_possible_duplicates_total', help: 'Records sent again after a call whose answer was lost: each may be in the stream twice', labelNames: ['stream'], registers })
    this.callErrors = new Counter({ name: p + 'putrecords_errors_total', help: 'PutRecords calls that failed as a whole, by error code', labelNames: ['stream', 'error_code', 'retryable'], registers })
    this.batchRecords = new Histogram({ name: p + 'putrecords_batch_records', help: 'Records per PutRecords call', labelNames: ['stream'], buckets: BATCH_RECORD_BUCKETS, registers })
    this.putSeconds = new Histogram({ name: p + 'putrecords_duration_seconds', help: 'Duration of PutRecords calls that got an answer', labelNames: ['stream'], buckets: LATENCY_BUCKETS, registers })
    this.payloadUnits = new Counter({ name: p + 'put_payload_units_total', help: 'Kinesis PUT payload units (25 KB each, rounded up per record) of records written: the billed unit', labelNames: ['stream'], registers })
    this.payloadBytes = new Counter({ name: p + 'put_payload_bytes_total', help: 'Bytes (data plus partition key) of records written', labelNames: ['stream'], registers })
    const fold = (): void => { this.foldShardTallies() }
    this.shardRecordsTotal = new Counter({ name: p + 'shard_records_total', help: 'Records written per shard, from the ShardId of each PutRecords result', labelNames: ['stream', 'shard'], registers, collect: fold })
    this.reloads = new Counter({ name: p + 'config_reloads_total', help: 'Configuration reloads, by result (applied, rejected, unchanged)', labelNames: ['result'], registers })
    this.lastReload = new Gauge({ name: p + 'config_last_reload_success_timestamp_seconds', help: 'Unix time of the start or of the last applied reload (in a cluster: the oldest of the workers)', registers, aggregator: 'min' })
    this.lastReload.setToCurrentTime()

    const producers = opts.producers
    this.scrapedGauges = [new Gauge({
      name: p + 'buffer_bytes',
      help: 'Bytes of records held per stream: queued, in flight or waiting to retry (read at scrape)',
      labelNames: ['stream'],
      registers,
      collect () {
        for (const producer of producers()) this.set({ stream: producer.stream }, producer.bufferedBytes)
      }
    }), new Gauge({
      name: p + 'buffer_queued_records',
      help: 'Records waiting for a PutRecords call per stream (read at scrape)',
      labelNames: ['stream'],
      registers,
      collect () {
        for (const producer of producers()) this.set({ stream: producer.stream }, producer.queuedRecords)
      }
    })]
  }

  /** Called once per answered request (from the onResponse hook). */
  request (facts: RequestFacts): void {
    const status = facts.status
    if (facts.channel === undefined) {
      const route = facts.route ?? 'unmatched'
      const key = route + ' ' + status
      let child = this.otherRequests.get(key)
      if (child === undefined) {
        child = this.requests.labels({ route, channel: '', status: String(status) })
        this.otherRequests.set(key, child)
      }
      child.inc()
      return
    }
    const series = this.channel(facts.channel)
    // Keyed by status on the ingest route, by route and status on the others (dry runs, preflights).
    const key = facts.route === INGEST_ROUTE ? status : `${facts.route ?? 'unmatched'} ${status}`
    let child = series.byStatus.get(key)
    if (child === undefined) {
      child = this.requests.labels({ route: facts.route ?? 'unmatched', channel: facts.channel, status: String(status) })
      series.byStatus.set(key, child)
    }
    child.inc()
    if (facts.written > 0) series.accepted.inc(facts.written)
    if (status < 300) {
      if (facts.replayed === true) series.replays.inc()
      else if (facts.route === INGEST_ROUTE) series.ack.observe(facts.elapsedMs / 1000)
    } else if (facts.errorCode !== null) {
      const reason = facts.errorCode
      counterFor(series.rejectedRequests, reason, () => this.requestsRejected.labels({ channel: facts.channel ?? '', reason })).inc()
      if (status === 429) {
        const why = throttleReason(reason, facts.limitedBy)
        if (why !== undefined) this.throttled(facts.channel, why)
      }
      const notWritten = facts.events - facts.written
      if (notWritten > 0) counterFor(series.rejectedEvents, reason, () => this.eventsRejected.labels({ channel: facts.channel ?? '', reason })).inc(notWritten)
    }
  }

  /** A request refused by a rate limit or quota ("" when the channel is not known yet). Called for every 429 by request(). */
  throttled (channel = '', reason = 'gateway_rate_limit'): void {
    if (channel === '') {
      this.requestsThrottled.labels({ channel, reason }).inc()
      return
    }
    counterFor(this.channel(channel).throttled, reason, () => this.requestsThrottled.labels({ channel, reason })).inc()
  }

  /** A request to a deprecated channel version. */
  deprecatedRequest (channel: string, clientId: string | null): void {
    this.deprecatedRequests.labels({ channel, client_id: clientId ?? '' }).inc()
  }

  /** What the channels' quarantines report. */
  quarantineObserver (): QuarantineObserver {
    return {
      quarantined: (channel, reason, count) => { this.eventsQuarantined.labels({ channel, reason }).inc(count) },
      lost: (channel, count, errorCode) => { this.quarantineLost.labels({ channel, error_code: errorCode }).inc(count) }
    }
  }

  /** Buffered-mode records that were acknowledged and then refused by Kinesis for good. */
  recordsLostFor (stream: string, mode: 'buffered', count: number, errorCode: string): void {
    this.recordsLost.labels({ stream, mode, error_code: errorCode }).inc(count)
  }

  reloaded (result: 'applied' | 'rejected' | 'unchanged'): void {
    this.reloads.labels({ result }).inc()
    if (result === 'applied') this.lastReload.setToCurrentTime()
  }

  /** The producers' hooks: retries, failures, duplicates, whole-call errors, batch size and latency. */
  producerObserver (): ProducerObserver {
    return {
      batchSent: (stream, records, _bytes, latencyMs) => {
        const s = this.stream(stream)
        s.batchRecords.observe(records)
        s.latency.observe(latencyMs / 1000)
      },
      recordsRetried: (stream, count, errorCode) => { this.recordsRetried.labels({ stream, error_code: errorCode }).inc(count) },
      recordsFailed: (stream, count, errorCode) => { this.recordsFailed.labels({ stream, error_code: errorCode }).inc(count) },
      possibleDuplicates: (stream, count) => { this.stream(stream).duplicates.inc(count) },
      callFailed: (stream, errorCode, _message, retryable) => {
        this.callErrors.labels({ stream, error_code: errorCode, retryable: String(retryable) }).inc()
      }
    }
  }

  /**
   * Wraps the sink to count what only the answer tells: records written, their shards, and the
   * PUT payload units they cost. Per call, plain arithmetic; per record, one integer added to the
   * stream's shard tally, which is folded into the shard counter only when Prometheus scrapes.
   */
  meteredSink (sink: Sink): Sink {
    return {
      ...sink,
      put: async (stream, records, budgetMs) => {
        const answer = await sink.put(stream, records, budgetMs)
        const s = this.stream(stream)
        const codes = answer.errorCodes
        const shardIds = answer.shardIds
        const tally = s.shardTally
        let units = 0
        let bytes = 0
        for (let i = 0; i < records.length; i++) {
          if (codes !== null && codes[i] !== '') continue
          const size = (records[i] as OutgoingRecord).size
          bytes += size
          units += Math.ceil(size / PUT_PAYLOAD_UNIT_BYTES)
          const shard = shardIds[i] ?? 'unknown'
          tally.set(shard, (tally.get(shard) ?? 0) + 1)
        }
        const written = records.length - answer.failed
        if (written > 0) {
          s.sent.inc(written)
          s.units.inc(units)
          s.bytes.inc(bytes)
        }
        return answer
      }
    }
  }

  /** Adds the shard tallies gathered since the last scrape to the shard counter. */
  private foldShardTallies (): void {
    for (const [stream, series] of this.streams) {
      for (const [shard, n] of series.shardTally) {
        const folded = series.shardFolded.get(shard) ?? 0
        if (n > folded) {
          counterFor(series.shards, shard, () => this.shardRecordsTotal.labels({ stream, shard })).inc(n - folded)
          series.shardFolded.set(shard, n)
        }
      }
    }
  }

  /** The Prometheus text exposition. */
  async exposition (): Promise<string> {
    return await this.registry.metrics()
  }

  get contentType (): string {
    return this.registry.contentType
  }

  private channel (name: string): ChannelSeries {
    let series = this.channels.get(name)
    if (series === undefined) {
      series = {
        accepted: this.eventsAccepted.labels({ channel: name }),
        ack: this.ackSeconds.labels({ channel: name }),
        byStatus: new Map(),
        rejectedRequests: new Map(),
        rejectedEvents: new Map(),
        throttled: new Map(),
        replays: this.idempotentReplays.labels({ channel: name })
      }
      this.channels.set(name, series)
    }
    return series
  }

  private stream (name: string): StreamSeries {
    let series = this.streams.get(name)
    if (series === undefined) {
      series = {
        sent: this.recordsSent.labels({ stream: name }),
        units: this.payloadUnits.labels({ stream: name }),
        bytes: this.payloadBytes.labels({ stream: name }),
        batchRecords: this.batchRecords.labels({ stream: name }),
        latency: this.putSeconds.labels({ stream: name }),
        duplicates: this.possibleDuplicates.labels({ stream: name }),
        shards: new Map(),
        shardTally: new Map(),
        shardFolded: new Map()
      }
      this.streams.set(name, series)
    }
    return series
  }

  /** Creates the series of a channel before its first request (at start and at reload). */
  prepareChannel (name: string): void {
    this.channel(name)
  }
}

function counterFor (cache: Map<string, Counter.Internal>, key: string, make: () => Counter.Internal): Counter.Internal {
  let child = cache.get(key)
  if (child === undefined) {
    child = make()
    cache.set(key, child)
  }
  return child
}
