import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type { KinesisClient } from '@aws-sdk/client-kinesis'
import { SignatureV4 } from '@smithy/signature-v4'
import type { KinesisConfig } from '../config/types.js'
import { parsePutRecordsAnswer } from './put-records-answer.js'
import { putRecordsBody } from './put-records-body.js'
import { KINESIS_LIMITS, type OutgoingRecord, type PutAnswer, type Sink } from './sink.js'

/** Where calls go, resolved once (the SDK's endpoint rules for AWS, the configured URL otherwise). */
interface Target {
  readonly https: boolean
  readonly hostname: string
  readonly port: number
  /** The Host header, as signed. */
  readonly host: string
}

/**
 * A whole-call failure, shaped as the SDK's service errors are (name/code, $metadata), so that
 * retry-policy.ts classifies ours and the SDK's the same way.
 */
export class KinesisCallError extends Error {
  readonly code: string
  readonly $metadata: { readonly httpStatusCode?: number }
  constructor (code: string, message: string, httpStatusCode?: number) {
    super(message)
    this.name = code
    this.code = code
    this.$metadata = httpStatusCode === undefined ? {} : { httpStatusCode }
  }
}

const CONTENT_TYPE = 'application/x-amz-json-1.1'
const TARGET = 'Kinesis_20131202.PutRecords'
/** Error answers carry the type as "com.amazonaws.kinesis#ResourceNotFoundException" or bare. */
const ERROR_TYPE = /(?:^|#)([A-Za-z0-9]+)(?::|$)/

/**
 * The data path's PutRecords call, without the SDK's per-call machinery.
 *
 * Why: profiled under 100-event batches, the SDK spent ~1 ms of CPU per PutRecords call on its
 * middleware stack, endpoint rules, retry strategy and serde, against ~0.4 ms for the same body
 * over node:http. Here a call is: the body written into one Buffer (put-records-body.ts), a SigV4
 * signature from the SDK's own signer package (@smithy/signature-v4, which caches the derived
 * signing key per day), one keep-alive HTTP/1.1 request, and an answer read without a full parse
 * when nothing failed (put-records-answer.ts). What stays the SDK's: the credential provider
 * chain (the client's own, memoized and refreshed), its SHA-256, and its endpoint rules for AWS.
 * The SDK client itself stays for the control plane (ListShards, DescribeStream, CreateStream).
 *
 * Every call is bounded: `connectTimeoutMs` to get a socket, and the whole call (connect, send,
 * answer) within `requestTimeoutMs` or the caller's tighter budget (the earliest record deadline),
 * so a hung endpoint costs a timeout and a retry, never a request held past its deadline.
 */
export function createKinesisSink (config: KinesisConfig, client: KinesisClient): Sink {
  const agentOptions = { keepAlive: true, maxSockets: config.maxSockets, keepAliveMsecs: 1000 }
  const httpAgent = new HttpAgent(agentOptions)
  const httpsAgent = new HttpsAgent(agentOptions)
  const resolved = client.config
  let forceRefresh = false
  const signer = new SignatureV4({
    service: 'kinesis',
    region: resolved.region,
    sha256: resolved.sha256,
    // The client's provider: static local credentials, or the default chain (memoized; it
    // refreshes temporary credentials before they expire, and on demand after ExpiredToken).
    credentials: async () => {
      const force = forceRefresh
      forceRefresh = false
      return await resolved.credentials(force ? { forceRefresh: true } : undefined)
    }
  })
  let target: Target | undefined

  const put = async (stream: string, records: readonly OutgoingRecord[], budgetMs?: number): Promise<PutAnswer> => {
    const started = Date.now()
    const timeoutMs = budgetMs === undefined ? config.requestTimeoutMs : Math.max(1, Math.min(config.requestTimeoutMs, budgetMs))
    target ??= await resolveTarget(config, client)
    const body = putRecordsBody(stream, records)
    const signed = await signer.sign({
      method: 'POST',
      protocol: target.https ? 'https:' : 'http:',
      hostname: target.hostname,
      port: target.port,
      path: '/',
      query: {},
      headers: {
        host: target.host,
        'content-type': CONTENT_TYPE,
        'x-amz-target': TARGET,
        'content-length': String(body.length)
      },
      body
    })
    const left = timeoutMs - (Date.now() - started)
    if (left <= 0) throw new KinesisCallError('TimeoutError', `PutRecords not sent within ${timeoutMs} ms (credentials or signing took the budget)`)
    const { status, answer } = await exchange(target, target.https ? httpsAgent : httpAgent, signed.headers, body, left, config.connectTimeoutMs)
    if (status >= 200 && status < 300) return parsePutRecordsAnswer(answer, records.length)
    const error = errorOf(status, answer)
    // Expired temporary credentials: the next signature asks the chain again.
    if (/^Expired(Token|TokenException)?$|^RequestExpired$/.test(error.code)) forceRefresh = true
    throw error
  }

  return {
    limits: KINESIS_LIMITS,
    put,
    close: () => {
      httpAgent.destroy()
      httpsAgent.destroy()
    }
  }
}

async function resolveTarget (config: KinesisConfig, client: KinesisClient): Promise<Target> {
  let url: URL
  if (config.endpoint !== undefined) {
    url = new URL(config.endpoint)
  } else {
    const region = await client.config.region()
    const endpoint = client.config.endpointProvider({
      Region: region,
      UseFIPS: await client.config.useFipsEndpoint(),
      UseDualStack: await client.config.useDualstackEndpoint()
    })
    url = endpoint.url
  }
  const https = url.protocol === 'https:'
  const port = url.port === '' ? (https ? 443 : 80) : Number(url.port)
  return { https, hostname: url.hostname, port, host: url.port === '' ? url.hostname : `${url.hostname}:${url.port}` }
}

/** One HTTP exchange, bounded in time; resolves with the status and the whole answer body. */
async function exchange (target: Target, agent: HttpAgent, headers: Record<string, string>, body: Buffer, timeoutMs: number, connectTimeoutMs: number): Promise<{ status: number, answer: Buffer }> {
  return await new Promise((resolve, reject) => {
    let done = false
    const finish = (err: Error | undefined, value?: { status: number, answer: Buffer }): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (err !== undefined) reject(err)
      else resolve(value as { status: number, answer: Buffer })
    }
    const options = { agent, hostname: target.hostname, port: target.port, path: '/', method: 'POST', headers }
    const req: ClientRequest = target.https ? httpsRequest(options) : httpRequest(options)
    // The whole call: past it the request is destroyed, and the records may or may not be stored.
    const timer = setTimeout(() => {
      const err = new KinesisCallError('TimeoutError', `PutRecords did not answer within ${timeoutMs} ms`)
      req.destroy(err)
      finish(err)
    }, timeoutMs)
    req.once('socket', (socket) => {
      if (!socket.connecting) return
      // Not connected in time: nothing was sent, so a retry cannot duplicate anything.
      const connectTimer = setTimeout(() => {
        const err = new KinesisCallError('ConnectTimeout', `could not connect to ${target.host} within ${connectTimeoutMs} ms`)
        req.destroy(err)
        finish(err)
      }, connectTimeoutMs)
      socket.once('connect', () => clearTimeout(connectTimer))
      socket.once('close', () => clearTimeout(connectTimer))
    })
    req.once('error', (err) => finish(err))
    req.once('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.once('error', (err) => finish(err))
      res.once('aborted', () => finish(Object.assign(new Error('PutRecords answer aborted'), { code: 'ECONNRESET' })))
      res.once('end', () => {
        finish(undefined, { status: res.statusCode ?? 0, answer: chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks) })
      })
    })
    req.end(body)
  })
}

function errorOf (status: number, answer: Buffer): KinesisCallError {
  let type = ''
  let message = ''
  try {
    const parsed = JSON.parse(answer.toString('utf8')) as { __type?: unknown, message?: unknown, Message?: unknown }
    type = typeof parsed.__type === 'string' ? parsed.__type : ''
    const m = parsed.message ?? parsed.Message
    message = typeof m === 'string' ? m : ''
  } catch {
    message = answer.toString('utf8', 0, Math.min(answer.length, 200))
  }
  const code = ERROR_TYPE.exec(type)?.[1] ?? (status >= 500 ? 'InternalFailure' : `HTTP${status}`)
  return new KinesisCallError(code, message === '' ? `PutRecords answered HTTP ${status}` : message, status)
}
