import { PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis'
import { putRecordsBody } from './put-records-body.js'
import type { PutRecordsSender } from './stream-producer.js'

/** The part of the SDK's HTTP request this module touches (a @smithy/protocol-http HttpRequest). */
interface BuiltRequest { body?: unknown, headers: Record<string, string> }

/**
 * The real PutRecords call through the AWS SDK: credentials, SigV4 signing, the HTTP handler,
 * error parsing and response parsing stay the SDK's. Only the request body is ours
 * (put-records-body.ts): the command is created with no records, so the SDK's serializer does
 * almost nothing, and a build-step middleware (after serialization, before signing) puts the
 * prebuilt body in place, so the signature covers exactly the bytes sent.
 */
export function kinesisSender (client: KinesisClient): PutRecordsSender {
  return async (stream, records) => {
    const body = putRecordsBody(stream, records)
    const command = new PutRecordsCommand({ StreamName: stream, Records: [] })
    command.middlewareStack.add((next) => async (args) => {
      const request = args.request as BuiltRequest
      request.body = body
      request.headers['content-length'] = String(body.length)
      return await next(args)
    }, { step: 'build', name: 'kinesisGatewayPutRecordsBody' })
    const out = await client.send(command)
    return out.Records ?? []
  }
}
