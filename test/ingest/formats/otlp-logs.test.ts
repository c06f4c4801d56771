import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api'
import { SeverityNumber } from '@opentelemetry/api-logs'
import { OTLPLogExporter as JsonExporter } from '@opentelemetry/exporter-logs-otlp-http'
import { OTLPLogExporter as ProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto'
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base'
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs'
import t, { type Test } from 'tap'
import { encodeExportRequest } from '../../../src/ingest/formats/otlp-proto.js'
import { startFaultyKinesis } from '../../helpers/fault-proxy.js'
import { startGateway, uniqueStream } from '../../helpers/gateway.js'
import { startKinesalite } from '../../helpers/kinesis-servers.js'
import { metricValue, parseExposition } from '../../helpers/metrics-text.js'
import { readAllRecords, testKinesisClient, waitForRecords, type ReadRecord } from '../../helpers/stream-reader.js'

/**
 * Issue 15: the OpenTelemetry JS logs SDK with its two OTLP/HTTP exporters (JSON and protobuf),
 * pointed at a `format: otlp-logs` channel called `logs` (so the SDK's own path /v1/logs is the
 * channel's route), sends to the real gateway; records are read back from kinesalite and compared,
 * log record by log record, with what the SDK was given.
 */

const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

const API_KEY = 'otel-key-7c1d'
const apiKeys = { collector: { sha256: createHash('sha256').update(API_KEY).digest('hex'), channels: ['logs'] } }

interface Flat {
  time: string | null
  time_unix_nano: string | null
  observed_time_unix_nano: string | null
  severity_number: number | null
  severity_text: string | null
  body: unknown
  attributes: Record<string, unknown>
  trace_id: string | null
  span_id: string | null
  flags: number | null
  resource: Record<string, unknown>
  scope_name: string | null
  scope_version: string | null
  scope_attributes: Record<string, unknown>
  event_name?: string
}

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c'
const SPAN_ID = 'b7ad6b7169203331'
/** 2026-01-01T00:00:00.123456789Z as an HrTime: the nanoseconds must survive. */
const SECONDS = 1_767_225_600

const BODIES: unknown[] = ['checkout started', { user: 'u1', items: 3, tags: ['a', 'b'] }, 42, true, 2.5]

interface Given { seq: number, severityNumber: SeverityNumber, severityText: string, body: unknown, traced: boolean, scope: string }

type Encoding = 'json' | 'protobuf'

function exporterFor (encoding: Encoding, url: string, gzip: boolean, headers: Record<string, string> = { 'x-api-key': API_KEY }): LogRecordExporter {
  const options = { url, headers, compression: gzip ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE, timeoutMillis: 10_000 }
  return encoding === 'json' ? new JsonExporter(options) : new ProtoExporter(options)
}

/** Emits `count` log records through the SDK (two scopes, some inside a span) and returns what it was given. */
async function emitLogs (exporter: LogRecordExporter, count: number, batch = 25): Promise<Given[]> {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'deployment.environment': 'test' }),
    processors: [new BatchLogRecordProcessor({ exporter, maxExportBatchSize: batch, scheduledDelayMillis: 20 })]
  })
  const loggers = { api: provider.getLogger('checkout.api', '1.2.3'), worker: provider.getLogger('checkout.worker') }
  const traced = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED })
  const given: Given[] = []
  for (let seq = 0; seq < count; seq++) {
    const severityNumber = seq % 4 === 0 ? SeverityNumber.WARN : SeverityNumber.INFO
    const g: Given = { seq, severityNumber, severityText: severityNumber === SeverityNumber.WARN ? 'WARN' : 'INFO', body: BODIES[seq % BODIES.length], traced: seq % 3 === 0, scope: seq % 2 === 0 ? 'api' : 'worker' }
    given.push(g)
    loggers[g.scope as 'api' | 'worker'].emit({
      timestamp: [SECONDS, 123_456_789 + seq],
      severityNumber: g.severityNumber,
      severityText: g.severityText,
      body: g.body as string,
      attributes: { seq, 'http.route': '/cart', ratio: 0.25, ok: true },
      ...(g.traced ? { context: traced } : {})
    })
  }
  await provider.forceFlush()
  await provider.shutdown()
  return given
}

