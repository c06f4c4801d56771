// The floor (`--floor`): the least any gateway that delivers must do on Node. A bare Fastify route
// that parses the body as the baseline does, then forwards every event to the same Kinesis endpoint
// in PutRecords calls of up to 500 records (5 ms linger, as the gateway's default), over plain
// node:http with keep-alive, and answers once the call returns. No validation, no envelope, no ids,
// no SigV4, no AWS SDK, no retries, no metrics, no throttling: what is left is the parsing, the
// socket traffic and the base64 that Kinesis' JSON protocol requires. Comparing the gateway with it
// separates what the gateway adds from what delivery costs at all.
import { Agent, request } from 'node:http'
import Fastify from 'fastify'
import { addBodyHandling, serveForBenchmark } from './child-common.js'

const endpoint = new URL(process.env.KINESIS_ENDPOINT)
const agent = new Agent({ keepAlive: true, maxSockets: 16 })
const LINGER_MS = 5
const MAX_RECORDS = 500

let pending = [] // base64 data of queued records
let waiters = [] // { done, count } of the requests whose records are queued
let timer
let key = 0

function queue (events, done) {
  for (const e of events) pending.push(Buffer.from(JSON.stringify(e) + '\n').toString('base64'))
  waiters.push(done)
  if (pending.length >= MAX_RECORDS) flush()
  else timer ??= setTimeout(flush, LINGER_MS)
}

function flush () {
  clearTimeout(timer)
  timer = undefined
  if (pending.length === 0) return
  const records = pending
  const answer = waiters
  pending = []
  waiters = []
  let body = '{"StreamName":"bench","Records":['
  for (let i = 0; i < records.length; i++) {
    body += (i === 0 ? '{"Data":"' : ',{"Data":"') + records[i] + '","PartitionKey":"' + (key++ % 100000) + '"}'
  }
  body += ']}'
  const req = request({
    agent,
    host: endpoint.hostname,
    port: endpoint.port,
    method: 'POST',
    path: '/',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.PutRecords', 'content-length': Buffer.byteLength(body) }
  }, (res) => {
    res.resume()
    res.on('end', () => { for (const done of answer) done(res.statusCode === 200) })
  })
  req.on('error', () => { for (const done of answer) done(false) })
  req.end(body)
}

const app = Fastify({ logger: false, bodyLimit: 5 * 1024 * 1024 })
addBodyHandling(app)
app.post('/v1/:channel', (request, reply) => {
  const events = Array.isArray(request.body) ? request.body : [request.body]
  queue(events, (ok) => { reply.code(ok ? 200 : 503).send('') })
})
await serveForBenchmark(app)
