import type { OutgoingRecord } from './sink.js'

/**
 * The JSON body of one PutRecords call (awsJson1_1), written straight into one Buffer:
 *   {"StreamName":"s","Records":[{"Data":"<base64>","PartitionKey":"k"[,"ExplicitHashKey":"h"]},...]}
 *
 * Why not let the SDK serialize it: profiling the gateway under 100-event batches showed the SDK's
 * schema-driven JSON writer (writeBase64, writeStruct, writeJsonString, ...) at ~15% of CPU,
 * building a string per record that is then encoded to UTF-8 again for signing and for the socket.
 * Here each record costs one base64 string; the text is encoded once, and the signer and the
 * socket both take the same Buffer.
 */
export function putRecordsBody (stream: string, records: readonly OutgoingRecord[]): Buffer {
  // One string, encoded once: a native call per call instead of four per record (profiled).
  let text = '{"StreamName":' + JSON.stringify(stream) + ',"Records":['
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as OutgoingRecord
    const d = r.data
    // Record data is a Buffer already (record-encoder.ts): no second view per record.
    const b64 = (Buffer.isBuffer(d) ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength)).toString('base64')
    // Routable keys are our own UUIDs: nothing to escape.
    const key = r.routable === true ? '"' + r.partitionKey + '"' : JSON.stringify(r.partitionKey)
    text += (i === 0 ? '{"Data":"' : ',{"Data":"') + b64 + '","PartitionKey":' + key +
      (r.explicitHashKey === undefined ? '}' : ',"ExplicitHashKey":"' + r.explicitHashKey + '"}')
  }
  return Buffer.from(text + ']}', 'utf8')
}
