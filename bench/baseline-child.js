// The baseline: a bare Fastify POST route that parses the body (JSON, or NDJSON line by line)
// and answers 202. What Node and Fastify cost at all, on the same machine, in the same run.
import Fastify from 'fastify'

const app = Fastify({ logger: false, bodyLimit: 5 * 1024 * 1024 })
app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_req, body, done) => {
  try {
    const events = []
    for (const line of body.split('\n')) if (line !== '') events.push(JSON.parse(line))
    done(null, events)
  } catch (err) { done(err, undefined) }
})
app.post('/v1/:channel', async (_request, reply) => {
  reply.code(202)
  return ''
})
const address = await app.listen({ port: 0, host: '127.0.0.1' })
process.on('message', (msg) => {
  if (msg === 'stats') {
    const cpu = process.cpuUsage()
    process.send({ stats: { cpuMicros: cpu.user + cpu.system, rss: process.memoryUsage.rss(), maxRss: process.resourceUsage().maxRSS * 1024 } })
  }
})
process.on('SIGTERM', async () => { await app.close(); process.exit(0) })
process.send({ ready: address })
