import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { buildIfStale, cleanEnv, run, startServer, type Started } from '../helpers/built-gateway.js'
import { freePort } from '../helpers/kinesis-servers.js'
import { testKinesisClient, waitForRecords } from '../helpers/stream-reader.js'

/**
 * The real entry, as `npm start` runs it (`node dist/server.js`), in embedded mode: no AWS
 * account, no KINESIS_ENDPOINT. The README's curl request must succeed and land in the stream;
 * SIGTERM must end the process cleanly; production without Kinesis settings must refuse to start.
 */

async function waitHealthy (url: string, server: Started, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs
  for (;;) {
    if (server.child.exitCode !== null) throw new Error(`the gateway exited (${server.child.exitCode}):\n${server.output()}`)
    try {
      if ((await fetch(`${url}/healthz`)).ok) return
    } catch { /* not listening yet */ }
    if (Date.now() > until) throw new Error(`the gateway did not start within ${timeoutMs} ms:\n${server.output()}`)
    await sleep(100)
  }
}

/** The README's request, verbatim: with curl when it is installed, else fetch with the same headers and body. */
async function readmeCurl (port: number): Promise<{ status: number, body: string }> {
  const url = `http://localhost:${port}/v1/events`
  const body = '{"key1":"value1", "key2":"value2"}'
  try {
    const { stdout } = await run('curl', ['-s', '-w', '\n%{http_code}', '-d', body, '-H', 'Content-Type: application/json', '-X', 'POST', url])
    const cut = stdout.lastIndexOf('\n')
    return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    // curl -d sends application/x-www-form-urlencoded unless told otherwise; -H overrides it, as here.
    const res = await fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } })
    return { status: res.status, body: await res.text() }
  }
}

await buildIfStale()

t.test('npm start: embedded Kinesis, the README curl succeeds and is readable; SIGTERM exits 0', async (t) => {
  const port = await freePort()
  const kinesisPort = await freePort()
  const server = startServer(cleanEnv({ PORT: String(port), HOST: '127.0.0.1', KINESIS_LOCAL_PORT: String(kinesisPort) }))
  t.teardown(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL') })
  await waitHealthy(`http://127.0.0.1:${port}`, server)

  const res = await readmeCurl(port)
  t.equal(res.status, 200, `the README request succeeds: ${res.body}`)
  const ack = JSON.parse(res.body) as { accepted: number, events: Array<{ id: string, shardId: string, sequenceNumber: string }> }
  t.equal(ack.accepted, 1)

  const reader = testKinesisClient(`http://127.0.0.1:${kinesisPort}`)
  t.teardown(() => reader.destroy())
  const records = await waitForRecords(reader, 'events', 1)
  t.equal(records.length, 1, 'one record in the embedded stream "events"')
  const envelope = JSON.parse(records[0]?.text ?? '{}') as { event_id: string, channel: string, data: unknown }
  t.same(envelope.data, { key1: 'value1', key2: 'value2' })
  t.equal(envelope.event_id, ack.events[0]?.id)
  t.equal(envelope.channel, 'events')
  t.equal(records[0]?.sequenceNumber, ack.events[0]?.sequenceNumber)

  t.match(server.output(), /kinesis-gateway [0-9.]+ started on http:\/\/127\.0\.0\.1:/, 'logs that it started, with version and address')
  t.match(server.output(), `127.0.0.1:${kinesisPort}`, 'logs where the embedded Kinesis server is')
  t.match(server.output(), /kinesis-gateway tail events/, 'and how to read the stream back')

  server.child.kill('SIGTERM')
  const code = await Promise.race([server.exited, sleep(30_000, 'timeout' as const, { ref: false })])
  t.equal(code, 0, 'SIGTERM: exit code 0')
  t.match(server.output(), /shutting down/)
})

t.test('NODE_ENV=production without Kinesis settings refuses to start and says what to set', async (t) => {
  const port = await freePort()
  const server = startServer(cleanEnv({ NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1' }))
  t.teardown(() => { if (server.child.exitCode === null) server.child.kill('SIGKILL') })
  const code = await Promise.race([server.exited, sleep(30_000, 'timeout' as const, { ref: false })])
  t.not(code, 0, 'a non-zero exit')
  t.not(code, 'timeout', 'it exits by itself')
  t.match(server.output(), /AWS_REGION/, 'names AWS_REGION')
  t.match(server.output(), /KINESIS_ENDPOINT/, 'names KINESIS_ENDPOINT')
  t.match(server.output(), /NODE_ENV=production/)
  t.notMatch(server.output(), /kinesis-gateway started/, 'never started')
  await t.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'nothing listens')
})
