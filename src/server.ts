import cluster from 'node:cluster'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import { loadCheckedConfig } from './config/check-configuration.js'
import { ConfigError } from './config/config-error.js'
import { leftEmbeddedWarning } from './config/kinesis-target.js'
import { quietSdkNodeWarning } from './config/load-config.js'
import type { GatewayConfig } from './config/types.js'
import { runPrimary } from './ops/cluster.js'
import { installWorkerSide } from './ops/gateway-view.js'
import { loggerOptions } from './ops/logger.js'
import { nodeSupportNotice } from './ops/node-support.js'
import { explainStartFailure } from './ops/start-failure.js'
import { consoleAddress, startLine, startMessage, tryIt } from './ops/start-line.js'

// Before any Kinesis client exists: the SDK's notice is replaced by one line of ours (below).
const sayNodeNotice = quietSdkNodeWarning()

/** The process entry: load configuration, build the gateway, listen, and shut down gracefully. */
async function main (): Promise<void> {
  const config = await loadCheckedConfig()
  if (config.server.workers > 1 && cluster.isPrimary) {
    process.exitCode = await runPrimary(config)
    return
  }
  // A worker answers the primary's metric requests from its first moment (with nothing until built).
  if (cluster.isWorker) installWorkerSide()
  let app: FastifyInstance
  try {
    app = await buildApp(config)
  } catch (err) {
    throw new Started(err, config)
  }
  const { kinesis, registry } = app.gateway
  if (loggerOptions(config.logLevel, config.logging).prettyMissing) {
    app.log.warn('LOG_FORMAT asks for pretty logs but pino-pretty is not installed: logging JSON')
  }

  // Live configuration: SIGHUP or an edit of the configuration file or a schema reloads the channels.
  process.on('SIGHUP', () => { app.gateway.reload('SIGHUP').catch((err: unknown) => app.log.error({ err }, 'reload failed')) })
  app.gateway.reloader.watch()
  // In a cluster the primary turns SIGINT into SIGTERM for every worker; a worker ignores the
  // terminal's SIGINT, so that one Ctrl-C is not taken as a second signal (which forces exit).
  if (cluster.isWorker) process.on('SIGINT', () => {})
  // close-with-grace shuts down on SIGHUP by default; here SIGHUP reloads the configuration instead.
  const skip: Array<'SIGHUP' | 'SIGINT'> = cluster.isWorker ? ['SIGHUP', 'SIGINT'] : ['SIGHUP']
  // Drain (docs/reliability.md): /readyz turns 503 at once; requests are still served for graceMs
  // (load balancers deregister the instance); then new requests get 503, in-flight ones finish
  // (within the record deadline), and buffered records are flushed within deadlineMs. The timer
  // below is the last resort: exit 1 if all that has not finished.
  const { graceMs, deadlineMs } = config.shutdown
  const delay = graceMs + config.delivery.recordDeadlineMs + deadlineMs + 5_000
  // Whatever ends the process, its last line says why and with which exit code.
  closeWithGrace({
    delay,
    skip,
    onTimeout: () => { app.log.error({ exitCode: 1 }, `kinesis-gateway stopped: shutdown took longer than ${delay} ms (exit 1)`) },
    onSecondSignal: (signal) => { app.log.error({ signal, exitCode: 1 }, `kinesis-gateway stopped at once: a second ${signal} during shutdown (exit 1)`) },
    onSecondError: (err) => { app.log.error({ err, exitCode: 1 }, 'kinesis-gateway stopped at once: a second error during shutdown (exit 1)') }
  }, async ({ signal, err }) => {
    app.gateway.readiness.startDraining()
    if (err !== undefined) {
      app.log.error({ err }, 'shutting down after an error')
    } else if (signal !== undefined) {
      app.log.info({ signal, graceMs }, 'shutting down: not ready any more, serving until the grace period ends')
      if (graceMs > 0) await sleep(graceMs)
      app.log.info('shutting down: draining in-flight requests and buffered records')
    }
    await app.close()
    if (err !== undefined) app.log.error({ exitCode: 1 }, `kinesis-gateway stopped after an error: ${err.message} (exit 1)`)
    else app.log.info({ signal, exitCode: 0 }, `kinesis-gateway stopped: ${signal ?? 'nothing left to do'}, requests finished and buffered records flushed (exit 0)`)
  })

  let address: string
  try {
    address = await app.listen({ port: config.server.port, host: config.server.host })
  } catch (err) {
    await app.close()
    throw new Started(err, config)
  }
  app.log.info(startLine(app, address), startMessage(app.gateway.version, address, kinesis))
  const notice = sayNodeNotice ? nodeSupportNotice() : undefined
  if (notice !== undefined) app.log.warn(notice)
  const leftEmbedded = leftEmbeddedWarning(kinesis, config.production)
  if (leftEmbedded !== undefined) app.log.warn(leftEmbedded)

  if (kinesis.mode === 'embedded') {
    const hint = tryIt({
      kinesis,
      configFile: config.configFile,
      cwd: process.cwd(),
      channel: registry.names()[0] ?? 'events',
      host: config.server.host,
      port: (app.server.address() as AddressInfo).port
    })
    const consoleUrl = consoleAddress(app, address)
    app.log.info(`embedded Kinesis server at ${kinesis.endpoint ?? ''} (in memory, development only). Try, from this folder:\n` +
      `  ${hint.curl}\n` +
      `  ${hint.tail}    # read the stream back, decoded` +
      (consoleUrl !== undefined ? `\n  open ${consoleUrl.replace(/\/\/(0\.0\.0\.0|127\.0\.0\.1|\[::1?\])(?=:)/, '//localhost')}    # the operator console: live rates, rejections, a form to try events` : ''))
  }
}

/** A failure after the configuration was read: explained with the settings it names. */
class Started extends Error {
  constructor (readonly original: unknown, readonly config: GatewayConfig) {
    super('start failed')
  }
}

main().catch((err: unknown) => {
  const cause = err instanceof Started ? err.original : err
  const explained = err instanceof Started ? explainStartFailure(cause, err.config) : undefined
  if (explained !== undefined) {
    process.stderr.write(`kinesis-gateway: cannot start: ${explained} (exit 1)\n`)
  } else {
    process.stderr.write(cause instanceof ConfigError
      ? `kinesis-gateway: ${cause.message}\n`
      : `kinesis-gateway: failed to start: ${(cause as Error).stack ?? String(cause)}\n`)
    process.stderr.write('kinesis-gateway: not started (exit 1)\n')
  }
  process.exit(1)
})
