import { Writable } from 'node:stream'
import { loggerOptions } from '../../src/ops/logger.js'

export interface LogLine { level: number, msg: string, requestId?: string, [key: string]: unknown }

/** The gateway's own logger options (redaction included) at `level`, writing into an array. */
export function captureLog (level = 'info'): { lines: LogLine[], raw: string[], logger: Record<string, unknown> } {
  const lines: LogLine[] = []
  const raw: string[] = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split('\n')) {
        if (text === '') continue
        raw.push(text)
        lines.push(JSON.parse(text) as LogLine)
      }
      done()
    }
  })
  const { options } = loggerOptions(level, { format: 'json', successSampleRate: 1 }, false)
  return { lines, raw, logger: { ...options, stream } }
}
