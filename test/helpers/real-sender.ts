import type { KinesisClient } from '@aws-sdk/client-kinesis'
import type { KinesisConfig } from '../../src/config/types.js'
import { createKinesisSink } from '../../src/kinesis/put-records-sender.js'
import { entriesOf, type PutRecordsSender } from '../../src/kinesis/sink.js'

/** The gateway's real PutRecords sender as a PutRecords-shaped function, for tests that wrap it to inject faults. */
export function realSender (kinesis: KinesisConfig, client: KinesisClient): PutRecordsSender {
  const sink = createKinesisSink(kinesis, client)
  return async (stream, records) => entriesOf(await sink.put(stream, records))
}
