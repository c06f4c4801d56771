import type { InputFormat } from '../../config/types.js'
import type { InputFormatCodec } from './format.js'
import { otlpLogsFormat } from './otlp-logs.js'
import { segmentFormat } from './segment.js'

const CODECS: Readonly<Record<Exclude<InputFormat, 'json'>, InputFormatCodec>> = {
  segment: segmentFormat,
  'otlp-logs': otlpLogsFormat
}

/** The decoder of a channel's format; undefined for our own JSON events (the route's own path). */
export function codecOf (format: InputFormat): InputFormatCodec | undefined {
  return format === 'json' ? undefined : CODECS[format]
}