function flats (records: readonly ReadRecord[]): Flat[] {
  return records.map((r) => (JSON.parse(r.text) as { data: Flat }).data)
}

/** Each stored record against the log record the SDK was given, field by field. */
function compare (t: Test, stored: Flat[], given: Given[]): void {
  t.equal(stored.length, given.length, 'one record per log record, none twice')
  const bySeq = new Map(stored.map((f) => [f.attributes.seq as number, f]))
  t.equal(bySeq.size, given.length, 'every log record is there')
  for (const g of given) {
    const f = bySeq.get(g.seq)
    if (f === undefined) { t.fail(`log record ${g.seq} is missing`); continue }
    t.match(f, {
      time: '2026-01-01T00:00:00.123Z',
      time_unix_nano: String(BigInt(SECONDS) * 1_000_000_000n + 123_456_789n + BigInt(g.seq)),
      severity_number: g.severityNumber,
      severity_text: g.severityText,
      attributes: { seq: g.seq, 'http.route': '/cart', ratio: 0.25, ok: true },
      trace_id: g.traced ? TRACE_ID : null,
      span_id: g.traced ? SPAN_ID : null,
      flags: g.traced ? 1 : null,
      resource: { 'service.name': 'checkout', 'deployment.environment': 'test' },
      scope_name: g.scope === 'api' ? 'checkout.api' : 'checkout.worker',
      scope_version: g.scope === 'api' ? '1.2.3' : null,
      scope_attributes: {}
    }, `log record ${g.seq}`)
    t.same(f.body, g.body, `log record ${g.seq}: body as given`)
    t.match(f.observed_time_unix_nano, /^\d{19}$/, 'observed time in nanoseconds')
  }
}

for (const encoding of ['json', 'protobuf'] as const) {
  for (const gzip of [false, true]) {
    t.test(`OTLP/HTTP ${encoding}${gzip ? ', gzip' : ''}: every log record lands as a flat JSON record`, async (t) => {
      const stream = uniqueStream()
      const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { logs: { stream, format: 'otlp-logs' } }, extra: { apiKeys } })
      const given = await emitLogs(exporterFor(encoding, `${gw.url}/v1/logs`, gzip), 60)
      const records = await waitForRecords(reader, stream, 60)
      compare(t, flats(records), given)
    })
  }
}

t.test('a wrong key is refused with 401 and a google.rpc.Status body in the request\'s encoding; nothing lands', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { logs: { stream, format: 'otlp-logs' } }, extra: { apiKeys } })
  const body = encodeExportRequest({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'x' } }] }] }] })
  const proto = await fetch(`${gw.url}/v1/logs`, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf', 'x-api-key': 'nope' } })
  t.equal(proto.status, 401)
  t.equal(proto.headers.get('content-type'), 'application/x-protobuf')
  const bytes = new Uint8Array(await proto.arrayBuffer())
  t.ok(bytes.length > 0 && bytes[0] === 0x08 && bytes[1] === 16, 'Status.code = 16 (UNAUTHENTICATED)')
  const json = await fetch(`${gw.url}/v1/logs`, { method: 'POST', body: '{"resourceLogs":[]}', headers: { 'content-type': 'application/json' } })
  t.equal(json.status, 401)
  t.match(await json.json(), { code: 16, message: /GW_ERR_API_KEY_MISSING/ })
  t.equal((await readAllRecords(reader, stream)).length, 0)
})

