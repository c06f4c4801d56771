import { createHash } from 'node:crypto'
import { watch, type FSWatcher } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import type { FastifyBaseLogger } from 'fastify'
import { channelTable, type Channel, type ChannelRegistry } from '../channels/channel-registry.js'
import { ConfigError } from '../config/config-error.js'
import type { GatewayConfig, KinesisConfig } from '../config/types.js'
import type { ProducerPool } from '../delivery/producer-pool.js'
import type { QuarantineObserver } from '../ingest/quarantine.js'
import { compileChannelSchemas } from '../validation/schema-registry.js'
import type { GatewayMetrics } from './metrics.js'
import type { Readiness } from './readiness.js'
import { ensureStreams, streamState } from '../kinesis/stream-admin.js'
import { schemaFilesOf } from './schema-dependencies.js'

export interface ReloadResult {
  /** applied: the new channel table serves; rejected: the previous one still does; unchanged: nothing to do. */
  readonly result: 'applied' | 'rejected' | 'unchanged'
  readonly added: readonly string[]
  readonly removed: readonly string[]
  readonly changed: readonly string[]
  /** Keys that changed but only take effect at the next start (ports, server limits, delivery...). */
  readonly ignored: readonly string[]
  /** Why a reload was rejected: each names the file, key and fix. */
  readonly problems: readonly string[]
}

export interface ConfigReloaderOptions {
  readonly initial: GatewayConfig
  /** Reads and validates the configuration again (the entry passes loadConfig). */
  readonly load: () => Promise<GatewayConfig>
  readonly registry: ChannelRegistry
  readonly pool: ProducerPool
  /** What quarantines report (the same for start and reload channels). */
  readonly quarantine: QuarantineObserver
  readonly admin: KinesisClient
  /** The Kinesis target in use (with the embedded server's endpoint resolved). */
  readonly kinesis: KinesisConfig
  readonly readiness: Readiness
  readonly metrics: GatewayMetrics
  readonly log: FastifyBaseLogger
  readonly debounceMs: number
  /** Extra checks of a new configuration (e.g. what only a restart can set up); returns problems. */
  readonly check?: (next: GatewayConfig) => string[]
}

/** Sections that are read once at start: a change is reported and waits for a restart. */
const RESTART_ONLY = ['server', 'kinesis', 'delivery', 'readinessRefreshMs', 'metrics', 'logging', 'logLevel'] as const

/**
 * Live configuration: reads the configuration and its schemas again, and if they are valid
 * swaps the channel table in one assignment (ChannelRegistry.replace), so each request sees the
 * old or the new channels, never a mix, and requests already inside keep the channel they
 * started with. A broken configuration is rejected with one error line and the running one stays.
 *
 * Triggered by reload() (SIGHUP in the entry, tests) and, after watch(), by changes to the
 * configuration file or to any JSON file in the schema folders (debounced). Reloads run one
 * at a time.
 */
export class ConfigReloader {
  private readonly opts: ConfigReloaderOptions
  private config: GatewayConfig
  private fingerprint = new Map<string, string>()
  private chain: Promise<unknown> = Promise.resolve()
  private watchers = new Map<string, FSWatcher>()
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor (opts: ConfigReloaderOptions) {
    this.opts = opts
    this.config = opts.initial
  }

  /** The configuration being served (channels as last reloaded, the rest as at start). */
  get current (): GatewayConfig {
    return this.config
  }

  /** Records the files as they are now, so later file events that change nothing are ignored. */
  async init (): Promise<void> {
    this.fingerprint = await fingerprintOf(this.config)
  }

  /** Reloads now (after any reload in progress). Never throws: a failure is a 'rejected' result. */
  reload (trigger = 'request'): Promise<ReloadResult> {
    const next = this.chain.then(async () => await this.run(trigger, false))
    this.chain = next.catch(() => undefined)
    return next
  }

