import cluster from 'node:cluster'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { pino, type DestinationStream, type LoggerOptions } from 'pino'
import { buildChannelTable, ChannelRegistry } from './channels/channel-registry.js'
import type { GatewayConfig, KinesisConfig } from './config/types.js'
import type { AckDispatcher } from './delivery/ack-modes.js'
import { createDeliveryCore, type DeliveryCore } from './delivery/delivery-core.js'
import type { ProducerPool } from './delivery/producer-pool.js'
import type { ShardPacers } from './delivery/shard-pacers.js'
import type { PutRecordsSender } from './kinesis/sink.js'
import { frontDoorRoutes, registerFrontDoor, withRedaction } from './front-door/front-door.js'
import { clientErrorHandler } from './http/client-error.js'
import { boundedServerFactory } from './http/connection-bounds.js'
import { errorHandler, frameworkErrorHandler, notFoundHandler } from './http/error-handler.js'
import { healthRoutes } from './http/health-routes.js'
import { ingestRoutes } from './http/ingest-route.js'
import { AllowedMethods, schemaRoutes } from './http/schema-routes.js'
import { validateRoute } from './http/validate-route.js'
import { drainWithin } from './ops/drain.js'
import { KinesisReachability } from './ops/kinesis-reachability.js'
import { Readiness } from './ops/readiness.js'
import { ensureStreams } from './kinesis/stream-admin.js'
import { loadConfig } from './config/load-config.js'
import { describeTarget, targetSummary } from './config/kinesis-target.js'
import { DEFAULTS } from './config/limits.js'
import { metricsRoutes, type MetricsEndpoint } from './http/metrics-route.js'
import { decorateRequestFields } from './http/request-fields.js'
import { requestIdOf } from './http/request-id.js'
import { apiDocsRoutes } from './http/api-docs-routes.js'
import { consoleRoutes } from './console/console-routes.js'
import { RejectionRing } from './console/rejection-ring.js'
import { clusterWorkerView, localView, type GatewayView, type WorkerPart } from './ops/gateway-view.js'
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
      /** The whole gateway's figures (in a cluster: every worker's, through the primary). */
      readonly view: GatewayView
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
  // The logger exists before anything else, so the delivery core logs without Fastify.
  const logger = createLogger(options.logger ?? loggerOptions(config.logLevel, config.logging).options)
  const version = await packageVersion()
  // Buffer gauges read the producers at scrape time (after the core below exists).
  const metrics: GatewayMetrics = new GatewayMetrics({ version, producers: () => core.pool.all() })
  const core: DeliveryCore = await createDeliveryCore(config, {
    log: logger,
    metrics,
    shardListFailed: (stream, err) => { reachability.failed(err, `ListShards ${stream} (shard pacing keeps the previous shard list)`) },
    ...(options.send !== undefined ? { send: options.send } : {})
  })
  const { kinesis, admin: adminClient, pool, shards, acks: ackDispatcher } = core
  // Background checks (readiness, shard lists) that fail in an outage: one warning, one line when back.
  const reachability = new KinesisReachability(logger, describeTarget(kinesis))
  let app: FastifyInstance | undefined
  try {
    const quarantine = metrics.quarantineObserver()
    const table = await buildChannelTable(config, pool, quarantine)
    const registry = new ChannelRegistry(table)
    if (kinesis.createStreams) await ensureStreams(adminClient, registry.streams(), kinesis.createdStreamShards)

    app = Fastify({
      loggerInstance: logger,
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
      forceCloseConnections: 'idle',
      // Pipelining, unread answers, header count: what one connection may hold (connection-bounds.ts).
      serverFactory: boundedServerFactory(config.server)
    })
    const log = app.log
    decorateRequestFields(app)
    // Every route's methods, for 405 with Allow on a known path (schema-routes.ts).
    const allowed = new AllowedMethods()
    app.addHook('onRoute', (route) => { allowed.add(route.url, route.method) })
    // Background checks that fail in an outage log one warning, and one line when Kinesis is back.
    const readiness = new Readiness(adminClient, () => registry.streams(), config.readinessRefreshMs, reachability)
    const startVersions = new Set([1, ...[...config.channels.values()].map((c) => c.version)])
    const reloader = new ConfigReloader({
      initial: config,
      load: options.reloadConfig ?? (async () => await loadConfig()),
      registry,
      pool,
      quarantine,
      admin: adminClient,
      kinesis,
      readiness,
      metrics,
      log,
      debounceMs: DEFAULTS.configReloadDebounceMs,
      // Spools are opened (and recovered) at start; a channel cannot switch to one while running.
      check: (next) => [
        ...[...next.channels.values()]
          .filter((c) => c.ack === 'spool' && ackDispatcher.spoolOf(c.stream) === undefined)
          .map((c) => `${next.configFile}: channels.${c.name}.ack: "spool" for stream ${c.stream} needs a spool opened at start. Fix: restart the gateway to apply it`),
        ...[...next.channels.values()]
          .filter((c) => !startVersions.has(c.version))
          .map((c) => `${next.configFile}: channels.${c.name}.version: routes /v${c.version}/ are made at start. Fix: restart the gateway to serve a new version`)
      ]
    })
    await reloader.init()
    for (const name of registry.names()) metrics.prepareChannel(name)
    // The console's ring of rejected requests: filled only on refusals, and only when the console is on.
    const ring = config.console.enabled ? new RejectionRing((name) => registry.get(name) !== undefined) : undefined
    // Set once the front door exists (below); read only when the console or the primary asks.
    let redisState = (): string => 'off'
    const part = async (): Promise<WorkerPart> => {
      const report = readiness.report()
      return {
        metrics: await metrics.registry.getMetricsAsJSON(),
        rejections: ring?.list() ?? [],
        worker: { pid: process.pid, uptimeSeconds: Math.round(process.uptime()), ready: report.ready, draining: report.draining, redis: redisState(), streams: report.streams }
      }
    }
    const view = cluster.isWorker ? clusterWorkerView(metrics.registry, part) : localView(metrics.registry, part)
    const gatewayApp = app
    const consoleOn = config.console.enabled
      ? async (server: FastifyInstance): Promise<void> => {
        await consoleRoutes(server, {
          gateway: gatewayApp,
          view,
          registry,
          version,
          kinesis: targetSummary(kinesis),
          delivery: config.delivery,
          config: config.console
        })
      }
      : undefined
    const metricsEndpoint = metricsRoutes(app, view, metrics.contentType, config.metrics, config.console.listener === 'metrics' ? consoleOn : undefined)
    app.decorate('gateway', {
      config,
      kinesis,
      registry,
      readiness,
      pool,
      version,
      metrics,
      metricsEndpoint,
      view,
      reloader,
      acks: ackDispatcher,
      shards,
      reload: async (trigger?: string) => await reloader.reload(trigger)
    })
    requestObserver(app, metrics, config.logging, ring)

    // Callback-style hooks where nothing is awaited: no promise per request (profiled hot path).
    app.addHook('onRequest', (request, reply, done) => {
      reply.header('x-request-id', request.id)
      done()
    })
    app.setErrorHandler(errorHandler)
    app.setNotFoundHandler(notFoundHandler((path) => allowed.of(path)))
    healthRoutes(app, readiness)
    const frontDoorHooks = await registerFrontDoor(app, config, registry, (channel, clientId) => { metrics.deprecatedRequest(channel, clientId) })
    // Route prefixes /v1, /v2, ...: the versions configured at start (a new one needs a restart).
    const versions = [...new Set([1, ...[...config.channels.values()].map((c) => c.version)])].sort((a, b) => a - b)
    const frontDoor = app.frontDoor
    redisState = frontDoor.sharedState
    const spooledStreams = core.spooledStreams
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
    ingestRoutes(app, registry, ackDispatcher, frontDoorHooks, versions, config.aliases)
    validateRoute(app, registry, frontDoorHooks, versions)
    schemaRoutes(app, registry, frontDoorHooks, frontDoorHooks.keys, versions)
    frontDoorRoutes(app, frontDoorHooks, versions, config.aliases)
    await apiDocsRoutes(app)
    if (consoleOn !== undefined && config.console.listener === 'public') await consoleOn(app)

    app.addHook('onReady', async () => { await Promise.all([readiness.start(), shards.start()]) })
    // While closing, a keep-alive connection whose last request just finished would hold the
    // server open until keepAliveTimeout: close such connections as soon as they turn idle.
    let sweep: NodeJS.Timeout | undefined
    app.addHook('preClose', async () => {
      sweep = setInterval(() => { app?.server.closeIdleConnections() }, 100)
      sweep.unref()
    })
    // Fastify runs onClose after in-flight requests have finished: then flush what is buffered.
    const delivery = core
    app.addHook('onClose', async () => {
      clearInterval(sweep)
      readiness.stop()
      reloader.close()
      await delivery.stop()
      const unsent = await drainWithin(pool, config.shutdown.deadlineMs)
      if (unsent > 0) log.error({ unsent }, 'shutdown deadline passed with records unsent (spooled ones stay on disk)')
      await delivery.close()
    })
    return app
  } catch (err) {
    if (app !== undefined) await app.close()
    else await core.close()
    throw err
  }
}

/** pino from the logger options (false: silent), with API keys redacted; `stream` as Fastify takes it. */
function createLogger (options: FastifyServerOptions['logger']): FastifyBaseLogger {
  if (options === false) return pino({ level: 'silent' })
  if (options === true || options === undefined) return pino(withRedaction({}) as LoggerOptions)
  const { stream, ...rest } = withRedaction(options) as LoggerOptions & { stream?: DestinationStream }
  return stream === undefined ? pino(rest) : pino(rest, stream)
}
