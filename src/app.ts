import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { buildChannelTable, ChannelRegistry } from './channels/channel-registry.js'
import type { GatewayConfig, KinesisConfig } from './config/types.js'
import { AckDispatcher } from './delivery/ack-modes.js'
import { createKinesisClient } from './delivery/kinesis-client.js'
import { kinesisSender } from './delivery/kinesis-sender.js'
import { ProducerPool } from './delivery/producer-pool.js'
import { ShardPacers } from './delivery/shard-pacers.js'
import type { PutRecordsSender } from './delivery/stream-producer.js'
import { frontDoorRoutes, registerFrontDoor, withRedaction } from './front-door/front-door.js'
import { clientErrorHandler } from './http/client-error.js'
import { errorHandler, frameworkErrorHandler, notFoundHandler } from './http/error-handler.js'
import { healthRoutes } from './http/health-routes.js'
import { ingestRoutes } from './http/ingest-route.js'
import { validateRoute } from './http/validate-route.js'
import { startEmbeddedKinesis, type EmbeddedKinesis } from './ops/embedded-kinesis.js'
import { drainWithin } from './ops/drain.js'
import { Readiness } from './ops/readiness.js'
import { ensureStreams } from './ops/stream-admin.js'
import { loadConfig } from './config/load-config.js'
import { DEFAULTS } from './config/limits.js'
import { metricsRoutes, type MetricsEndpoint } from './http/metrics-route.js'
import { requestIdOf } from './http/request-id.js'
import { ConfigReloader, type ReloadResult } from './ops/config-reloader.js'
import { loggerOptions } from './ops/logger.js'
import { GatewayMetrics } from './ops/metrics.js'
import { requestObserver } from './ops/request-observer.js'
import { registerScrapedMetrics } from './ops/scraped-metrics.js'
import { packageVersion } from './ops/version.js'

export interface BuildOptions {
  /** Fastify/pino logger options; false for silence (tests). */
  readonly logger?: FastifyServerOptions['logger']
  /** Replaces the PutRecords call (unit tests of the HTTP edge only; integration tests use a real server). */
  readonly send?: PutRecordsSender
  /** How a live reload reads the configuration again (default: loadConfig() as the entry does). */
  readonly reloadConfig?: () => Promise<GatewayConfig>
}

declare module 'fastify' {
  interface FastifyInstance {
    /** What the gateway is running on, for the start log line and the ops commands. */
    gateway: {
      readonly config: GatewayConfig
      readonly kinesis: KinesisConfig
      readonly registry: ChannelRegistry
      readonly readiness: Readiness
      readonly pool: ProducerPool
      readonly version: string
      readonly metrics: GatewayMetrics
      /** "public" or the address of the separate metrics listener. */
      readonly metricsEndpoint: MetricsEndpoint
      readonly reloader: ConfigReloader
      /** Reloads channels and schemas now (what SIGHUP and file changes do). */
      reload: (trigger?: string) => Promise<ReloadResult>
      readonly acks: AckDispatcher
      readonly shards: ShardPacers
    }
  }
}

