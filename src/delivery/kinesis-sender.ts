import { PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis'
import type { PutRecordsSender } from './stream-producer.js'

/** The real PutRecords call through the AWS SDK. */
export function kinesisSender (client: KinesisClient): PutRecordsSender {
  return async (stream, records) => {
    const entries = new Array<{ Data: Uint8Array, PartitionKey: string }>(records.length)
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as (typeof records)[number]
      entries[i] = { Data: r.data, PartitionKey: r.partitionKey }
    }
    const out = await client.send(new PutRecordsCommand({ StreamName: stream, Records: entries }))
    return out.Records ?? []
  }
}
