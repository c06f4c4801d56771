import { createHash, createHmac } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { SignatureV4 } from '@smithy/signature-v4'
import t, { type Test } from 'tap'
import type { KinesisConfig } from '../../src/config/types.js'
import { createKinesisClient } from '../../src/kinesis/kinesis-client.js'
import { parsePutRecordsAnswer } from '../../src/kinesis/put-records-answer.js'
import { putRecordsBody } from '../../src/kinesis/put-records-body.js'
import { createKinesisSink } from '../../src/kinesis/put-records-sender.js'
import type { OutgoingRecord } from '../../src/kinesis/sink.js'
import { classifyCallError } from '../../src/delivery/retry-policy.js'
import { startGateway, post, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite, startKinesisLocal } from '../helpers/kinesis-servers.js'
import { testKinesisClient, waitForRecords } from '../helpers/stream-reader.js'

function record (text: string, partitionKey: string): OutgoingRecord {
  const data = Buffer.from(text)
  return { data, partitionKey, size: data.length + Buffer.byteLength(partitionKey) }
}

t.test('the prebuilt PutRecords body is the JSON the API defines', async (t) => {
  const sliced = Buffer.from('xxSLICEDyy')
  const records = [
    record('{"a":1}\n', 'k1'),
    record('é ünïcode \u2028 "quoted"\n', 'clé "spéciale"\\'),
    { data: sliced.subarray(2, 8), partitionKey: 'p', size: 7 }
  ]
  const body = putRecordsBody('my-stream', records)
  const parsed = JSON.parse(body.toString('utf8')) as { StreamName: string, Records: Array<{ Data: string, PartitionKey: string }> }
  t.equal(parsed.StreamName, 'my-stream')
  t.same(parsed.Records.map((r) => [Buffer.from(r.Data, 'base64').toString('utf8'), r.PartitionKey]), [
    ['{"a":1}\n', 'k1'],
    ['é ünïcode \u2028 "quoted"\n', 'clé "spéciale"\\'],
    ['SLICED', 'p']
  ], 'data round-trips through base64, partition keys are escaped, views of larger buffers are respected')
  const routed = JSON.parse(putRecordsBody('s', [{ ...record('{}\n', 'r'), explicitHashKey: '170141183460469231731687303715884105728' }]).toString('utf8')) as { Records: Array<Record<string, string>> }
  t.same(routed.Records[0], { Data: Buffer.from('{}\n').toString('base64'), PartitionKey: 'r', ExplicitHashKey: '170141183460469231731687303715884105728' },
    'a record routed by the pacer names its shard with ExplicitHashKey')
})

t.test('answers: the fast path and the full parse agree, and anything unusual takes the full parse', async (t) => {
  const ok = '{"FailedRecordCount":0,"Records":[{"SequenceNumber":"11","ShardId":"shardId-000000000001"},{"ShardId":"shardId-000000000002","SequenceNumber":"12"}]}'
  t.same(parsePutRecordsAnswer(Buffer.from(ok), 2), { failed: 0, shardIds: ['shardId-000000000001', 'shardId-000000000002'], sequenceNumbers: ['11', '12'], errorCodes: null, errorMessages: null })
  const spaced = JSON.stringify(JSON.parse(ok), null, 2)
  t.same(parsePutRecordsAnswer(Buffer.from(spaced), 2).sequenceNumbers, ['11', '12'], 'other spacing: parsed in full')
  const short = parsePutRecordsAnswer(Buffer.from(ok), 3)
  t.equal(short.failed, 1, 'fewer entries than records: the missing one is a failure')
  t.same(short.errorCodes, ['', '', 'MissingResult'])
  const mixed = parsePutRecordsAnswer(Buffer.from('{"FailedRecordCount":1,"Records":[{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded ü"},{"ShardId":"shardId-000000000001","SequenceNumber":"7"}]}'), 2)
  t.same(mixed, { failed: 1, shardIds: ['', 'shardId-000000000001'], sequenceNumbers: ['', '7'], errorCodes: ['ProvisionedThroughputExceededException', ''], errorMessages: ['Rate exceeded ü', ''] },
    'failed entries keep their code and message (UTF-8)')
  t.throws(() => parsePutRecordsAnswer(Buffer.from('not json'), 1), { name: 'MalformedAnswer' })
  t.ok(classifyCallError(catchOf(() => parsePutRecordsAnswer(Buffer.from('<html>'), 1))).maybeWritten, 'an unreadable 200 is retried and counted as a possible duplicate')
})

