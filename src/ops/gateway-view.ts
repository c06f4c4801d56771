import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client'
import { mergeRejections, type Rejection } from '../console/rejection-ring.js'

export type MetricsJson = Array<MetricObjectWithValues<MetricValue<string>>>

/** One gateway process, as the console shows it. */
export interface WorkerInfo {
  readonly pid: number
  /** Seconds since the process started. */
  readonly uptimeSeconds: number
  readonly ready: boolean
  readonly draining: boolean
  /** Redis state of its front door: off (none configured), shared, local-fallback. */
  readonly redis: string
  /** State of each stream, from its readiness check. */
  readonly streams: Readonly<Record<string, string>>
}

/** What one process contributes: its metrics (prom-client JSON), its ring of rejections, its state. */
export interface WorkerPart {
  readonly metrics: MetricsJson
  readonly rejections: readonly Rejection[]
  readonly worker: WorkerInfo
}

/** The whole gateway: one process, or every worker of a cluster with its metrics aggregated. */
export interface GatewaySnapshot {
  readonly metrics: MetricsJson
  readonly rejections: readonly Rejection[]
  readonly workers: readonly WorkerInfo[]
}

/**
 * How /metrics and the console see the gateway. In a single process: its own registry. In a
 * cluster, each scrape is answered by whichever worker took the connection, so the worker asks
 * the primary, which gathers every worker and merges them with prom-client's AggregatorRegistry
 * (counters and histograms summed, gauges by each metric's `aggregator`): one scrape reports the
 * whole gateway, and consecutive scrapes never go backwards while the workers run.
 */
export interface GatewayView {
  exposition: () => Promise<string>
  snapshot: () => Promise<GatewaySnapshot>
}

/** The view of a gateway that is one process. */
export function localView (registry: Registry, part: () => Promise<WorkerPart>): GatewayView {
  return {
    exposition: async () => await registry.metrics(),
    snapshot: async () => {
      const own = await part()
      return { metrics: own.metrics, rejections: own.rejections, workers: [own.worker] }
    }
  }
}

/** How long a worker waits for the primary's answer, and the primary for the workers' parts. */
export const CLUSTER_ANSWER_MS = 4_000

const ASK = 'kinesis-gateway:ask'
const ANSWER = 'kinesis-gateway:answer'
const PART_ASK = 'kinesis-gateway:part-ask'
const PART = 'kinesis-gateway:part'

interface Ask { type: typeof ASK, id: number, what: 'metrics' | 'snapshot' }
interface Answer { type: typeof ANSWER, id: number, text?: string, snapshot?: GatewaySnapshot, error?: string }
interface PartAsk { type: typeof PART_ASK, id: number }
interface PartAnswer { type: typeof PART, id: number, part: WorkerPart | null }

function isMessage<T extends { type: string }> (message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type
}

let workerSource: (() => Promise<WorkerPart>) | undefined
let workerListening = false

/**
 * A worker's side, installed at process start (before the gateway is built, so a starting worker
 * answers the primary at once, with nothing yet, instead of making every scrape wait for it).
 * prom-client's listener answers the primary's metric requests with the registry given later.
 */
export function installWorkerSide (): void {
  if (workerListening || !cluster.isWorker) return
  workerListening = true
  // eslint-disable-next-line no-new
  new AggregatorRegistry() // installs prom-client's worker listener (answers with the registries set below)
  AggregatorRegistry.setRegistries([])
  process.on('message', (message: unknown) => {
    if (!isMessage<PartAsk>(message, PART_ASK)) return
    const source = workerSource
    const reply = (part: WorkerPart | null): void => { if (process.connected) process.send?.({ type: PART, id: message.id, part } satisfies PartAnswer) }
    if (source === undefined) { reply(null); return }
    source().then(reply, () => { reply(null) })
  })
}

