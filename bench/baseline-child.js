// The baseline: a bare Fastify POST route that parses the body (JSON, NDJSON line by line, gzip)
// and answers 202. What Node and Fastify cost at all, on the same machine, in the same run.
import Fastify from 'fastify'
import { addBodyHandling, serveForBenchmark } from './child-common.js'

const app = Fastify({ logger: false, bodyLimit: 5 * 1024 * 1024 })
addBodyHandling(app)
app.post('/v1/:channel', async (_request, reply) => {
  reply.code(202)
  return ''
})
await serveForBenchmark(app)
