import type { KinesisClient } from '@aws-sdk/client-kinesis'
import { streamState, type StreamState } from '../kinesis/stream-admin.js'

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

  constructor (client: KinesisClient, streamsOf: () => string[], refreshMs: number, onError: (err: unknown) => void) {
    this.client = client
    this.streamsOf = streamsOf
    this.refreshMs = refreshMs
    this.onError = onError
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
    await Promise.all(streams.map(async (stream) => {
      try {
        next.set(stream, await streamState(this.client, stream))
      } catch (err) {
        next.set(stream, 'UNKNOWN')
        this.onError(err)
      }
    }))
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
