import { GatewayError, type EventError } from '../../http/problems.js'
import type { Decoded, DecodeContext, FormatAnswer, FormatProblem, InputFormatCodec, Outcome } from './format.js'
import { decodeExportRequest, encodeExportResponse, encodeStatus } from './otlp-proto.js'

/**
 * OTLP/HTTP log exports (opentelemetry.io/docs/specs/otlp/#otlphttp): an ExportLogsServiceRequest
 * in protobuf (application/x-protobuf) or OTLP/JSON (application/json). Each log record becomes one
 * event, a flat JSON object a query engine reads without knowing OTLP:
 *
 *   {"time":"<ISO-8601, ms>","time_unix_nano":"<ns>","observed_time_unix_nano":"<ns>",
 *    "severity_number":9,"severity_text":"INFO","body":<any JSON value>,"attributes":{..},
 *    "trace_id":"<32 hex>","span_id":"<16 hex>","flags":1,"event_name":"..",
 *    "resource":{"service.name":"..",..},"scope_name":"..","scope_version":"..","scope_attributes":{..}}
 *
 * `time` is the record's time, else its observed time (OTLP makes the former optional); absent
 * values are null. Nanosecond times stay decimal strings (they exceed 2^53). AnyValues become
 * plain JSON: kvlists objects, arrays arrays, bytes base64, 64-bit integers numbers when exact.
 */

type Obj = Record<string, unknown>

