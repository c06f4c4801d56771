import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import type { Teardown } from './gateway.js'
import { startKinesalite, type KinesisServer } from './kinesis-servers.js'
import { testKinesisClient } from './stream-reader.js'

/**
 * A fault-injecting HTTP proxy in front of a Kinesis-API server (kinesalite, kinesis-local).
 *
 * The gateway's SDK talks to the proxy (KINESIS_ENDPOINT = proxy.endpoint). The AWS SDK speaks
 * awsJson1_1: every call is a POST with `X-Amz-Target: Kinesis_20131202.<Operation>` and a JSON
 * body (PutRecords data blobs are base64). Faults apply to PutRecords only, except the outage,
 * which breaks every connection. Each fault really happens:
 * - per-record failures remove the chosen records from the forwarded request and splice failure
 *   entries into the answer at their indices, so a failed record is truly not written;
 * - throttling and 500s answer without forwarding (nothing written);
 * - a dropped answer forwards the call (the records are written) and then resets the client's
 *   socket, so the gateway cannot know: the only case where a retry may duplicate records.
 * The emulators do not verify SigV4 signatures, so rewriting a body does not break the call.
 */

export interface FaultPlan {
  /** Fraction (0..1) of the records of each PutRecords call answered as failed and not written. */
  recordFailureRate?: number
  /** ErrorCode of those per-record failures. */
  recordErrorCode?: 'ProvisionedThroughputExceededException' | 'InternalFailure'
  /** Fraction of PutRecords calls refused whole with 400 and this throttling error. */
  throttleRate?: number
  throttleCode?: 'ProvisionedThroughputExceededException' | 'LimitExceededException'
  /** Fraction of PutRecords calls answered 500 InternalFailure (nothing written). */
  internalErrorRate?: number
  /** Fraction of PutRecords calls forwarded (written) whose answer is then dropped (socket reset). */
  dropAnswerRate?: number
  /** Delay added before forwarding each PutRecords call. */
  latencyMs?: number
}

export interface FaultCounters {
  /** PutRecords calls that reached the proxy. */
  putRecordsCalls: number
  /** PutRecords records forwarded to the emulator (written unless the emulator refused them). */
  recordsForwarded: number
  /** Records answered as failed (removed from the forwarded call). */
  recordsFailed: number
  callsThrottled: number
  calls500: number
  /** Calls forwarded, then answered with a socket reset. */
  answersDropped: number
  /** Records of those calls: written, yet the gateway was not told. */
  recordsInDroppedAnswers: number
  /** Connections reset during an outage. */
  connectionsReset: number
  /** Other calls (CreateStream, ListShards, ...) passed through untouched. */
  otherCalls: number
}

export interface FaultProxy {
  readonly endpoint: string
  readonly counters: FaultCounters
  /** Replaces the fault plan (takes effect for the next call). */
  setPlan (plan: FaultPlan): void
  /** Resets every connection, open and new, for `ms` milliseconds. */
  outage (ms: number): void
  /** Ends an outage early. */
  endOutage (): void
  resetCounters (): void
  close (): Promise<void>
}

interface PutRecordsEntry { Data: string, PartitionKey: string, ExplicitHashKey?: string }
interface PutRecordsBody { StreamName?: string, StreamARN?: string, Records: PutRecordsEntry[] }
interface ResultEntry { SequenceNumber?: string, ShardId?: string, ErrorCode?: string, ErrorMessage?: string }
interface PutRecordsAnswer { FailedRecordCount?: number, Records: ResultEntry[], EncryptionType?: string }

const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1'

function zeroCounters (): FaultCounters {
  return {
    putRecordsCalls: 0,
    recordsForwarded: 0,
    recordsFailed: 0,
    callsThrottled: 0,
    calls500: 0,
    answersDropped: 0,
    recordsInDroppedAnswers: 0,
    connectionsReset: 0,
    otherCalls: 0
  }
}