  /** Watches the configuration file and the schema folders; changes trigger a debounced reload. */
  watch (): void {
    if (this.closed) return
    const configDir = dirname(this.config.configFile)
    const configName = basename(this.config.configFile)
    const folders = new Set([configDir, ...[...this.config.channels.values()].map((c) => dirname(c.schemaFile))])
    for (const [folder, watcher] of this.watchers) {
      if (!folders.has(folder)) { watcher.close(); this.watchers.delete(folder) }
    }
    for (const folder of folders) {
      if (this.watchers.has(folder)) continue
      try {
        const watcher = watch(folder, { persistent: false }, (_event, name) => {
          const file = name === null ? '' : name.toString()
          // The config file, a schema, or a Kubernetes ConfigMap swap (..data symlinks); not editor temp files.
          if (file === '' || file === configName || file.endsWith('.json') || file.startsWith('..')) this.schedule()
        })
        watcher.on('error', (err) => { this.opts.log.warn({ err, folder }, 'configuration watch failed; SIGHUP still reloads') })
        this.watchers.set(folder, watcher)
      } catch (err) {
        this.opts.log.warn({ err, folder }, 'cannot watch a configuration folder; SIGHUP still reloads')
      }
    }
  }

  close (): void {
    this.closed = true
    clearTimeout(this.timer)
    for (const watcher of this.watchers.values()) watcher.close()
    this.watchers.clear()
  }

  private schedule (): void {
    if (this.closed) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      const next = this.chain.then(async () => await this.run('file change', true))
      this.chain = next.catch(() => undefined)
    }, this.opts.debounceMs)
    this.timer.unref()
  }

  private async run (trigger: string, onlyIfFilesChanged: boolean): Promise<ReloadResult> {
    const { log, metrics } = this.opts
    const before = this.fingerprint
    if (onlyIfFilesChanged && sameMap(before, await fingerprintOf(this.config))) return this.unchanged()

    const outcome = await this.prepare()
    if ('problems' in outcome) {
      metrics.reloaded('rejected')
      log.error({ trigger, problems: outcome.problems },
        `configuration reload rejected; still serving the previous configuration: ${outcome.problems.join(' | ')}`)
      return { result: 'rejected', added: [], removed: [], changed: [], ignored: [], problems: outcome.problems }
    }
    const { next, table, ignored } = outcome
    const old = this.config.channels
    const added = [...next.channels.keys()].filter((n) => !old.has(n))
    const removed = [...old.keys()].filter((n) => !next.channels.has(n))
    const after = await fingerprintOf(next)
    // A channel changed when its settings did, or its schema file or a file it $refs did (when a
    // reference cannot be followed to a file: any changed file of its folder).
    const changedFiles = [...after].filter(([file, hash]) => file !== next.configFile && before.get(file) !== hash).map(([file]) => file)
    const changed: string[] = []
    for (const c of next.channels.values()) {
      if (!old.has(c.name)) continue
      const deps = changedFiles.length === 0 ? new Set<string>() : await schemaFilesOf(c.schemaFile)
      const touched = deps === undefined ? changedFiles.some((f) => dirname(f) === dirname(c.schemaFile)) : changedFiles.some((f) => deps.has(f))
      if (touched || JSON.stringify(c) !== JSON.stringify(old.get(c.name))) changed.push(c.name)
    }

    this.opts.registry.replace(table)
    this.config = next
    this.fingerprint = after
    for (const name of added) metrics.prepareChannel(name)
    if (this.watchers.size > 0) this.watch()

    if (ignored.length > 0) {
      log.warn({ ignored }, `configuration changes ignored until restart: ${ignored.join(', ')}`)
    }
    if (added.length === 0 && removed.length === 0 && changed.length === 0) {
      metrics.reloaded('unchanged')
      log.info({ trigger }, 'configuration reloaded: no channel changed')
      return { result: 'unchanged', added, removed, changed, ignored, problems: [] }
    }
    metrics.reloaded('applied')
    // Only the channels that changed: with dozens of channels, the full table would hide them.
    log.info({ trigger, added, removed, changed },
      `configuration reloaded: ${describe('added', added)}${describe('removed', removed)}${describe('changed', changed)}`.replace(/; $/, ''))
    return { result: 'applied', added, removed, changed, ignored, problems: [] }
  }

  private unchanged (): ReloadResult {
    return { result: 'unchanged', added: [], removed: [], changed: [], ignored: [], problems: [] }
  }

  /** Loads and checks everything; only a fully valid configuration yields a table. */
  private async prepare (): Promise<{ next: GatewayConfig, table: Map<string, Channel>, ignored: string[] } | { problems: string[] }> {
    let loaded: GatewayConfig
    try {
      loaded = await this.opts.load()
    } catch (err) {
      return { problems: problemsOf(err) }
    }
    const ignored: string[] = []
    for (const key of RESTART_ONLY) diffKeys(key, this.opts.initial[key], loaded[key], ignored)
    // Only the channels are live; everything else stays as started.
    const next: GatewayConfig = { ...this.opts.initial, channels: loaded.channels }

    const problems: string[] = []
    let compiled: Awaited<ReturnType<typeof compileChannelSchemas>> | undefined
    try {
      compiled = await compileChannelSchemas(next.channels.values(), next.configFile)
    } catch (err) {
      problems.push(...problemsOf(err))
    }
    problems.push(...(this.opts.check?.(next) ?? []))
    problems.push(...await this.checkNewStreams(next))
    if (problems.length > 0 || compiled === undefined) return { problems }

    return { next, table: channelTable(next.channels.values(), compiled, this.opts.pool, this.opts.quarantine), ignored }
  }

  /**
   * A new channel must not point at a stream that cannot take writes: create it when
   * createStreams is on, else refuse the reload (the instance would otherwise turn unready).
   */
  private async checkNewStreams (next: GatewayConfig): Promise<string[]> {
    const { admin, kinesis, readiness, registry } = this.opts
    const served = new Set(registry.streams())
    const fresh = [...new Set([...next.channels.values()].map((c) => c.stream))].filter((s) => !served.has(s))
    if (fresh.length === 0) return []
    const problems: string[] = []
    try {
      if (kinesis.createStreams) {
        await ensureStreams(admin, fresh, kinesis.createdStreamShards)
      } else {
        for (const stream of fresh) {
          const state = await streamState(admin, stream)
          if (state !== 'ACTIVE' && state !== 'UPDATING') {
            const channels = [...next.channels.values()].filter((c) => c.stream === stream).map((c) => c.name)
            problems.push(`${next.configFile}: channels.${channels.join('/')}.stream: stream "${stream}" is ${state} at ` +
              `${kinesis.endpoint ?? `AWS ${kinesis.region}`}. Fix: create it first (kinesis-gateway streams create), or set kinesis.createStreams: true`)
          }
        }
      }
    } catch (err) {
      problems.push(`${next.configFile}: cannot check or create streams ${fresh.join(', ')}: ${(err as Error).message}. Fix: check the Kinesis endpoint and permissions, then reload again`)
    }
    // Know the new streams' state before they are served, so /readyz does not flicker.
    if (problems.length === 0) await readiness.refresh([...served, ...fresh])
    return problems
  }
}

