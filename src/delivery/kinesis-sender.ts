import { PutRecordsCommand, type KinesisClient, type PutRecordsCommandInput, type PutRecordsResultEntry } from '@aws-sdk/client-kinesis'
import { putRecordsBody } from './put-records-body.js'
import type { PutRecordsSender } from './stream-producer.js'

/** The parts of the SDK's HTTP request and response this module touches (@smithy/protocol-http). */
interface BuiltRequest { body?: unknown, headers: Record<string, string> }
interface RawResponse { statusCode: number, body?: unknown }

/** One call's prebuilt body, and the entries of its answer once read. */
interface PrebuiltCall { readonly body: Buffer, entries: PutRecordsResultEntry[] | undefined }

/**
 * Rides on the command input to the client-level middlewares below. A symbol key: the SDK's
 * schema-driven serializer writes only the operation's members, and a shallow copy of the input
 * (object spread) keeps it.
 */
const PREBUILT = Symbol('kinesisGatewayPrebuiltPutRecords')
type MarkedInput = PutRecordsCommandInput & { [PREBUILT]?: PrebuiltCall }

/** What the SDK's own deserializer is left to parse once the answer has been read here. */
const EMPTY_ANSWER = new Uint8Array(Buffer.from('{}'))

type Next = (args: { input: unknown, request: unknown }) => Promise<{ response: unknown, output: unknown }>
type Middleware = (next: Next) => Next
/** The two calls of the SDK's middleware stack used here (its own types are unions over every step). */
interface MiddlewareStack {
  add: (middleware: Middleware, options: { step: 'build', name: string }) => void
  addRelativeTo: (middleware: Middleware, options: { relation: 'after', toMiddleware: string, name: string }) => void
}

const installed = new WeakSet<KinesisClient>()

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
 *
 * Both middlewares sit on the client's stack, added once, and act only on inputs marked by this
 * sender. With the client's `cacheMiddleware` (kinesis-client.ts) the SDK then resolves the
 * middleware chain once per command class instead of on every call (profiled at ~6-7% of a call).
 */
export function kinesisSender (client: KinesisClient): PutRecordsSender {
  installMiddlewares(client)
  return async (stream, records) => {
    const call: PrebuiltCall = { body: putRecordsBody(stream, records), entries: undefined }
    const input: MarkedInput = { StreamName: stream, Records: [], [PREBUILT]: call }
    const out = await client.send(new PutRecordsCommand(input))
    return call.entries ?? out.Records ?? []
  }
}

function installMiddlewares (client: KinesisClient): void {
  if (installed.has(client)) return
  installed.add(client)
  const putBody: Middleware = (next) => async (args) => {
    const call = (args.input as MarkedInput)[PREBUILT]
    if (call !== undefined) {
      const request = args.request as BuiltRequest
      request.body = call.body
      request.headers['content-length'] = String(call.body.length)
    }
    return await next(args)
  }
  const readAnswer: Middleware = (next) => async (args) => {
    const result = await next(args)
    const call = (args.input as MarkedInput)[PREBUILT]
    const response = result.response as RawResponse
    if (call !== undefined && response.statusCode >= 200 && response.statusCode < 300 && isReadable(response.body)) {
      const bytes = await readAll(response.body)
      try {
        call.entries = (JSON.parse(bytes.toString('utf8')) as { Records?: PutRecordsResultEntry[] }).Records
        response.body = EMPTY_ANSWER
      } catch {
        response.body = new Uint8Array(bytes) // not JSON: the SDK reports it its way
      }
    }
    return result
  }
  const stack = client.middlewareStack as unknown as MiddlewareStack
  stack.add(putBody, { step: 'build', name: 'kinesisGatewayPutRecordsBody' })
  stack.addRelativeTo(readAnswer, { relation: 'after', toMiddleware: 'deserializerMiddleware', name: 'kinesisGatewayPutRecordsAnswer' })
}

function isReadable (body: unknown): body is AsyncIterable<Uint8Array> {
  return typeof body === 'object' && body !== null && Symbol.asyncIterator in body
}

async function readAll (body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of body) chunks.push(chunk)
  return chunks.length === 1 ? Buffer.from((chunks[0] as Uint8Array).buffer, (chunks[0] as Uint8Array).byteOffset, (chunks[0] as Uint8Array).byteLength) : Buffer.concat(chunks)
}
