import { createHash, randomUUID } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { post, startGateway, uniqueStream, type RunningGateway } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { cidCounts } from '../helpers/load.js'
import { AnswerSplitter, pipeline, rawPost } from '../helpers/raw-http.js'
import { readAllRecords, testKinesisClient } from '../helpers/stream-reader.js'

// What one connection may hold (src/http/connection-bounds.ts), over raw sockets against the real
// gateway with kinesalite behind it: header lines, requests pipelined unanswered, answers left
// unread. The slow-reader attack on a gateway process, with its memory measured, is
// slow-readers.test.ts.

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

const sha = (key: string): string => createHash('sha256').update(key).digest('hex')

async function connections (gw: RunningGateway): Promise<number> {
  return await new Promise((resolve, reject) => { gw.app.server.getConnections((err, n) => { if (err !== null) reject(err); else resolve(n) }) })
}

/** Polls `condition` until it holds or `timeoutMs` passes; returns whether it held. */
async function waitFor (condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await condition()) return true
    await sleep(50)
  }
  return await condition()
}

t.test('more header lines than server.maxHeaders: 431 problem, under the size limit, even where Node would drop the rest', async (t) => {
  const stream = uniqueStream('headers')
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { orders: { stream, access: 'api-key' } },
    extra: { apiKeys: { partner: { sha256: sha('late-key-123') } } }
  })
  const filler = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-f${i}`, '1']))
  // 1,100 short lines (about 9 KiB, under the 16 KiB limit): Node keeps the first 1,000, so a key
  // sent last vanished and the request was taken as one without a key (401).
  const many = await pipeline(gw.url, [rawPost('/v1/orders', '{"n":1}', { ...filler(1_099), 'x-api-key': 'late-key-123' })])
  t.equal(many.answers[0]?.status, 431, 'refused whole, not read with a header missing')
  const problem = JSON.parse(many.answers[0]?.body ?? '{}') as Record<string, unknown>
  t.match(problem, { code: 'GW_ERR_TOO_MANY_HEADERS', status: 431, instance: '/v1/orders', detail: /more than 100 header lines/ })
  t.type(problem.requestId, 'string')
  t.match(many.answers[0]?.headers['content-type'], /^application\/problem\+json/)

  // 101 lines is one too many; 100 pass. The connection stays usable after the 431.
  const twice = await pipeline(gw.url, [
    rawPost('/v1/orders', '{"n":2}', { ...filler(97), 'x-api-key': 'late-key-123' }),
    rawPost('/v1/orders', '{"n":3}', { ...filler(96), 'x-api-key': 'late-key-123' })
  ])
  t.same(twice.answers.map((a) => a.status), [431, 200], '101 header lines (with Host, Content-Type and Content-Length): 431; 100: accepted')
  t.notOk(twice.closedByServer)
  const written = (await readAllRecords(reader, stream)).map((r) => (JSON.parse(r.text) as { data: { n: number } }).data.n)
  t.same(written, [3], 'only the accepted request was written')
})

t.test('more requests pipelined unanswered than server.maxPipelinedRequests: the first are answered, then 503 and close, the rest never run', async (t) => {
  const stream = uniqueStream('pipelined')
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream } }, extra: { server: { maxPipelinedRequests: 4 } } })
  const cids = Array.from({ length: 12 }, () => randomUUID())
  const res = await pipeline(gw.url, cids.map((cid) => rawPost('/v1/events', JSON.stringify({ cid }))))
  t.same(res.answers.map((a) => a.status), [200, 200, 200, 200, 503], 'four answered, the fifth told why, then nothing')
  t.match(JSON.parse(res.answers[4]?.body ?? '{}'), { code: 'GW_ERR_UNAVAILABLE', detail: /More than 4 requests were waiting/ })
  t.equal(res.answers[4]?.headers.connection, 'close')
  t.ok(res.closedByServer, 'the gateway closed the connection')
  const counts = cidCounts(await readAllRecords(reader, stream))
  t.same([...counts.keys()].sort(), cids.slice(0, 4).sort(), 'exactly the answered requests were written, once each')

  // A client that keeps within the limit is served on one connection, round after round.
  const socket = await rounds(gw.url, 3, 4)
  t.same(socket.statuses, Array(12).fill(200))
  t.notOk(socket.closed, 'the connection stays open')
})

/** `count` rounds of `perRound` pipelined requests on one connection, each round sent once the previous one is answered. */
async function rounds (url: string, count: number, perRound: number): Promise<{ statuses: number[], closed: boolean }> {
  const { port } = new URL(url)
  const socket: Socket = connect(Number(port), '127.0.0.1')
  const split = new AnswerSplitter()
  let closed = false
  socket.on('close', () => { closed = true })
  socket.on('data', (d: Buffer) => { split.push(d) })
  await new Promise<void>((resolve) => socket.once('connect', () => { resolve() }))
  for (let r = 0; r < count; r++) {
    socket.write(Array.from({ length: perRound }, () => rawPost('/v1/events', JSON.stringify({ round: r }))).join(''))
    const want = (r + 1) * perRound
    if (!await waitFor(async () => split.answers.length >= want || closed, 10_000)) throw new Error(`round ${r}: ${split.answers.length} answers`)
  }
  const wasClosed = closed
  socket.destroy()
  return { statuses: split.answers.map((a) => a.status), closed: wasClosed }
}

t.test('answers left unread: no further request is started, and the connection is closed after server.writeTimeoutMs', async (t) => {
  const stream = uniqueStream('unread')
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream } },
    // Long URLs make big answers (the 404 quotes the URL twice): 8 of them fill the kernel's
    // socket buffers (about 4 MB on loopback) and queue the rest in the process.
    extra: { server: { maxHeaderBytes: 1024 * 1024, writeTimeoutMs: 1000 } }
  })
  const path = '/nothing/' + 'u'.repeat(480 * 1024)
  const cid = randomUUID()
  const { port } = new URL(gw.url)
  const socket = connect(Number(port), '127.0.0.1')
  socket.pause()
  socket.on('error', () => {})
  t.teardown(() => { socket.destroy() })
  await new Promise<void>((resolve) => socket.once('connect', () => { resolve() }))
  const start = Date.now()
  socket.write(Array.from({ length: 8 }, () => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`).join('') + rawPost('/v1/events', JSON.stringify({ cid })))
  t.ok(await waitFor(async () => (await connections(gw)) === 0, 15_000), 'the gateway closed the connection that does not read')
  const took = Date.now() - start
  t.ok(took >= 1000, `not before the write timeout (${took} ms)`)

  // Reading now: the answers the kernel held arrive, then the end; the POST was never answered.
  const received = await new Promise<string>((resolve) => {
    let text = ''
    socket.on('data', (d: Buffer) => { text += d.toString('latin1') })
    socket.on('close', () => { resolve(text) })
    socket.resume()
  })
  const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))
  t.ok(statuses.length < 8 && statuses.every((s) => s === 404), `only some of the 404s were delivered (${statuses.length})`)
  t.same([...cidCounts(await readAllRecords(reader, stream)).keys()], [], 'the request behind the unread answers was never started: nothing written')
})