t.test('partial_success: records the channel refuses are counted as rejected, the others land (both encodings)', async (t) => {
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: kinesis.endpoint,
    channels: { logs: { stream, format: 'otlp-logs', schema: 'schemas/otlp-no-debug.json' } },
    extra: { apiKeys }
  })
  const request = {
    resourceLogs: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
      scopeLogs: [{
        scope: { name: 's' },
        logRecords: [
          { timeUnixNano: '1767225600000000001', severityNumber: 9, body: { stringValue: 'kept' } },
          { timeUnixNano: '1767225600000000002', severityNumber: 5, body: { stringValue: 'debug: refused' } },
          { timeUnixNano: '1767225600000000003', severityNumber: 13, body: { stringValue: 'bad span' }, spanId: 'abc' },
          { timeUnixNano: '1767225600000000004', severityNumber: 17, body: { kvlistValue: { values: [{ key: 'k', value: { intValue: '9007199254740993' } }] } } }
        ]
      }]
    }]
  }
  const headers = { 'x-api-key': API_KEY }
  const json = await fetch(`${gw.url}/v1/logs`, { method: 'POST', body: JSON.stringify(request), headers: { ...headers, 'content-type': 'application/json' } })
  t.equal(json.status, 200)
  // Read back by the SDK's own response deserializers.
  const answer = JsonLogsSerializer.deserializeResponse(new Uint8Array(await json.arrayBuffer()))
  t.equal(Number(answer.partialSuccess?.rejectedLogRecords), 2, 'JSON: rejected_log_records = 2')
  t.match(answer.partialSuccess?.errorMessage, /#1 \/severity_number.*#2 \/span_id/)

  const protoRequest = JSON.parse(JSON.stringify(request)) as typeof request
  ;(protoRequest.resourceLogs[0]!.scopeLogs[0]!.logRecords[2] as Record<string, unknown>).spanId = Buffer.from('abc')
  const proto = await fetch(`${gw.url}/v1/logs`, { method: 'POST', body: encodeExportRequest(protoRequest), headers: { ...headers, 'content-type': 'application/x-protobuf' } })
  t.equal(proto.status, 200)
  t.equal(proto.headers.get('content-type'), 'application/x-protobuf')
  const protoAnswer = ProtobufLogsSerializer.deserializeResponse(new Uint8Array(await proto.arrayBuffer()))
  t.equal(Number(protoAnswer.partialSuccess?.rejectedLogRecords), 2, 'protobuf: rejected_log_records = 2')
  t.match(protoAnswer.partialSuccess?.errorMessage, /#2 \/span_id/)

  const records = await waitForRecords(reader, stream, 4)
  const stored = flats(records)
  t.equal(stored.length, 4, 'two of four from each request')
  t.same(stored.map((f) => f.body).filter((b) => b === 'kept').length, 2)
  t.same(stored.find((f) => typeof f.body === 'object')?.body, { k: '9007199254740993' }, 'a 64-bit integer past 2^53 stays exact, as a string')
  t.notOk(stored.some((f) => f.body === 'debug: refused' || f.body === 'bad span'))
})

t.test('the exporter retries after the gateway\'s 503 (Retry-After) and every record lands once', async (t) => {
  const { proxy, reader: direct } = await startFaultyKinesis(t)
  const stream = uniqueStream()
  const gw = await startGateway(t, {
    endpoint: proxy.endpoint,
    channels: { logs: { stream, format: 'otlp-logs' } },
    extra: { apiKeys, delivery: { recordDeadlineMs: 300, retryBaseMs: 20, retryMaxMs: 50, lingerMs: 5 } }
  })
  // Kinesis is unreachable until the gateway has answered a 503 (nothing written), then back.
  proxy.outage(60_000)
  const watcher = (async () => {
    for (let i = 0; i < 600; i++) {
      const text = await (await fetch(`${gw.url}/metrics`)).text()
      if (metricValue(parseExposition(text), 'kinesis_gateway_http_requests_total', { status: '503' }) > 0) { proxy.endOutage(); return true }
      await sleep(50)
    }
    proxy.endOutage()
    return false
  })()
  const given = await emitLogs(exporterFor('protobuf', `${gw.url}/v1/logs`, true), 20, 20)
  t.ok(await watcher, 'the gateway answered 503 while Kinesis was down')
  const records = await waitForRecords(direct, stream, 20)
  compare(t, flats(records), given)
})
