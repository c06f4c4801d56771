import protobuf from 'protobufjs'

/**
 * The OTLP messages the gateway reads and writes in protobuf, from opentelemetry-proto
 * (opentelemetry/proto/{common,resource,logs}/v1, collector/logs/v1/logs_service.proto, and
 * google/rpc/status.proto without `details`), field numbers as published. Decoded with
 * protobufjs's reflection: its camelCase names are the OTLP/JSON names, so one walk reads both.
 */
const OTLP_LOGS_PROTO = `
syntax = "proto3";
package otlp;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope {
  string name = 1;
  string version = 2;
  repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}
message Resource {
  repeated KeyValue attributes = 1;
  uint32 dropped_attributes_count = 2;
}
message LogRecord {
  fixed64 time_unix_nano = 1;
  fixed64 observed_time_unix_nano = 11;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  uint32 dropped_attributes_count = 7;
  fixed32 flags = 8;
  bytes trace_id = 9;
  bytes span_id = 10;
  string event_name = 12;
}
message ScopeLogs {
  InstrumentationScope scope = 1;
  repeated LogRecord log_records = 2;
  string schema_url = 3;
}
message ResourceLogs {
  Resource resource = 1;
  repeated ScopeLogs scope_logs = 2;
  string schema_url = 3;
}
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
message ExportLogsPartialSuccess {
  int64 rejected_log_records = 1;
  string error_message = 2;
}
message ExportLogsServiceResponse { ExportLogsPartialSuccess partial_success = 1; }
message Status {
  int32 code = 1;
  string message = 2;
}
`

const root = protobuf.parse(OTLP_LOGS_PROTO).root
const ExportRequest = root.lookupType('otlp.ExportLogsServiceRequest')
const ExportResponse = root.lookupType('otlp.ExportLogsServiceResponse')
const Status = root.lookupType('otlp.Status')

/** toObject options that give the OTLP/JSON shapes: 64-bit integers as decimal strings, enums as numbers. */
const AS_JSON_SHAPES: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: Uint8Array as unknown as StringConstructor }

/** An ExportLogsServiceRequest, as a plain object with OTLP/JSON names. Throws on bytes that are not one. */
export function decodeExportRequest (bytes: Uint8Array): Record<string, unknown> {
  return ExportRequest.toObject(ExportRequest.decode(bytes), AS_JSON_SHAPES)
}

export function encodeExportResponse (rejected: number, message: string): Uint8Array {
  const partialSuccess = rejected > 0 || message !== '' ? { rejectedLogRecords: rejected, errorMessage: message } : undefined
  return ExportResponse.encode(ExportResponse.create(partialSuccess === undefined ? {} : { partialSuccess })).finish()
}

export function encodeStatus (code: number, message: string): Uint8Array {
  return Status.encode(Status.create({ code, message })).finish()
}

/** For tests: a request from its OTLP/JSON-shaped object. */
export function encodeExportRequest (request: Record<string, unknown>): Uint8Array {
  return ExportRequest.encode(ExportRequest.fromObject(request)).finish()
}