/** Builds the whole gateway from a validated configuration. The caller listens (or injects). */
export async function buildApp (config: GatewayConfig, options: BuildOptions = {}): Promise<FastifyInstance> {
  let embedded: EmbeddedKinesis | undefined
  let kinesis = config.kinesis
  if (kinesis.mode === 'embedded') {
    embedded = await startEmbeddedKinesis(kinesis.embeddedPort)
    kinesis = { ...kinesis, endpoint: embedded.endpoint }
  }

  const adminClient = createKinesisClient(kinesis)
  const producerClient = createKinesisClient(kinesis, { maxAttempts: 1, cacheMiddleware: true })
  const closeClients = (): void => {
    adminClient.destroy()
    producerClient.destroy()
  }
  let app: FastifyInstance | undefined
  let acks: AckDispatcher | undefined
  try {
    const version = await packageVersion()
    // Bound to the logger once Fastify exists.
    let logShardError = (_stream: string, _err: unknown): void => {}
    let logHardFailure = (_stream: string, _code: string, _message: string): void => {}
    const shards = new ShardPacers(adminClient, config.delivery, (stream, err) => logShardError(stream, err))
    // Buffer gauges read the producers at scrape time.
    const metrics: GatewayMetrics = new GatewayMetrics({ version, producers: () => pool.all() })
    const metered = metrics.producerObserver()
    const pool: ProducerPool = new ProducerPool(metrics.meteredSender(options.send ?? kinesisSender(producerClient)), config.delivery, {
      ...metered,
      // Non-retryable failures (stream missing, access denied) fail fast and loudly.
      callFailed: (stream, code, message, retryable) => {
        metered.callFailed?.(stream, code, message, retryable)
        if (!retryable) logHardFailure(stream, code, message)
      }
    }, (stream) => shards.forStream(stream))
    const table = await buildChannelTable(config, pool)
    const registry = new ChannelRegistry(table)
    if (kinesis.createStreams) await ensureStreams(adminClient, registry.streams(), kinesis.createdStreamShards)

    app = Fastify({
      logger: withRedaction(options.logger ?? loggerOptions(config.logLevel, config.logging).options),
      bodyLimit: config.server.bodyLimitBytes,
      trustProxy: config.server.trustProxy,
      connectionTimeout: config.server.connectionTimeoutMs,
      requestTimeout: config.server.requestTimeoutMs,
      keepAliveTimeout: config.server.keepAliveTimeoutMs,
      http: {
        maxHeaderSize: config.server.maxHeaderBytes,
        // Node requires headersTimeout <= requestTimeout; it checks both every connectionsCheckingInterval.
        headersTimeout: Math.min(config.server.headersTimeoutMs, config.server.requestTimeoutMs),
        connectionsCheckingInterval: Math.min(1_000, config.server.headersTimeoutMs)
      },
      // x-request-id is taken only when safe (request-id.ts), else generated.
      requestIdHeader: false,
      genReqId: requestIdOf,
      // Fastify's two lines per request are off; ops/request-observer.ts writes at most one.
      logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
      return503OnClosing: true,
      // Requests Node's HTTP parser refuses (e.g. a wrong Content-Length) also get problem+json.
      clientErrorHandler,
      frameworkErrors: frameworkErrorHandler,
      forceCloseConnections: 'idle'
    })
    const log = app.log
    logShardError = (stream, err) => log.warn({ stream, err }, 'ListShards failed: shard pacing uses the previous shard list')
    logHardFailure = (stream, errorCode, message) => log.error({ stream, errorCode, message }, 'PutRecords failed with a non-retryable error')
    // Spools are opened (and recovered after a crash) before the first request is served.
    const spooled = [...config.channels.values()].filter((c) => c.ack === 'spool').map((c) => c.stream)
    const ackDispatcher = acks = await AckDispatcher.create(spooled, config.spool, pool, {
      corruptTail: (stream, segment, offset, reason) => log.error({ stream, segment, offset, reason }, 'spool: corrupt or torn record; rest of the segment skipped'),
      hardFailure: (stream, count, errorCode, message) => log.error({ stream, count, errorCode, message }, 'spool: Kinesis refused records; they stay spooled and are retried'),
      diskError: (stream, code, message) => log.error({ stream, code, message }, 'spool: the disk refused a write; requests get 503 GW_ERR_SPOOL_FULL until it takes writes again'),
      diskRecovered: (stream) => log.warn({ stream }, 'spool: the disk takes writes again'),
      bufferedLost: (stream, count, errorCode, message) => {
        metrics.recordsLostFor(stream, 'buffered', count, errorCode)
        log.error({ stream, count, errorCode, message }, 'buffered: acknowledged records refused by Kinesis for good (lost)')
      }
    })
    const readiness = new Readiness(adminClient, () => registry.streams(), config.readinessRefreshMs,
      (err) => log.warn({ err }, 'stream readiness check failed'))
    const reloader = new ConfigReloader({
      initial: config,
      load: options.reloadConfig ?? (async () => await loadConfig()),
      registry,
      pool,
      admin: adminClient,
      kinesis,
      readiness,
      metrics,
      log,
      debounceMs: DEFAULTS.configReloadDebounceMs,
      // Spools are opened (and recovered) at start; a channel cannot switch to one while running.
      check: (next) => [...next.channels.values()]
        .filter((c) => c.ack === 'spool' && ackDispatcher.spoolOf(c.stream) === undefined)
        .map((c) => `${next.configFile}: channels.${c.name}.ack: "spool" for stream ${c.stream} needs a spool opened at start. Fix: restart the gateway to apply it`)
    })
    await reloader.init()
    for (const name of registry.names()) metrics.prepareChannel(name)
    const metricsEndpoint = metricsRoutes(app, metrics, config.metrics)
    app.decorate('gateway', {
      config,
      kinesis,
      registry,
      readiness,
      pool,
      version,
      metrics,
      metricsEndpoint,
      reloader,
      acks: ackDispatcher,
      shards,
      reload: async (trigger?: string) => await reloader.reload(trigger)
    })
    requestObserver(app, metrics, config.logging)

    // Callback-style hooks where nothing is awaited: no promise per request (profiled hot path).
    app.addHook('onRequest', (request, reply, done) => {
      reply.header('x-request-id', request.id)
      done()
    })
    app.setErrorHandler(errorHandler)
    app.setNotFoundHandler(notFoundHandler)
    healthRoutes(app, readiness)
    await registerFrontDoor(app, config, registry)
    const frontDoor = app.frontDoor
    const spooledStreams = [...new Set(spooled)]
    registerScrapedMetrics(metrics.registry, {
      sharedState: frontDoor.sharedState,
      redisFallbacks: frontDoor.redisFallbacks,
      spools: () => spooledStreams.flatMap((s) => {
        const stats = ackDispatcher.spoolOf(s)?.stats()
        return stats === undefined ? [] : [[s, stats] as const]
      }),
      shardLoad: () => shards.load(),
      draining: () => readiness.report().draining
    })
    ingestRoutes(app, registry, ackDispatcher)
    validateRoute(app, registry)
    frontDoorRoutes(app)

    app.addHook('onReady', async () => { await Promise.all([readiness.start(), shards.start()]) })
    // While closing, a keep-alive connection whose last request just finished would hold the
    // server open until keepAliveTimeout: close such connections as soon as they turn idle.
    let sweep: NodeJS.Timeout | undefined
    app.addHook('preClose', async () => {
      sweep = setInterval(() => { app?.server.closeIdleConnections() }, 100)
      sweep.unref()
    })
    // Fastify runs onClose after in-flight requests have finished: then flush what is buffered.
    app.addHook('onClose', async () => {
      clearInterval(sweep)
      readiness.stop()
      reloader.close()
      shards.stop()
      await ackDispatcher.stop()
      const unsent = await drainWithin(pool, config.shutdown.deadlineMs)
      if (unsent > 0) log.error({ unsent }, 'shutdown deadline passed with records unsent (spooled ones stay on disk)')
      await ackDispatcher.close()
      closeClients()
      await embedded?.close()
    })
    return app
  } catch (err) {
    if (app !== undefined) await app.close()
    await acks?.close()
    closeClients()
    await embedded?.close()
    throw err
  }
}
