// A minimal Kinesis-API endpoint for the benchmark: it answers just enough of the awsJson1_1
// protocol for the gateway to start (CreateStream, DescribeStreamSummary, ListShards) and takes
// PutRecords, counting the records it receives. It does no signature checks and stores nothing,
// so it costs far less CPU than kinesalite (~6.6k records/s here) and is not the bottleneck.
// It reports `shards` open shards splitting the hash key space evenly: the gateway paces records
// per shard (1,000 records/s and 1 MiB/s each, as Kinesis does), so a one-shard stream would cap
// the benchmark at 1,000 events/s. Answers name the first shard for every record (not counted).
import { createServer } from 'node:http'

const SHARD = 'shardId-000000000000'
const PARTITION_KEY = Buffer.from('"PartitionKey"')
const HASH_SPACE = 2n ** 128n

function shardList (count) {
  const shards = []
  for (let i = 0; i < count; i++) {
    const start = HASH_SPACE * BigInt(i) / BigInt(count)
    const end = HASH_SPACE * BigInt(i + 1) / BigInt(count) - 1n
    shards.push({
      ShardId: `shardId-${String(i).padStart(12, '0')}`,
      HashKeyRange: { StartingHashKey: String(start), EndingHashKey: String(end) },
      SequenceNumberRange: { StartingSequenceNumber: '1' }
    })
  }
  return shards
}

export async function startFakeKinesis ({ shards = 1 } = {}) {
  const listShards = JSON.stringify({ Shards: shardList(shards) })
  const stats = { records: 0, calls: 0, bytes: 0 }
  let seq = 0
  const server = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
      const target = String(req.headers['x-amz-target'] ?? '')
      const op = target.slice(target.indexOf('.') + 1)
      let out
      if (op === 'PutRecords') {
        // Count records without parsing: "PartitionKey" appears once per record (data is base64).
        let n = 0
        for (let i = body.indexOf(PARTITION_KEY); i !== -1; i = body.indexOf(PARTITION_KEY, i + 14)) n++
        stats.records += n
        stats.calls++
        stats.bytes += body.length
        let entries = ''
        for (let i = 0; i < n; i++) {
          entries += (i === 0 ? '' : ',') + '{"ShardId":"' + SHARD + '","SequenceNumber":"' + (++seq) + '"}'
        }
        out = '{"FailedRecordCount":0,"Records":[' + entries + ']}'
      } else if (op === 'DescribeStreamSummary') {
        const name = JSON.parse(body.toString()).StreamName
        out = JSON.stringify({
          StreamDescriptionSummary: {
            StreamName: name,
            StreamARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`,
            StreamStatus: 'ACTIVE',
            StreamModeDetails: { StreamMode: 'PROVISIONED' },
            RetentionPeriodHours: 24,
            StreamCreationTimestamp: Math.floor(Date.now() / 1000),
            EnhancedMonitoring: [],
            EncryptionType: 'NONE',
            OpenShardCount: shards
          }
        })
      } else if (op === 'CreateStream') {
        out = '{}'
      } else if (op === 'ListShards') {
        out = listShards
      } else {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' })
        res.end(JSON.stringify({ __type: 'UnknownOperationException', message: `fake Kinesis does not implement ${op}` }))
        return
      }
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(out) })
      res.end(out)
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}
