import cluster, { type Worker } from 'node:cluster'
import { pino } from 'pino'
import type { GatewayConfig } from '../config/types.js'
import { serveClusterView } from './gateway-view.js'

/** Wait before replacing a worker that crashed while serving. */
const RESPAWN_DELAY_MS = 1_000

/**
 * The cluster primary: forks `config.server.workers` gateway processes that share one listening
 * port (node:cluster hands each accepted connection to a worker, round-robin on Linux). Each worker
 * is a whole gateway: its own config, validators, producers and Kinesis connections.
 *
 * Metrics: a worker asked for /metrics or the console's feed asks the primary, which gathers every
 * worker (ops/gateway-view.ts), so one scrape reports the whole gateway.
 *
 * Shutdown: SIGTERM or SIGINT at the primary is sent to every worker as SIGTERM; each worker then
 * drains as a single gateway does (stops taking requests, finishes those in flight, flushes its
 * producers). The primary exits 0 once every worker has exited 0, 1 otherwise.
 * A worker that crashes while serving is replaced; one that exits before listening stops the cluster,
 * since its siblings would fail the same way (bad config, Kinesis unreachable).
 */
export async function runPrimary (config: GatewayConfig): Promise<number> {
  const log = pino({ level: config.logLevel }).child({ role: 'primary' })
  const count = config.server.workers
  const running = new Set<Worker>()
  let stopping = false
  let failed = false
  let resolveDone: () => void = () => {}
  const done = new Promise<void>((resolve) => { resolveDone = resolve })

  const fork = (): void => {
    const worker = cluster.fork()
    let listening = false
    running.add(worker)
    worker.once('listening', () => { listening = true })
    worker.once('exit', (code, signal) => {
      running.delete(worker)
      if (code !== 0) failed = true
      if (stopping) {
        if (running.size === 0) resolveDone()
        return
      }
      if (!listening) {
        log.error({ pid: worker.process.pid, code, signal }, 'a worker failed to start; stopping the cluster')
        failed = true
        stop('SIGTERM')
        return
      }
      log.error({ pid: worker.process.pid, code, signal }, 'a worker exited; starting a replacement')
      failed = false
      setTimeout(() => { if (!stopping) fork() }, RESPAWN_DELAY_MS).unref()
    })
  }

  function stop (signal: NodeJS.Signals): void {
    if (!stopping) log.info({ signal, workers: running.size }, 'shutting down: every worker drains its requests and buffered records')
    stopping = true
    // A second signal is passed on too: the workers then exit at once (close-with-grace's rule).
    for (const worker of running) worker.process.kill('SIGTERM')
    if (running.size === 0) resolveDone()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  // SIGHUP reloads the configuration: every worker reloads its own channels (its default would kill the primary).
  process.on('SIGHUP', () => { for (const worker of running) worker.process.kill('SIGHUP') })

  // /metrics and the console, answered by any worker, report the whole gateway through here.
  serveClusterView()
  log.info({ workers: count, pid: process.pid }, 'kinesis-gateway cluster starting')
  for (let i = 0; i < count; i++) fork()
  await done
  return failed ? 1 : 0
}
