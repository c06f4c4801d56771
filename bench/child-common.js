// What the bare servers of the benchmark (baseline-child.js, forward-child.js) share: the body
// handling of a plain Fastify app (gzip, NDJSON), and the IPC protocol with bench/run.js (ready with
// the address; SIGTERM). Their CPU and memory are read from /proc by run.js (bench/proc-stats.js).
import { createGunzip } from 'node:zlib'

/** Content-Encoding: gzip inflated as it streams in, and application/x-ndjson parsed line by line. */
export function addBodyHandling (app) {
  app.addHook('preParsing', async (request, _reply, payload) => {
    if (request.headers['content-encoding'] !== 'gzip') return payload
    const inflater = createGunzip()
    // Fastify checks content-length against the bytes received, not the inflated ones.
    inflater.receivedEncodedLength = 0
    payload.on('data', (chunk) => { inflater.receivedEncodedLength += chunk.length })
    return payload.pipe(inflater)
  })
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_req, body, done) => {
    try {
      const events = []
      for (const line of body.split('\n')) if (line !== '') events.push(JSON.parse(line))
      done(null, events)
    } catch (err) { done(err, undefined) }
  })
}

/** Listens on a free loopback port, tells the parent, and closes on SIGTERM. */
export async function serveForBenchmark (app) {
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  process.on('SIGTERM', async () => { await app.close(); process.exit(0) })
  process.send({ ready: address })
}