function problemsOf (err: unknown): string[] {
  if (err instanceof ConfigError) return [...err.problems]
  return [`configuration could not be read: ${(err as Error).message}`]
}

function describe (what: string, names: readonly string[]): string {
  return names.length === 0 ? '' : `${what} ${names.join(', ')}; `
}

/** Appends the dotted keys whose values differ between `a` and `b`. */
function diffKeys (path: string, a: unknown, b: unknown, into: string[]): void {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)])
    for (const k of keys) diffKeys(`${path}.${k}`, (a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], into)
    return
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) into.push(path)
}

/** Hash of the configuration file and of every JSON file in the schema folders. */
async function fingerprintOf (config: GatewayConfig): Promise<Map<string, string>> {
  const files = new Set([config.configFile])
  for (const folder of new Set([...config.channels.values()].map((c) => dirname(c.schemaFile)))) {
    try {
      for (const name of await readdir(folder)) if (name.endsWith('.json')) files.add(join(folder, name))
    } catch { /* a missing folder is reported by the reload itself */ }
  }
  const out = new Map<string, string>()
  await Promise.all([...files].map(async (file) => {
    try {
      out.set(file, createHash('sha1').update(await readFile(file)).digest('hex'))
    } catch {
      out.set(file, 'missing')
    }
  }))
  return out
}

function sameMap (a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false
  for (const [k, v] of a) if (b.get(k) !== v) return false
  return true
}
