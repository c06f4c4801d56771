import cluster from 'node:cluster'
import { setTimeout as sleep } from 'node:timers/promises'
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError } from './config/config-error.js'
import { loadConfig } from './config/load-config.js'
import { runPrimary } from './ops/cluster.js'
import { loggerOptions } from './ops/logger.js'
import { startLine } from './ops/start-line.js'

/** The process entry: load configuration, build the gateway, listen, and shut down gracefully. */
async function main (): Promise<void> {
  const config = await loadConfig()
  if (config.server.workers > 1 && cluster.isPrimary) {
    process.exitCode = await runPrimary(config)
    return
  }
  const app = await buildApp(config)
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
  closeWithGrace({ delay: graceMs + config.delivery.recordDeadlineMs + deadlineMs + 5_000, skip }, async ({ signal, err }) => {
    app.gateway.readiness.startDraining()
    if (err !== undefined) {
      app.log.error({ err }, 'shutting down after an error')
    } else {
      app.log.info({ signal, graceMs }, 'shutting down: not ready any more, serving until the grace period ends')
      if (graceMs > 0) await sleep(graceMs)
      app.log.info('shutting down: draining in-flight requests and buffered records')
    }
    await app.close()
  })

  const address = await app.listen({ port: config.server.port, host: config.server.host })
  app.log.info(startLine(app, address), `kinesis-gateway ${app.gateway.version} started on ${address}`)

  if (kinesis.mode === 'embedded') {
    const first = registry.names()[0] ?? 'events'
    app.log.info(`embedded Kinesis server at ${kinesis.endpoint ?? ''} (in memory, development only). Try:\n` +
      `  curl -d '{"key1":"value1"}' -H 'Content-Type: application/json' http://localhost:${config.server.port}/v1/${first}\n` +
      `  npx kinesis-gateway tail ${first}    # read the stream back, decoded`)
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`kinesis-gateway: ${err.message}\n`)
  } else {
    process.stderr.write(`kinesis-gateway: failed to start: ${(err as Error).stack ?? String(err)}\n`)
  }
  process.exit(1)
})