function catchOf (fn: () => unknown): unknown {
  try { fn() } catch (err) { return err }
  throw new Error('did not throw')
}

function bytes (d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof d === 'string') return d
  return ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d)
}

/** SHA-256 for the SigV4 signer, from node:crypto. */
class Sha256 {
  private readonly hash
  constructor (secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret))
  }

  update (data: string | ArrayBuffer | ArrayBufferView): void { this.hash.update(bytes(data)) }
  async digest (): Promise<Uint8Array> { return this.hash.digest() }
}

interface SeenRequest { headers: IncomingHttpHeaders, body: Buffer, url: string }

/** A Kinesis-API stand-in that records every request and answers what `answer` returns for it. */
async function recordingEndpoint (t: Test, answer: (seen: SeenRequest) => { status: number, body: string }, opts: { hang?: boolean } = {}):
Promise<{ requests: SeenRequest[], port: number, client: KinesisClient }> {
  const requests: SeenRequest[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const seen = { headers: req.headers, body: Buffer.concat(chunks), url: req.url ?? '/' }
      requests.push(seen)
      if (opts.hang === true) return // never answers: the caller's timeout must end the call
      const a = answer(seen)
      res.writeHead(a.status, { 'content-type': 'application/x-amz-json-1.1' })
      res.end(a.body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const port = (server.address() as AddressInfo).port
  const client = createKinesisClient(localKinesis(port), { maxAttempts: 1 })
  t.teardown(() => client.destroy())
  return { requests, port, client }
}

function localKinesis (port: number, extra: Partial<KinesisConfig> = {}): KinesisConfig {
  return {
    mode: 'endpoint',
    region: 'eu-west-1',
    endpoint: `http://127.0.0.1:${port}`,
    embeddedPort: 0,
    localCredentials: true,
    createStreams: false,
    createdStreamShards: 1,
    connectTimeoutMs: 1000,
    requestTimeoutMs: 2000,
    maxSockets: 2,
    ...extra
  }
}

/** Re-signs a captured request with SignatureV4 and node:crypto's SHA-256: the signature a correct signer gives it. */
async function independentSignature (seen: SeenRequest, port: number, credentials: { accessKeyId: string, secretAccessKey: string }): Promise<string | undefined> {
  const signer = new SignatureV4({ service: 'kinesis', region: 'eu-west-1', credentials, sha256: Sha256 })
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(seen.headers)) if (k !== 'authorization' && typeof v === 'string') headers[k] = v
  const amzDate = headers['x-amz-date'] as string
  const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`)
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(seen.headers.authorization ?? '')?.[1]?.split(';') ?? []
  const unsigned = new Set(Object.keys(headers).filter((h) => !signedHeaders.includes(h)))
  const signed = await signer.sign({
    method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port, path: seen.url, query: {}, headers, body: seen.body
  }, { signingDate, unsignableHeaders: unsigned })
  return signed.headers.authorization
}

const LOCAL = { accessKeyId: 'kinesis-gateway-local', secretAccessKey: 'kinesis-gateway-local' }

t.test('the lean sender signs what it sends as the SDK does, and reads answers and errors', async (t) => {
  let answer = { status: 200, body: '{"FailedRecordCount":0,"Records":[{"ShardId":"shardId-000000000000","SequenceNumber":"1"},{"ShardId":"shardId-000000000000","SequenceNumber":"2"}]}' }
  const { requests, port, client } = await recordingEndpoint(t, () => answer)
  const sink = createKinesisSink(localKinesis(port), client)
  t.teardown(() => sink.close?.())

  const records = [record('{"n":1}\n', 'a'), record('{"n":2}\n', 'b')]
  const stored = await sink.put('s1', records)
  t.same(stored.sequenceNumbers, ['1', '2'])
  const ours = requests[0]
  if (ours === undefined) throw new Error('no request reached the server')
  t.same(ours.body, putRecordsBody('s1', records), 'the body sent is the prebuilt one')
  t.equal(ours.headers['content-length'], String(ours.body.length))
  t.equal(ours.headers['x-amz-target'], 'Kinesis_20131202.PutRecords')
  t.equal(ours.headers['content-type'], 'application/x-amz-json-1.1')
  t.match(ours.headers.authorization, /^AWS4-HMAC-SHA256 Credential=kinesis-gateway-local\/\d{8}\/eu-west-1\/kinesis\/aws4_request, SignedHeaders=[^,]*host[^,]*x-amz-date[^,]*x-amz-target/)
  t.equal(ours.headers.authorization, await independentSignature(ours, port, LOCAL), 'our signature is the one SigV4 defines for the bytes sent')

  // The SDK's own PutRecords to the same endpoint: the same check holds for it, and both sign the same header set.
  await client.send(new PutRecordsCommand({ StreamName: 's1', Records: records.map((r) => ({ Data: r.data, PartitionKey: r.partitionKey })) }))
  const sdk = requests[1]
  if (sdk === undefined) throw new Error('the SDK request did not arrive')
  t.equal(sdk.headers.authorization, await independentSignature(sdk, port, LOCAL), 'the SDK\'s signature, checked the same way')
  const signedOf = (h: string | undefined): string[] => (/SignedHeaders=([^,]+)/.exec(h ?? '')?.[1] ?? '').split(';').filter((x) => !x.startsWith('amz-sdk') && x !== 'x-amz-user-agent')
  t.same(signedOf(ours.headers.authorization), signedOf(sdk.headers.authorization), 'the same headers are signed (but the SDK\'s own telemetry headers)')

  answer = { status: 400, body: '{"__type":"com.amazonaws.kinesis#ResourceNotFoundException","message":"Stream s1 not found"}' }
  const missing = await sink.put('s1', records).catch((err: unknown) => err)
  t.match(missing, { name: 'ResourceNotFoundException', message: 'Stream s1 not found', $metadata: { httpStatusCode: 400 } })
  t.notOk(classifyCallError(missing).retryable, 'a missing stream fails fast, as the SDK\'s typed error did')
  answer = { status: 400, body: '{"__type":"ProvisionedThroughputExceededException","message":"Rate exceeded for stream"}' }
  t.ok(classifyCallError(await sink.put('s1', records).catch((err: unknown) => err)).retryable, 'whole-call throttling is retried')
  answer = { status: 503, body: '<html>busy</html>' }
  const busy = await sink.put('s1', records).catch((err: unknown) => err)
  t.match(busy, { name: 'InternalFailure', $metadata: { httpStatusCode: 503 } })
  t.ok(classifyCallError(busy).retryable)
})

t.test('a hung call ends at its budget, and expired credentials are fetched again', async (t) => {
  const { port } = await recordingEndpoint(t, () => ({ status: 200, body: '' }), { hang: true })
  let fetched = 0
  const client = new KinesisClient({
    region: 'eu-west-1',
    endpoint: `http://127.0.0.1:${port}`,
    credentials: async () => { fetched++; return { ...LOCAL, expiration: new Date(Date.now() + 3_600_000) } },
    requestHandler: new NodeHttpHandler()
  })
  t.teardown(() => client.destroy())
  const sink = createKinesisSink(localKinesis(port, { requestTimeoutMs: 60_000 }), client)
  t.teardown(() => sink.close?.())
  const started = Date.now()
  const hung = await sink.put('s1', [record('{}\n', 'a')], 300).catch((err: unknown) => err)
  t.match(hung, { name: 'TimeoutError' }, 'the call is cut at the caller\'s budget, not the 60 s request timeout')
  t.ok(Date.now() - started < 30_000, 'and well before the request timeout')
  const failure = classifyCallError(hung)
  t.ok(failure.retryable && failure.maybeWritten, 'a timed-out call is retried, and counted as a possible duplicate')

  const expiring = await recordingEndpoint(t, (seen) => seen.headers['x-amz-target'] === 'Kinesis_20131202.PutRecords' && expiredOnce()
    ? { status: 400, body: '{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}' }
    : { status: 200, body: '{"FailedRecordCount":0,"Records":[{"ShardId":"shardId-000000000000","SequenceNumber":"1"}]}' })
  let expired = false
  function expiredOnce (): boolean { if (expired) return false; expired = true; return true }
  const client2 = new KinesisClient({
    region: 'eu-west-1',
    endpoint: `http://127.0.0.1:${expiring.port}`,
    credentials: async () => { fetched++; return { ...LOCAL, expiration: new Date(Date.now() + 3_600_000) } },
    requestHandler: new NodeHttpHandler()
  })
  t.teardown(() => client2.destroy())
  const sink2 = createKinesisSink(localKinesis(expiring.port), client2)
  t.teardown(() => sink2.close?.())
  fetched = 0
  const first = await sink2.put('s1', [record('{}\n', 'a')]).catch((err: unknown) => err)
  t.match(first, { name: 'ExpiredTokenException' })
  t.ok(classifyCallError(first).retryable, 'expired credentials are transient')
  t.equal(fetched, 1)
  t.same((await sink2.put('s1', [record('{}\n', 'a')])).sequenceNumbers, ['1'], 'the next call signs with fresh credentials')
  t.equal(fetched, 2, 'the credential provider was asked again after ExpiredToken, though its credentials had not expired')
})

