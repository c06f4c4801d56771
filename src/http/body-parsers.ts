import { isUtf8 } from 'node:buffer'
import { createGunzip, createInflate } from 'node:zlib'
import type { Transform } from 'node:stream'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import sjson from 'secure-json-parse'
import { scanJson } from '../ingest/event-spans.js'
import { BrokenLine } from '../ingest/prepare-records.js'
import { requestFacts } from './request-facts.js'
import { GatewayError, type EventError } from './problems.js'

/** Deeper documents are refused before parsing: no event needs more, and deep ones exhaust the stack later. */
export const MAX_JSON_DEPTH = 64

const PARSE_OPTIONS = { protoAction: 'error', constructorAction: 'error' } as const

export const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines']

/**
 * Nesting depth of a JSON text, counted on bytes outside strings; stops early past the limit.
 * Returns the depth reached, or the limit + 1 when exceeded.
 */
export function jsonDepthExceeds (buf: Uint8Array, start: number, end: number, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = start; i < end; i++) {
    const c = buf[i]
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped byte
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return false
}

function parseJsonText (buf: Buffer, start: number, end: number, index: number | undefined, offsets?: number[]): unknown {
  if (scanJson(buf, start, end, MAX_JSON_DEPTH, offsets)) {
    throw malformed(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`, index)
  }
  try {
    return sjson.parse(buf.toString('utf8', start, end), null, PARSE_OPTIONS)
  } catch (err) {
    throw malformed((err as Error).message, index)
  }
}

function malformed (reason: string, index: number | undefined): GatewayError {
  if (index === undefined) return new GatewayError('GW_ERR_MALFORMED_BODY', `The body is not valid JSON: ${reason}`)
  const errors: EventError[] = [{ index, pointer: '', reason }]
  return new GatewayError('GW_ERR_MALFORMED_BODY', `Line ${index + 1} of the NDJSON body is not valid JSON: ${reason}`, { errors })
}

function requireUtf8 (body: Buffer): void {
  if (!isUtf8(body)) throw new GatewayError('GW_ERR_MALFORMED_BODY', 'The body is not valid UTF-8 (RFC 8259 requires JSON to be UTF-8)')
}

/** application/json: one object, or an array of objects. */
export function parseJsonBody (req: FastifyRequest, body: Buffer): unknown {
  if (body.length === 0) throw new GatewayError('GW_ERR_EMPTY_BODY', 'The body is empty; send a JSON object or an array of objects')
  try {
    requireUtf8(body)
    const offsets: number[] = []
    const parsed = parseJsonText(body, 0, body.length, undefined, offsets)
    req.eventSpans = { body, offsets }
    return parsed
  } catch (err) {
    throw quarantineBody(req, body, err)
  }
}

/** A body that is not JSON at all goes to the channel's quarantine stream, if it has one; the answer says so. */
function quarantineBody (req: FastifyRequest, body: Buffer, err: unknown): unknown {
  const quarantine = req.channel?.quarantine
  if (quarantine === null || quarantine === undefined || !(err instanceof GatewayError)) return err
  quarantine.body(body, err.message, requestFacts(req))
  return err.with({ quarantined: 1 })
}

/**
 * application/x-ndjson: one JSON object per line; blank lines are skipped. Always a batch.
 * On `invalid: partial` channels a line that is not JSON keeps its place as a BrokenLine (that
 * event alone is refused); elsewhere it refuses the body.
 */
export function parseNdjsonBody (req: FastifyRequest, body: Buffer): unknown[] {
  if (body.length === 0) throw new GatewayError('GW_ERR_EMPTY_BODY', 'The body is empty; send one JSON object per line')
  try {
    requireUtf8(body)
  } catch (err) {
    throw quarantineBody(req, body, err)
  }
  const lenient = req.channel?.config.invalid === 'partial'
  const events: unknown[] = []
  const offsets: number[] = []
  let start = 0
  while (start < body.length) {
    let end = body.indexOf(0x0a, start)
    if (end === -1) end = body.length
    let last = end
    if (last > start && body[last - 1] === 0x0d) last--
    let first = start
    while (first < last && (body[first] === 0x20 || body[first] === 0x09)) first++
    if (first < last) {
      const mark = offsets.length
      try {
        events.push(parseJsonText(body, first, last, events.length, offsets))
      } catch (err) {
        if (!lenient || !(err instanceof GatewayError)) throw quarantineBody(req, body.subarray(first, last), err)
        offsets.length = mark
        offsets.push(-1, -1)
        events.push(new BrokenLine(err.errors?.[0]?.reason ?? err.message, body.toString('utf8', first, last)))
      }
    }
    start = end + 1
  }
  if (events.length === 0) throw new GatewayError('GW_ERR_EMPTY_BODY', 'The body holds no events; send one JSON object per line')
  req.eventSpans = { body, offsets }
  return events
}

/** OTLP/HTTP's binary encoding (the exporters send application/x-protobuf). */
export const PROTOBUF_TYPES = ['application/x-protobuf', 'application/protobuf']

export function registerBodyParsers (app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    try { done(null, parseJsonBody(req, body as Buffer)) } catch (err) { done(err as Error, undefined) }
  })
  app.addContentTypeParser(NDJSON_TYPES, { parseAs: 'buffer' }, (req, body, done) => {
    try { done(null, parseNdjsonBody(req, body as Buffer)) } catch (err) { done(err as Error, undefined) }
  })
  // The bytes as they are: the channel's format decodes them (ingest/formats/otlp-logs.ts).
  app.addContentTypeParser(PROTOBUF_TYPES, { parseAs: 'buffer' }, (req, body, done) => {
    if (req.channel?.config.format === 'otlp-logs') done(null, body)
    else {
      done(new GatewayError('GW_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type ${String(req.headers['content-type'])} is accepted only on channels with format: otlp-logs. ` +
        'Send application/json or application/x-ndjson'), undefined)
    }
  })
}

/**
 * Content-Encoding: gzip (or deflate) bodies are inflated as they stream in. Fastify's body limit
 * counts the inflated bytes, so a small compressed body cannot expand past it (gzip bombs).
 */
export function decodeContentEncoding (request: FastifyRequest, payload: NodeJS.ReadableStream): NodeJS.ReadableStream {
  const encoding = request.headers['content-encoding']
  if (encoding === undefined || encoding === 'identity' || encoding === '') return payload
  let inflater: Transform
  const normalized = encoding.trim().toLowerCase()
  if (normalized === 'gzip' || normalized === 'x-gzip') inflater = createGunzip()
  else if (normalized === 'deflate') inflater = createInflate()
  else {
    throw new GatewayError('GW_ERR_UNSUPPORTED_ENCODING',
      `Content-Encoding ${JSON.stringify(encoding)} is not supported; send gzip, deflate or no encoding`)
  }
  const counted = inflater as Transform & { receivedEncodedLength: number }
  counted.receivedEncodedLength = 0
  payload.on('data', (chunk: Buffer) => { counted.receivedEncodedLength += chunk.length })
  payload.on('error', (err) => inflater.destroy(err))
  // When nothing reads the inflated stream (e.g. 415: no parser for the content type), a corrupt
  // body would raise an 'error' nobody listens to and crash the process. Readers add their own listener.
  inflater.on('error', () => {})
  return payload.pipe(inflater)
}
