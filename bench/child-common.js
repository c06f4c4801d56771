// What the bare servers of the benchmark (baseline-child.js, forward-child.js) share: the NDJSON
// parser, and the IPC protocol with bench/run.js (ready with the address; CPU and memory on ask).

/** application/x-ndjson parsed line by line, as plainly as a bare Fastify app would. */
export function addNdjsonParser (app) {
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_req, body, done) => {
    try {
      const events = []
      for (const line of body.split('\n')) if (line !== '') events.push(JSON.parse(line))
      done(null, events)
    } catch (err) { done(err, undefined) }
  })
}

/** Listens on a free loopback port, then answers the parent's 'stats' and SIGTERM. */
export async function serveForBenchmark (app) {
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  process.on('message', (msg) => {
    if (msg === 'stats') {
      const cpu = process.cpuUsage()
      process.send({ stats: { cpuMicros: cpu.user + cpu.system, rss: process.memoryUsage.rss(), maxRss: process.resourceUsage().maxRSS * 1024 } })
    }
  })
  process.on('SIGTERM', async () => { await app.close(); process.exit(0) })
  process.send({ ready: address })
}
