import type { OutgoingRecord } from './sink.js'

/**
 * The JSON body of one PutRecords call (awsJson1_1), written straight into one Buffer:
 *   {"StreamName":"s","Records":[{"Data":"<base64>","PartitionKey":"k"[,"ExplicitHashKey":"h"]},...]}
 *
 * Why not let the SDK serialize it: profiling the gateway under 100-event batches showed the SDK's
 * schema-driven JSON writer (writeBase64, writeStruct, writeJsonString, ...) at ~15% of CPU,
 * building a string per record that is then encoded to UTF-8 again for signing and for the socket.
 * Here each record costs one base64 string and two memory copies, and the signer and the socket
 * both take the same Buffer.
 */
export function putRecordsBody (stream: string, records: readonly OutgoingRecord[]): Buffer {
  const head = '{"StreamName":' + JSON.stringify(stream) + ',"Records":['
  const count = records.length
  const data = new Array<string>(count)
  const keys = new Array<string>(count)
  let length = Buffer.byteLength(head) + 2 // ]}
  for (let i = 0; i < count; i++) {
    const r = records[i] as OutgoingRecord
    const d = r.data
    // Record data is a Buffer already (record-encoder.ts): no second view per record.
    const b64 = (Buffer.isBuffer(d) ? d : Buffer.from(d.buffer, d.byteOffset, d.byteLength)).toString('base64')
    const key = JSON.stringify(r.partitionKey)
    data[i] = b64
    keys[i] = key
    // {"Data":" + b64 + ","PartitionKey": + key + }  and a comma between records
    length += 9 + b64.length + 17 + Buffer.byteLength(key) + 1 + (i === 0 ? 0 : 1)
    // ,"ExplicitHashKey":"<decimal>"  (ASCII digits)
    if (r.explicitHashKey !== undefined) length += 21 + r.explicitHashKey.length
  }
  const out = Buffer.allocUnsafe(length)
  let at = out.write(head, 0, 'utf8')
  for (let i = 0; i < count; i++) {
    at += out.write(i === 0 ? '{"Data":"' : ',{"Data":"', at, 'latin1')
    at += out.write(data[i] as string, at, 'latin1')
    at += out.write('","PartitionKey":', at, 'latin1')
    at += out.write(keys[i] as string, at, 'utf8')
    const hashKey = (records[i] as OutgoingRecord).explicitHashKey
    if (hashKey !== undefined) {
      at += out.write(',"ExplicitHashKey":"', at, 'latin1')
      at += out.write(hashKey, at, 'latin1')
      out[at++] = 0x22 // "
    }
    out[at++] = 0x7d // }
  }
  out[at++] = 0x5d // ]
  out[at++] = 0x7d // }
  return at === length ? out : out.subarray(0, at)
}
