import { setTimeout as sleep } from 'node:timers/promises'
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError } from './config/config-error.js'
import { loadConfig } from './config/load-config.js'

/** The process entry: load configuration, build the gateway, listen, and shut down gracefully. */
async function main (): Promise<void> {
  const config = await loadConfig()
  const app = await buildApp(config)
  const { kinesis, registry } = app.gateway

  // Drain (docs/reliability.md): /readyz turns 503 at once; requests are still served for graceMs
  // (load balancers deregister the instance); then new requests get 503, in-flight ones finish
  // (within the record deadline), and buffered records are flushed within deadlineMs. The timer
  // below is the last resort: exit 1 if all that has not finished.
  const { graceMs, deadlineMs } = config.shutdown
  closeWithGrace({ delay: graceMs + config.delivery.recordDeadlineMs + deadlineMs + 5_000 }, async ({ signal, err }) => {
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
  app.log.info({
    address,
    configFile: config.configFile,
    kinesis: { mode: kinesis.mode, endpoint: kinesis.endpoint ?? `AWS ${kinesis.region}`, region: kinesis.region },
    channels: Object.fromEntries([...config.channels.values()].map((c) => [c.name, c.stream])),
    limits: { bodyLimitBytes: config.server.bodyLimitBytes, lingerMs: config.delivery.lingerMs }
  }, 'kinesis-gateway started')
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
