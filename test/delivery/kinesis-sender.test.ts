import { createHash, createHmac } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ListShardsCommand, type KinesisClient } from '@aws-sdk/client-kinesis'
import { SignatureV4 } from '@smithy/signature-v4'
import t, { type Test } from 'tap'
import { createKinesisClient } from '../../src/delivery/kinesis-client.js'
import { kinesisSender } from '../../src/delivery/kinesis-sender.js'
import { putRecordsBody } from '../../src/delivery/put-records-body.js'
import type { OutgoingRecord } from '../../src/delivery/stream-producer.js'
import { startGateway, post, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
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
})

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
async function recordingEndpoint (t: Test, answer: (seen: SeenRequest) => { status: number, body: string }, cacheMiddleware = false):
Promise<{ requests: SeenRequest[], port: number, client: KinesisClient }> {
  const requests: SeenRequest[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const seen = { headers: req.headers, body: Buffer.concat(chunks), url: req.url ?? '/' }
      requests.push(seen)
      const a = answer(seen)
      res.writeHead(a.status, { 'content-type': 'application/x-amz-json-1.1' })
      res.end(a.body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const port = (server.address() as AddressInfo).port
  const client = createKinesisClient({
    mode: 'endpoint',
    region: 'eu-west-1',
    endpoint: `http://127.0.0.1:${port}`,
    embeddedPort: 0,
    localCredentials: true,
    createStreams: false,
    createdStreamShards: 1,
    connectTimeoutMs: 1000,
    requestTimeoutMs: 2000,
    maxSockets: 2
  }, { maxAttempts: 1, cacheMiddleware })
  t.teardown(() => client.destroy())
  return { requests, port, client }
}

t.test('the SDK signs the bytes that are sent (an independent SigV4 signature matches)', async (t) => {
  let answer = { status: 200, body: '{"FailedRecordCount":0,"Records":[{"ShardId":"shardId-000000000000","SequenceNumber":"1"},{"ShardId":"shardId-000000000000","SequenceNumber":"2"}]}' }
  const { requests, port, client } = await recordingEndpoint(t, () => answer)

  const records = [record('{"n":1}\n', 'a'), record('{"n":2}\n', 'b')]
  const entries = await kinesisSender(client)('s1', records)
  t.same(entries.map((e) => e.SequenceNumber), ['1', '2'], 'the SDK parses the answer')
  const seen = requests[0]
  if (seen === undefined) throw new Error('no request reached the server')
  t.same(seen.body, putRecordsBody('s1', records), 'the body sent is the prebuilt one')
  t.equal(seen.headers['content-length'], String(seen.body.length))
  t.equal(seen.headers['x-amz-target'], 'Kinesis_20131202.PutRecords')

  const signer = new SignatureV4({
    service: 'kinesis',
    region: 'eu-west-1',
    credentials: { accessKeyId: 'kinesis-gateway-local', secretAccessKey: 'kinesis-gateway-local' },
    sha256: Sha256
  })
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(seen.headers)) if (k !== 'authorization' && typeof v === 'string') headers[k] = v
  const amzDate = headers['x-amz-date'] as string
  const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`)
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(seen.headers.authorization ?? '')?.[1]?.split(';') ?? []
  const unsigned = new Set(Object.keys(headers).filter((h) => !signedHeaders.includes(h)))
  const signed = await signer.sign({
    method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port, path: seen.url, query: {}, headers, body: seen.body
  }, { signingDate, unsignableHeaders: unsigned })
  t.equal(seen.headers.authorization, signed.headers.authorization, 'the signature covers the body that was sent')

  answer = { status: 200, body: '{"FailedRecordCount":1,"Records":[{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded","Seen":"by JSON.parse"},{"ShardId":"shardId-000000000001","SequenceNumber":"7"}]}' }
  const mixed = await kinesisSender(client)('s1', records)
  t.same(mixed, [
    { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded', Seen: 'by JSON.parse' },
    { ShardId: 'shardId-000000000001', SequenceNumber: '7' }
  ], 'the answer is read by the gateway (a field the SDK would drop is kept), failed entries included')

  answer = { status: 400, body: '{"__type":"ResourceNotFoundException","message":"Stream s1 not found"}' }
  await t.rejects(kinesisSender(client)('s1', records), { name: 'ResourceNotFoundException', message: 'Stream s1 not found' },
    'error answers are still turned into the SDK\'s typed errors')
  answer = { status: 200, body: 'not json' }
  await t.rejects(kinesisSender(client)('s1', records), 'an answer that is not JSON is left to the SDK, which rejects it')
})

t.test('with the SDK\'s middleware cache on, every call still sends its own body and gets its own answer', async (t) => {
  let sequence = 0
  const { requests, client } = await recordingEndpoint(t, (seen) => {
    const target = String(seen.headers['x-amz-target'])
    if (!target.endsWith('.PutRecords')) return { status: 200, body: '{"Shards":[{"ShardId":"shardId-000000000000","HashKeyRange":{"StartingHashKey":"0","EndingHashKey":"9"}}]}' }
    const count = (JSON.parse(seen.body.toString('utf8')) as { Records: unknown[] }).Records.length
    const records = Array.from({ length: count }, () => ({ ShardId: 'shardId-000000000000', SequenceNumber: String(++sequence) }))
    return { status: 200, body: JSON.stringify({ FailedRecordCount: 0, Records: records }) }
  }, true)
  const send = kinesisSender(client)
  const calls = [
    [record('{"call":1}\n', 'a')],
    [record('{"call":2}\n', 'b'), record('{"call":2,"n":2}\n', 'c')],
    [record('{"call":3}\n', 'd'), record('{"call":3,"n":2}\n', 'e'), record('{"call":3,"n":3}\n', 'f')]
  ]
  // Concurrent calls share the one cached handler: each must keep its own body and answer.
  const answers = await Promise.all(calls.map(async (records) => await send('s1', records)))
  t.same(answers.map((a) => a.length), [1, 2, 3], 'each call gets the entries of its own answer')
  t.same(requests.map((r) => r.body.toString('utf8')).sort(), calls.map((records) => putRecordsBody('s1', records).toString('utf8')).sort(),
    'each request carried the body prebuilt for it')
  const shards = await client.send(new ListShardsCommand({ StreamName: 's1' }))
  t.equal(shards.Shards?.[0]?.ShardId, 'shardId-000000000000', 'other commands on the same client pass the middlewares untouched')
  t.same(JSON.parse(requests.at(-1)?.body.toString('utf8') ?? ''), { StreamName: 's1' }, 'and are serialized by the SDK')
  const again = await send('s1', [record('{"call":4}\n', 'g')])
  t.equal(again.length, 1, 'a call after another command still uses the prebuilt body')
  t.same(requests.at(-1)?.body, putRecordsBody('s1', [record('{"call":4}\n', 'g')]))
})

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
