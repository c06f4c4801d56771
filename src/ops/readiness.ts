import type { KinesisClient } from '@aws-sdk/client-kinesis'
import { streamState, type StreamState } from '../kinesis/stream-admin.js'
import type { KinesisReachability } from './kinesis-reachability.js'

export interface ReadinessReport {
  readonly ready: boolean
  readonly draining: boolean
  readonly streams: Record<string, StreamState | 'UNKNOWN'>
  readonly checkedAt: string | null
}

/**
 * Whether the configured streams exist and take writes. Checked in the background every
 * `refreshMs`, so /readyz answers from memory and a load balancer's probes cost Kinesis nothing.
 */
export class Readiness {
  private readonly client: KinesisClient
  private readonly refreshMs: number
  private streamsOf: () => string[]
  private states = new Map<string, StreamState | 'UNKNOWN'>()
  private checkedAt: string | null = null
  private timer: NodeJS.Timeout | undefined
  private draining = false
  private onError: (err: unknown) => void
  private readonly reachability: KinesisReachability | undefined

  /**
   * `report` is either a KinesisReachability (one warning when the checks start failing, one
   * line when they succeed again) or a plain callback called on every failed check.
   */
  constructor (client: KinesisClient, streamsOf: () => string[], refreshMs: number, report: KinesisReachability | ((err: unknown) => void)) {
    this.client = client
    this.streamsOf = streamsOf
    this.refreshMs = refreshMs
    this.reachability = typeof report === 'function' ? undefined : report
    this.onError = typeof report === 'function' ? report : (err) => { report.failed(err, 'readiness') }
  }

  async start (): Promise<void> {
    await this.refresh()
    this.timer = setInterval(() => { this.refresh().catch(this.onError) }, this.refreshMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  /** From now on the gateway reports not ready, so load balancers stop sending it new work. */
  startDraining (): void {
    this.draining = true
  }

  /** Checks `streams` (by default the served ones; a reload passes the old and the new ones). */
  async refresh (streams: readonly string[] = this.streamsOf()): Promise<void> {
    const next = new Map<string, StreamState | 'UNKNOWN'>()
    let failure: unknown
    let failed = false
    await Promise.all(streams.map(async (stream) => {
      try {
        next.set(stream, await streamState(this.client, stream))
      } catch (err) {
        next.set(stream, 'UNKNOWN')
        failure = err
        failed = true
      }
    }))
    // One report per round, not one per stream: an outage is one event however many streams there are.
    if (failed) this.onError(failure)
    else this.reachability?.succeeded()
    this.states = next
    this.checkedAt = new Date().toISOString()
  }

  report (): ReadinessReport {
    let ready = !this.draining && this.checkedAt !== null
    const streams: Record<string, StreamState | 'UNKNOWN'> = {}
    for (const stream of this.streamsOf()) {
      const state = this.states.get(stream) ?? 'UNKNOWN'
      streams[stream] = state
      // UPDATING streams (resharding) still accept writes.
      if (state !== 'ACTIVE' && state !== 'UPDATING') ready = false
    }
    return { ready, draining: this.draining, streams, checkedAt: this.checkedAt }
  }
}