/** A small seeded PRNG (mulberry32) so a failing run can be replayed with the same seed. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export async function startFaultProxy (upstream: string, options: { seed?: number } = {}): Promise<FaultProxy> {
  const target = new URL(upstream)
  const agent = new Agent({ keepAlive: true, maxSockets: 64 })
  const random = seededRandom(options.seed ?? 1)
  let plan: FaultPlan = {}
  let outageUntil = 0
  const counters = zeroCounters()
  const sockets = new Set<Socket>()
  /** Records of PutRecords calls forwarded and not yet answered, by client socket. */
  const inFlight = new Map<Socket, number>()

  const inOutage = (): boolean => Date.now() < outageUntil
  // Call-level faults are spread evenly (every 1/rate-th call, error diffusion) rather than drawn at
  // random, so even a short run with few PutRecords calls sees them; record-level ones are random.
  const debt = { throttle: 0.5, internal: 0.5, drop: 0.5 }
  const chance = (kind: keyof typeof debt, rate: number | undefined): boolean => {
    if (rate === undefined || rate <= 0) return false
    debt[kind] += rate
    if (debt[kind] < 1) return false
    debt[kind] -= 1
    return true
  }

  async function forwardRecords (req: IncomingMessage, body: Buffer, records: number): Promise<{ status: number, headers: IncomingHttpHeaders, body: Buffer }> {
    inFlight.set(req.socket, records)
    try {
      return await forward(req, body)
    } finally {
      inFlight.delete(req.socket)
    }
  }

  function forward (req: IncomingMessage, body: Buffer): Promise<{ status: number, headers: IncomingHttpHeaders, body: Buffer }> {
    const headers: IncomingHttpHeaders = { ...req.headers, host: target.host, 'content-length': String(body.length) }
    delete headers.connection
    return new Promise((resolve, reject) => {
      const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }))
        res.on('error', reject)
      })
      up.on('error', reject)
      up.end(body)
    })
  }

  function reply (res: ServerResponse, status: number, headers: IncomingHttpHeaders, body: Buffer): void {
    const out: Record<string, string> = {}
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined || k === 'connection' || k === 'transfer-encoding' || k === 'keep-alive') continue
      out[k] = Array.isArray(v) ? v.join(', ') : v
    }
    out['content-length'] = String(body.length)
    res.writeHead(status, out)
    res.end(body)
  }

  function awsError (res: ServerResponse, status: number, type: string, message: string): void {
    reply(res, status, { 'content-type': JSON_CONTENT_TYPE, 'x-amzn-requestid': 'fault-proxy' },
      Buffer.from(JSON.stringify({ __type: type, message })))
  }

  async function handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks)
    if (inOutage()) { resetSocket(req.socket); return }
    const op = String(req.headers['x-amz-target'] ?? '').split('.')[1]
    if (op !== 'PutRecords') {
      counters.otherCalls++
      const up = await forward(req, body)
      reply(res, up.status, up.headers, up.body)
      return
    }

    counters.putRecordsCalls++
    const p = plan
    if (p.latencyMs !== undefined && p.latencyMs > 0) await sleep(p.latencyMs)
    if (inOutage()) { resetSocket(req.socket); return }
    if (chance('throttle', p.throttleRate)) {
      counters.callsThrottled++
      const code = p.throttleCode ?? 'ProvisionedThroughputExceededException'
      awsError(res, 400, code, code === 'LimitExceededException' ? 'Rate exceeded for stream (injected)' : 'Rate exceeded for shard (injected)')
      return
    }
    if (chance('internal', p.internalErrorRate)) {
      counters.calls500++
      awsError(res, 500, 'InternalFailure', 'injected internal failure')
      return
    }

    const call = JSON.parse(body.toString('utf8')) as PutRecordsBody
    const total = call.Records.length
    const failed = new Array<boolean>(total).fill(false)
    let failCount = 0
    if (p.recordFailureRate !== undefined && p.recordFailureRate > 0) {
      for (let i = 0; i < total; i++) {
        if (random() < p.recordFailureRate) { failed[i] = true; failCount++ }
      }
    }
    const kept = failCount === 0 ? call.Records : call.Records.filter((_, i) => failed[i] !== true)
    let upstreamAnswer: PutRecordsAnswer = { FailedRecordCount: 0, Records: [] }
    let upHeaders: IncomingHttpHeaders = { 'content-type': JSON_CONTENT_TYPE }
    if (kept.length > 0) {
      const up = await forwardRecords(req, failCount === 0 ? body : Buffer.from(JSON.stringify({ ...call, Records: kept })), kept.length)
      if (req.socket.destroyed) return
      if (up.status !== 200) { reply(res, up.status, up.headers, up.body); return }
      counters.recordsForwarded += kept.length
      upHeaders = up.headers
      if (failCount === 0) {
        if (chance('drop', p.dropAnswerRate)) {
          counters.answersDropped++
          counters.recordsInDroppedAnswers += kept.length
          resetSocket(req.socket)
          return
        }
        reply(res, 200, up.headers, up.body)
        return
      }
      upstreamAnswer = JSON.parse(up.body.toString('utf8')) as PutRecordsAnswer
    }

    // Splice the injected failures back in at their original indices.
    counters.recordsFailed += failCount
    const code = p.recordErrorCode ?? 'ProvisionedThroughputExceededException'
    const message = code === 'InternalFailure' ? 'Internal service failure (injected)' : 'Rate exceeded for shard (injected)'
    const merged: ResultEntry[] = new Array<ResultEntry>(total)
    let j = 0
    for (let i = 0; i < total; i++) {
      merged[i] = failed[i] === true ? { ErrorCode: code, ErrorMessage: message } : (upstreamAnswer.Records[j++] ?? { ErrorCode: 'InternalFailure', ErrorMessage: 'missing upstream entry' })
    }
    const answer: PutRecordsAnswer = { ...upstreamAnswer, FailedRecordCount: (upstreamAnswer.FailedRecordCount ?? 0) + failCount, Records: merged }
    if (kept.length > 0 && chance('drop', p.dropAnswerRate)) {
      counters.answersDropped++
      counters.recordsInDroppedAnswers += kept.length
      resetSocket(req.socket)
      return
    }
    reply(res, 200, upHeaders, Buffer.from(JSON.stringify(answer)))
  }

  function resetSocket (socket: Socket): void {
    counters.connectionsReset++
    if (!socket.destroyed) socket.resetAndDestroy()
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => { if (!req.socket.destroyed) req.socket.destroy() })
  })
  server.on('connection', (socket: Socket) => {
    if (inOutage()) {
      counters.connectionsReset++
      socket.resetAndDestroy()
      return
    }
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    endpoint: `http://127.0.0.1:${port}`,
    counters,
    setPlan (next) {
      plan = { ...next }
      debt.throttle = debt.internal = debt.drop = 0.5
    },
    outage (ms) {
      outageUntil = Date.now() + ms
      for (const s of sockets) {
        // A call already forwarded is written, but its answer is now lost.
        const records = inFlight.get(s)
        if (records !== undefined) {
          counters.answersDropped++
          counters.recordsInDroppedAnswers += records
        }
        resetSocket(s)
      }
    },
    endOutage () { outageUntil = 0 },
    resetCounters () { Object.assign(counters, zeroCounters()) },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
      agent.destroy()
    })
  }
}

/** kinesalite behind a fault proxy, and a client that reads kinesalite directly (past the faults). */
export interface FaultyKinesis {
  readonly kinesis: KinesisServer
  readonly proxy: FaultProxy
  readonly reader: KinesisClient
}

/** Starts the three a fault test needs; all are closed at the test's teardown. */
export async function startFaultyKinesis (t: Teardown, options: { seed?: number } = {}): Promise<FaultyKinesis> {
  const kinesis = await startKinesalite()
  t.teardown(() => kinesis.close())
  const proxy = await startFaultProxy(kinesis.endpoint, options)
  t.teardown(() => proxy.close())
  const reader = testKinesisClient(kinesis.endpoint)
  t.teardown(() => reader.destroy())
  return { kinesis, proxy, reader }
}