for (const server of ['kinesalite', 'kinesis-local'] as const) {
  t.test(`${server} accepts the lean sender's calls: records read back, ExplicitHashKey honoured`, async (t) => {
    const stream = uniqueStream()
    const kinesis = server === 'kinesalite' ? await startKinesalite() : await startKinesisLocal([stream], 2)
    t.teardown(() => kinesis.close())
    const reader = testKinesisClient(kinesis.endpoint)
    t.teardown(() => reader.destroy())
    if (server === 'kinesalite') await reader.send(new (await import('@aws-sdk/client-kinesis')).CreateStreamCommand({ StreamName: stream, ShardCount: 2 }))
    const config = localKinesis(Number(new URL(kinesis.endpoint).port), { endpoint: kinesis.endpoint, region: 'us-east-1', requestTimeoutMs: 10_000 })
    const client = createKinesisClient(config)
    t.teardown(() => client.destroy())
    const sink = createKinesisSink(config, client)
    t.teardown(() => sink.close?.())
    // Wait for the stream to be writable (kinesis-local creates it asynchronously).
    let answer
    for (let i = 0; ; i++) {
      try {
        answer = await sink.put(stream, [
          record('{"n":1,"text":"ü"}\n', 'key-1'),
          { ...record('{"n":2}\n', 'key-2'), explicitHashKey: '340282366920938463463374607431768211455' }
        ])
        break
      } catch (err) {
        if (i > 100 || !/ResourceNotFound|ResourceInUse/.test((err as Error).name)) throw err
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    t.equal(answer.failed, 0)
    t.match(answer.shardIds, [/^shardId-/, /^shardId-/])
    t.match(answer.sequenceNumbers, [/^\d+$/, /^\d+$/])
    t.equal(answer.shardIds[1], 'shardId-000000000001', 'the top of the hash range is the last shard')
    const got = await waitForRecords(reader, stream, 2)
    t.same(got.map((r) => r.text).sort(), ['{"n":1,"text":"ü"}\n', '{"n":2}\n'])
  })
}

t.test('end to end through kinesalite: every record arrives intact', async (t) => {
  const kinesis = await startKinesalite()
  t.teardown(() => kinesis.close())
  const reader = testKinesisClient(kinesis.endpoint)
  t.teardown(() => reader.destroy())
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream, record: 'raw', partitionKey: '/k' } } })
  const batch = Array.from({ length: 120 }, (_, i) => ({ i, k: `clé-${i % 7}`, text: 'ü'.repeat(i) }))
  const res = await post(`${gw.url}/v1/events`, JSON.stringify(batch))
  t.equal(res.status, 200)
  const got = await waitForRecords(reader, stream, 120)
  t.same(got.map((r) => [r.partitionKey, JSON.parse(r.text) as unknown]).sort((a, b) => ((a[1] as { i: number }).i - (b[1] as { i: number }).i)),
    batch.map((e) => [e.k, e]))
})