/** Once the gateway is built: what this worker contributes, and the view that asks the primary. */
export function clusterWorkerView (registry: Registry, part: () => Promise<WorkerPart>): GatewayView {
  installWorkerSide()
  AggregatorRegistry.setRegistries([registry])
  workerSource = part
  let next = 0
  const waiting = new Map<number, (answer: Answer) => void>()
  process.on('message', (message: unknown) => {
    if (!isMessage<Answer>(message, ANSWER)) return
    waiting.get(message.id)?.(message)
  })
  const ask = async (what: Ask['what']): Promise<Answer> => await new Promise<Answer>((resolve, reject) => {
    const id = next++
    const timer = setTimeout(() => { waiting.delete(id); reject(new Error('the cluster primary did not answer in time')) }, CLUSTER_ANSWER_MS + 1_000)
    waiting.set(id, (answer) => {
      clearTimeout(timer)
      waiting.delete(id)
      if (answer.error !== undefined) reject(new Error(answer.error))
      else resolve(answer)
    })
    if (process.send === undefined || !process.connected) {
      waiting.get(id)?.({ type: ANSWER, id, error: 'the cluster primary is gone' })
      return
    }
    process.send({ type: ASK, id, what } satisfies Ask)
  })
  return {
    exposition: async () => (await ask('metrics')).text ?? '',
    snapshot: async () => {
      const answer = await ask('snapshot')
      if (answer.snapshot === undefined) throw new Error('the cluster primary sent no snapshot')
      return answer.snapshot
    }
  }
}

/**
 * The primary's side: answers workers that ask for the whole gateway. Requests that arrive while
 * a gathering is under way share it, so a burst of scrapes or console polls costs one round.
 */
export function serveClusterView (): void {
  const aggregator = new AggregatorRegistry()
  let metricsRound: Promise<string> | undefined
  let snapshotRound: Promise<GatewaySnapshot> | undefined
  let nextPart = 0
  const parts = new Map<number, (worker: Worker, part: WorkerPart | null) => void>()

  const gather = async (): Promise<GatewaySnapshot> => await new Promise<GatewaySnapshot>((resolve, reject) => {
    const id = nextPart++
    const asked = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && w.isConnected())
    const got: WorkerPart[] = []
    let pending = asked.length
    const timer = setTimeout(() => { parts.delete(id); reject(new Error(`${pending} of ${asked.length} workers did not answer within ${CLUSTER_ANSWER_MS} ms`)) }, CLUSTER_ANSWER_MS)
    const finish = (): void => {
      clearTimeout(timer)
      parts.delete(id)
      Promise.resolve(AggregatorRegistry.aggregate(got.map((p) => p.metrics)).getMetricsAsJSON())
        .then((metrics) => {
          resolve({
            metrics,
            rejections: mergeRejections(got.map((p) => p.rejections)),
            workers: got.map((p) => p.worker).sort((a, b) => a.pid - b.pid)
          })
        }, reject)
    }
    parts.set(id, (_worker, part) => {
      if (part !== null) got.push(part)
      if (--pending === 0) finish()
    })
    if (pending === 0) { finish(); return }
    for (const worker of asked) worker.send({ type: PART_ASK, id } satisfies PartAsk)
  })

  cluster.on('message', (worker: Worker, message: unknown) => {
    if (isMessage<PartAnswer>(message, PART)) {
      parts.get(message.id)?.(worker, message.part)
      return
    }
    if (!isMessage<Ask>(message, ASK)) return
    const id = message.id
    const send = (answer: Omit<Answer, 'type' | 'id'>): void => {
      if (worker.isConnected()) worker.send({ type: ANSWER, id, ...answer } satisfies Answer)
    }
    const failed = (err: unknown): void => { send({ error: (err as Error).message }) }
    if (message.what === 'metrics') {
      metricsRound ??= aggregator.clusterMetrics().finally(() => { metricsRound = undefined })
      metricsRound.then((text) => { send({ text }) }, failed)
    } else {
      snapshotRound ??= gather().finally(() => { snapshotRound = undefined })
      snapshotRound.then((snapshot) => { send({ snapshot }) }, failed)
    }
  })
}