function isObject (v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

function list (v: unknown): unknown[] {
  return Array.isArray(v) ? v : []
}

/** An OTLP AnyValue as plain JSON. */
function anyValue (v: unknown): unknown {
  if (!isObject(v)) return null
  if (v.stringValue !== undefined) return v.stringValue
  if (v.boolValue !== undefined) return v.boolValue
  if (v.intValue !== undefined) {
    const n = Number(v.intValue)
    return Number.isSafeInteger(n) ? n : String(v.intValue)
  }
  if (v.doubleValue !== undefined) {
    const d = Number(v.doubleValue)
    return Number.isFinite(d) ? d : String(v.doubleValue)
  }
  if (v.arrayValue !== undefined) return list((v.arrayValue as Obj | undefined)?.values).map(anyValue)
  if (v.kvlistValue !== undefined) return attributes((v.kvlistValue as Obj | undefined)?.values)
  if (v.bytesValue !== undefined) return v.bytesValue instanceof Uint8Array ? Buffer.from(v.bytesValue).toString('base64') : v.bytesValue
  return null
}

/** A repeated KeyValue as an object (a later duplicate key wins, as most backends do). */
function attributes (kvs: unknown): Obj {
  const out: Obj = {}
  for (const kv of list(kvs)) {
    if (isObject(kv) && typeof kv.key === 'string') out[kv.key] = anyValue(kv.value)
  }
  return out
}

/** A fixed64 time as a decimal string; null for 0 or absent (OTLP: 0 means unknown). */
function nanos (v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return BigInt(Math.trunc(v)).toString()
  if (typeof v === 'string' && /^\d{1,20}$/.test(v) && !/^0+$/.test(v)) return v.replace(/^0+/, '')
  return null
}

function isoOf (ns: string | null): string | null {
  if (ns === null) return null
  const ms = Number(BigInt(ns) / 1_000_000n)
  return ms <= 8.64e15 ? new Date(ms).toISOString() : null
}

/** A trace or span id: bytes in protobuf, hex in OTLP/JSON; null when absent; undefined when malformed. */
function idOf (v: unknown, bytes: number): string | null | undefined {
  if (v === undefined || v === null || v === '') return null
  if (v instanceof Uint8Array) {
    if (v.length === 0) return null
    return v.length === bytes ? Buffer.from(v).toString('hex') : undefined
  }
  if (typeof v === 'string' && v.length === 2 * bytes && /^[0-9a-fA-F]+$/.test(v)) return v.toLowerCase()
  return undefined
}

interface Context {
  readonly resource: Obj
  readonly scopeName: string | null
  readonly scopeVersion: string | null
  readonly scopeAttributes: Obj
}

function flatRecord (r: Obj, c: Context, index: number, problems: Array<EventError | undefined>): Obj {
  const time = nanos(r.timeUnixNano)
  const observed = nanos(r.observedTimeUnixNano)
  const traceId = idOf(r.traceId, 16)
  const spanId = idOf(r.spanId, 8)
  if (traceId === undefined) problems[index] = { index, pointer: '/trace_id', reason: 'must be 16 bytes (32 hex characters in OTLP/JSON)' }
  else if (spanId === undefined) problems[index] = { index, pointer: '/span_id', reason: 'must be 8 bytes (16 hex characters in OTLP/JSON)' }
  const record: Obj = {
    time: isoOf(time ?? observed),
    time_unix_nano: time,
    observed_time_unix_nano: observed,
    severity_number: typeof r.severityNumber === 'number' && r.severityNumber > 0 ? r.severityNumber : null,
    severity_text: typeof r.severityText === 'string' && r.severityText !== '' ? r.severityText : null,
    body: r.body === undefined ? null : anyValue(r.body),
    attributes: attributes(r.attributes),
    trace_id: traceId ?? null,
    span_id: spanId ?? null,
    flags: typeof r.flags === 'number' && r.flags !== 0 ? r.flags : null,
    resource: c.resource,
    scope_name: c.scopeName,
    scope_version: c.scopeVersion,
    scope_attributes: c.scopeAttributes
  }
  if (typeof r.eventName === 'string' && r.eventName !== '') record.event_name = r.eventName
  return record
}

function stringOrNull (v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null
}

function decode (body: unknown, { config }: DecodeContext): Decoded {
  let request: unknown = body
  const binary = body instanceof Uint8Array
  if (binary) {
    try {
      request = decodeExportRequest(body)
    } catch (err) {
      throw new GatewayError('GW_ERR_MALFORMED_BODY', `The body is not a protobuf ExportLogsServiceRequest: ${(err as Error).message}`)
    }
  }
  if (body === undefined) throw new GatewayError('GW_ERR_EMPTY_BODY', 'The request has no body; send an OTLP ExportLogsServiceRequest (application/x-protobuf or application/json)')
  if (!isObject(request)) {
    throw new GatewayError('GW_ERR_NOT_AN_OBJECT', `Channel ${config.name} takes OTLP log exports: an ExportLogsServiceRequest object {"resourceLogs":[...]}`)
  }
  if (request.resourceLogs !== undefined && !Array.isArray(request.resourceLogs)) {
    throw new GatewayError('GW_ERR_BAD_REQUEST', '"resourceLogs" must be an array (OTLP ExportLogsServiceRequest)')
  }
  const events: unknown[] = []
  const problems: Array<EventError | undefined> = []
  const max = config.maxEventsPerRequest
  for (const rl of list(request.resourceLogs)) {
    if (!isObject(rl)) continue
    const resource = attributes(isObject(rl.resource) ? rl.resource.attributes : undefined)
    for (const sl of list(rl.scopeLogs)) {
      if (!isObject(sl)) continue
      const scope = isObject(sl.scope) ? sl.scope : {}
      const context: Context = {
        resource,
        scopeName: stringOrNull(scope.name),
        scopeVersion: stringOrNull(scope.version),
        scopeAttributes: attributes(scope.attributes)
      }
      for (const r of list(sl.logRecords)) {
        if (events.length === max) {
          throw new GatewayError('GW_ERR_TOO_MANY_EVENTS', `The export holds more than ${max} log records; channel ${config.name} takes at most ${max} per request. ` +
            'Lower the batch processor\'s maxExportBatchSize')
        }
        const index = events.length
        problems.push(undefined)
        events.push(isObject(r) ? flatRecord(r, context, index, problems) : r)
      }
    }
  }
  return { events, problems, binary }
}

const PROTOBUF = 'application/x-protobuf'
const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * ExportLogsServiceResponse in the request's encoding; partial_success counts the records refused
 * for good (OTLP: the client must not retry those), with the first reasons in error_message.
 */
function answer (o: Outcome): FormatAnswer {
  const message = o.rejected === 0
    ? ''
    : `${o.rejected} of ${o.count} log record(s) rejected${o.quarantined > 0 ? ` (${o.quarantined} kept in the quarantine stream)` : ''}: ` +
      o.errors.slice(0, 5).map((e) => `#${e.index}${e.pointer === '' ? '' : ' ' + e.pointer}: ${e.reason}`).join('; ')
  if (o.binary) return { status: 200, contentType: PROTOBUF, body: encodeExportResponse(o.rejected, message) }
  const body = o.rejected === 0 ? '{}' : JSON.stringify({ partialSuccess: { rejectedLogRecords: String(o.rejected), errorMessage: message } })
  return { status: 200, contentType: JSON_TYPE, body }
}

/** google.rpc.Status codes for our HTTP statuses (OTLP: error bodies are a Status in the request's encoding). */
function rpcCode (status: number): number {
  if (status === 400 || status === 413 || status === 415) return 3 // INVALID_ARGUMENT
  if (status === 401) return 16 // UNAUTHENTICATED
  if (status === 403) return 7 // PERMISSION_DENIED
  if (status === 404) return 5 // NOT_FOUND
  if (status === 429) return 8 // RESOURCE_EXHAUSTED
  if (status === 503) return 14 // UNAVAILABLE
  return status >= 500 ? 13 : 2 // INTERNAL : UNKNOWN
}

function problem (p: FormatProblem, binary: boolean): FormatAnswer {
  const code = rpcCode(p.status)
  const message = `${p.code}: ${p.detail}`
  if (binary) return { status: p.status, contentType: PROTOBUF, body: encodeStatus(code, message) }
  return { status: p.status, contentType: JSON_TYPE, body: JSON.stringify({ code, message }) }
}

export const otlpLogsFormat: InputFormatCodec = { name: 'otlp-logs', decode, answer, problem }
