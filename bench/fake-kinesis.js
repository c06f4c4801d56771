// A minimal Kinesis-API endpoint for the benchmark: it answers just enough of the awsJson1_1
// protocol for the gateway to start (CreateStream, DescribeStreamSummary, ListShards) and takes
// PutRecords, counting what it receives. It does no signature checks and stores nothing, so it
// costs far less CPU than kinesalite (~6.6k records/s here) and is not the bottleneck.
// What it counts is what the benchmark reports as delivered: Kinesis records, the bytes Kinesis
// bills for each (decoded data + partition key; an ExplicitHashKey is not part of a record's size),
// and events, which are the records unless a record is a KPL aggregate (then its user records).
// It reports `shards` open shards splitting the hash key space evenly: the gateway paces records
// per shard (1,000 records/s and 1 MiB/s each, as Kinesis does), so a one-shard stream would cap
// the benchmark at 1,000 events/s. Answers name the first shard for every record (not counted).
import { createServer } from 'node:http'

const SHARD = 'shardId-000000000000'
// A record's fields in the PutRecords body, in any order; their values are JSON strings.
const FIELD = /"(Data|PartitionKey)"\s*:\s*"/g
// KPL aggregated records start with the magic bytes F3 89 9A C2, "84ma" in base64.
const KPL_MAGIC_BASE64 = '84ma'
const KPL_MAGIC_BYTES = 4
const KPL_DIGEST_BYTES = 16 // the MD5 of the protobuf after it
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
  const stats = { records: 0, events: 0, recordBytes: 0, calls: 0, bodyBytes: 0 }
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
        const n = countRecords(body.toString('latin1'), stats)
        stats.calls++
        stats.bodyBytes += body.length
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

/**
 * Counts the records of a PutRecords body, their billed bytes and their events, without a full
 * parse (a latin1 string has one character per byte, so lengths are byte counts). The body is
 * the sender's own JSON: base64 never holds a quote, and a key's escaped quotes are skipped.
 * Returns the number of records.
 */
function countRecords (text, stats) {
  let records = 0
  FIELD.lastIndex = 0
  for (let m = FIELD.exec(text); m !== null; m = FIELD.exec(text)) {
    const start = FIELD.lastIndex
    let end = text.indexOf('"', start)
    while (escaped(text, end)) end = text.indexOf('"', end + 1)
    FIELD.lastIndex = end + 1
    if (m[1] === 'PartitionKey') {
      const key = text.slice(start, end)
      stats.recordBytes += key.includes('\\') ? Buffer.byteLength(JSON.parse(`"${Buffer.from(key, 'latin1').toString('utf8')}"`)) : key.length
      continue
    }
    records++
    const padding = text.charCodeAt(end - 1) === 0x3d ? (text.charCodeAt(end - 2) === 0x3d ? 2 : 1) : 0
    stats.recordBytes += (end - start) / 4 * 3 - padding
    stats.events += text.startsWith(KPL_MAGIC_BASE64, start) ? kplUserRecords(Buffer.from(text.slice(start, end), 'base64')) : 1
  }
  stats.records += records
  return records
}

/** Whether the quote at `at` is escaped: an odd run of backslashes before it. */
function escaped (text, at) {
  let i = at - 1
  while (text.charCodeAt(i) === 0x5c) i--
  return (at - 1 - i) % 2 === 1
}

/** User records in a KPL aggregate: field 3 (records) of the AggregatedRecord protobuf. */
function kplUserRecords (data) {
  let count = 0
  let i = KPL_MAGIC_BYTES
  const end = data.length - KPL_DIGEST_BYTES
  const varint = () => {
    let value = 0
    let shift = 0
    for (;;) {
      const b = data[i++]
      value += (b & 0x7f) * 2 ** shift
      if (b < 0x80) return value
      shift += 7
    }
  }
  while (i < end) {
    const tag = varint()
    if ((tag & 7) !== 2) throw new Error(`fake Kinesis: unexpected protobuf wire type ${tag & 7} in a KPL aggregate`)
    const length = varint()
    if (tag >>> 3 === 3) count++
    i += length
  }
  return count
}