t.test('a slow reader that keeps reading is not cut off by the write timeout', async (t) => {
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { events: { stream: uniqueStream('slow') } },
    extra: { server: { maxHeaderBytes: 1024 * 1024, writeTimeoutMs: 2000 } }
  })
  const path = '/nothing/' + 'u'.repeat(480 * 1024)
  const { port } = new URL(gw.url)
  const socket = connect(Number(port), '127.0.0.1')
  socket.on('error', () => {})
  t.teardown(() => { socket.destroy() })
  await new Promise<void>((resolve) => socket.once('connect', () => { resolve() }))
  // Reads in bursts of 512 KiB with a pause of 100 ms after each (about 5 MB/s): the 7.7 MB of
  // answers take longer than the first write timeout, and each answer is taken within one.
  const statuses = await new Promise<number[]>((resolve, reject) => {
    let text = ''
    let burst = 0
    const timer = setTimeout(() => { reject(new Error('not all answers within 30 s')) }, 30_000)
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1')
      burst += d.length
      const found = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))
      if (found.length === 8) { clearTimeout(timer); resolve(found); return }
      if (burst >= 512 * 1024) {
        burst = 0
        socket.pause()
        setTimeout(() => socket.resume(), 100)
      }
    })
    socket.on('close', () => { clearTimeout(timer); reject(new Error(`closed after ${[...text.matchAll(/HTTP\/1\.1 /g)].length} answers`)) })
    socket.write(Array.from({ length: 8 }, () => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`).join(''))
  })
  t.same(statuses, Array(8).fill(404), 'every answer delivered')
  t.equal((await post(`${gw.url}/v1/events`, '{"after":1}')).status, 200)
})
