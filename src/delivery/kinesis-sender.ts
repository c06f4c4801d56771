import { PutRecordsCommand, type KinesisClient, type PutRecordsCommandOutput, type PutRecordsResultEntry } from '@aws-sdk/client-kinesis'
import { putRecordsBody } from './put-records-body.js'
import type { PutRecordsSender } from './stream-producer.js'

/** The parts of the SDK's HTTP request and response this module touches (@smithy/protocol-http). */
interface BuiltRequest { body?: unknown, headers: Record<string, string> }
interface RawResponse { statusCode: number, body?: unknown }

type AnswerHandler = (args: { request: unknown }) => Promise<{ response: unknown, output: PutRecordsCommandOutput }>
type AnswerMiddleware = (next: AnswerHandler) => AnswerHandler

/** What the SDK's own deserializer is left to parse once the answer has been read here. */
const EMPTY_ANSWER = new Uint8Array(Buffer.from('{}'))

/**
 * The real PutRecords call through the AWS SDK: credentials, SigV4 signing, the HTTP handler and
 * error handling stay the SDK's. Two ends are ours, because profiling 100-event batches showed the
 * SDK's schema-driven JSON writer and reader at ~15% and ~10% of the gateway's CPU:
 * - the request body (put-records-body.ts): the command is created with no records, and a
 *   build-step middleware (after serialization, before signing) puts the prebuilt body in place,
 *   so the signature covers exactly the bytes sent;
 * - the answer of a successful call: a middleware just inside the SDK's deserializer reads it with
 *   JSON.parse (its entries have the same PascalCase fields the SDK returns). Error answers (non-2xx)
 *   and answers that are not JSON are left to the SDK, which turns them into its typed errors.
 */
export function kinesisSender (client: KinesisClient): PutRecordsSender {
  return async (stream, records) => {
    const body = putRecordsBody(stream, records)
    let entries: PutRecordsResultEntry[] | undefined
    const command = new PutRecordsCommand({ StreamName: stream, Records: [] })
    command.middlewareStack.add((next) => async (args) => {
      const request = args.request as BuiltRequest
      request.body = body
      request.headers['content-length'] = String(body.length)
      return await next(args)
    }, { step: 'build', name: 'kinesisGatewayPutRecordsBody' })
    const readAnswer: AnswerMiddleware = (next) => async (args) => {
      const result = await next(args)
      const response = result.response as RawResponse
      if (response.statusCode >= 200 && response.statusCode < 300 && isReadable(response.body)) {
        const bytes = await readAll(response.body)
        try {
          entries = (JSON.parse(bytes.toString('utf8')) as { Records?: PutRecordsResultEntry[] }).Records
          response.body = EMPTY_ANSWER
        } catch {
          response.body = new Uint8Array(bytes) // not JSON: the SDK reports it its way
        }
      }
      return result
    }
    // The stack's parameter type is a union of every step's middleware; this one is a deserialize-step one.
    command.middlewareStack.addRelativeTo(readAnswer as unknown as Parameters<typeof command.middlewareStack.addRelativeTo>[0], { relation: 'after', toMiddleware: 'deserializerMiddleware', name: 'kinesisGatewayPutRecordsAnswer' })
    const out = await client.send(command)
    return entries ?? out.Records ?? []
  }
}

function isReadable (body: unknown): body is AsyncIterable<Uint8Array> {
  return typeof body === 'object' && body !== null && Symbol.asyncIterator in body
}

async function readAll (body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of body) chunks.push(chunk)
  return chunks.length === 1 ? Buffer.from((chunks[0] as Uint8Array).buffer, (chunks[0] as Uint8Array).byteOffset, (chunks[0] as Uint8Array).byteLength) : Buffer.concat(chunks)
}
