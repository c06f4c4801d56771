import type { ValidateFunction } from 'ajv'
import type { ChannelConfig, GatewayConfig } from '../config/types.js'
import type { ProducerPool } from '../delivery/producer-pool.js'
import type { StreamProducer } from '../delivery/stream-producer.js'
import type { PreparingChannel } from '../ingest/prepare-records.js'
import { Quarantine, type QuarantineObserver } from '../ingest/quarantine.js'
import { RecordEncoder } from '../ingest/record-encoder.js'
import { compileChannelSchemas, type CompiledChannel, type PublishedSchema } from '../validation/schema-registry.js'

/** A channel ready to serve: its configuration, its compiled schema, record format and producer. */
export interface Channel extends PreparingChannel {
  readonly config: ChannelConfig
  readonly validate: ValidateFunction
  readonly producer: StreamProducer
  /** Where rejected events go (`quarantine: <stream>`), or null. */
  readonly quarantine: Quarantine | null
  /** The schema as GET /v1/{channel}/schema serves it. */
  readonly schema: PublishedSchema
}

/**
 * The channels being served. The whole table is replaced at once, so a request sees either the
 * old or the new configuration, never a mix (live reload swaps it).
 */
export class ChannelRegistry {
  private table: ReadonlyMap<string, Channel>
  /** "<version>/<path>" -> channel: what /v<version>/<path> serves. */
  private routes: ReadonlyMap<string, Channel>

  constructor (table: ReadonlyMap<string, Channel>) {
    this.table = table
    this.routes = routesOf(table)
  }

  /** A channel by its configuration name. */
  get (name: string): Channel | undefined {
    return this.table.get(name)
  }

  /** The channel served at /v<version>/<path>. */
  resolve (version: number, path: string): Channel | undefined {
    return version === 1 && this.table.get(path)?.config.version === 1 ? this.table.get(path) : this.routes.get(`${version}/${path}`)
  }

  /** Names as clients use them in URLs: "orders", "v2/orders". */
  routeNames (): string[] {
    return [...this.table.values()].map((c) => c.config.version === 1 ? c.config.path : `v${c.config.version}/${c.config.path}`)
  }

  names (): string[] {
    return [...this.table.keys()]
  }

  /** Every stream written: channels' and their quarantines'. */
  streams (): string[] {
    return [...new Set([...this.table.values()].flatMap((c) => c.config.quarantine === undefined ? [c.config.stream] : [c.config.stream, c.config.quarantine]))]
  }

  replace (table: ReadonlyMap<string, Channel>): void {
    this.routes = routesOf(table)
    this.table = table
  }
}

function routesOf (table: ReadonlyMap<string, Channel>): Map<string, Channel> {
  return new Map([...table.values()].map((c) => [`${c.config.version}/${c.config.path}`, c]))
}

/** Compiles every channel's schema and builds the table (start). Throws ConfigError. */
export async function buildChannelTable (config: GatewayConfig, pool: ProducerPool, quarantine: QuarantineObserver): Promise<Map<string, Channel>> {
  const compiled = await compileChannelSchemas(config.channels.values(), config.configFile)
  return channelTable(config.channels.values(), compiled, pool, quarantine)
}

/**
 * The one place channels are made from configuration, for the start and for every reload, so a
 * reload can never build a channel differently (it once dropped `aggregate: true`).
 */
export function channelTable (channels: Iterable<ChannelConfig>, compiled: ReadonlyMap<string, CompiledChannel>,
  pool: ProducerPool, quarantine: QuarantineObserver): Map<string, Channel> {
  const table = new Map<string, Channel>()
  for (const channel of channels) {
    const schema = compiled.get(channel.name)
    if (schema === undefined) continue
    const aggregation = channel.aggregate === null ? undefined : { ...channel.aggregate, mixKeys: channel.partitionKey.kind === 'random' }
    table.set(channel.name, {
      config: channel,
      validate: schema.validate,
      schema: schema.published,
      encoder: new RecordEncoder(channel.name, channel.record, channel.versioned ? channel.version : undefined),
      maxRecordBytes: channel.maxRecordBytes,
      producer: pool.forStream(channel.stream, aggregation, channel.maxRecordBytes),
      quarantine: channel.quarantine === undefined
        ? null
        : new Quarantine(channel.name, pool.forStream(channel.quarantine), pool.limits.maxRecordBytes, quarantine)
    })
  }
  return table
}
