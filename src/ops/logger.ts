import { createRequire } from 'node:module'
import type { FastifyServerOptions } from 'fastify'
import type { LoggingConfig } from '../config/types.js'

/**
 * Never logged: credentials in headers (wherever a request or its headers are logged) and bodies.
 * The request log line (request-observer.ts) logs no headers and no body in the first place;
 * this is the second line of defence for `{ req }` or `{ headers }` logged by anything else.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'req.body',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
  'body'
]

/** Whether pino-pretty can be loaded (it is a dependency, but a trimmed image may lack it). */
function prettyAvailable (): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty')
    return true
  } catch {
    return false
  }
}

export interface LoggerChoice {
  readonly options: Exclude<FastifyServerOptions['logger'], boolean | undefined>
  /** 'pretty' or 'json'; 'json' also when pretty output was asked for but pino-pretty is missing. */
  readonly format: 'pretty' | 'json'
  readonly prettyMissing: boolean
}

/**
 * pino options: JSON lines by default (for log collectors); human-readable through pino-pretty
 * when LOG_FORMAT=pretty, or when LOG_FORMAT is unset/auto and stdout is a terminal.
 */
export function loggerOptions (level: string, logging: LoggingConfig, stdoutIsTTY = process.stdout.isTTY === true): LoggerChoice {
  const base = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }
  const wantPretty = logging.format === 'pretty' || (logging.format === 'auto' && stdoutIsTTY)
  if (!wantPretty) return { options: base, format: 'json', prettyMissing: false }
  if (!prettyAvailable()) return { options: base, format: 'json', prettyMissing: true }
  return {
    options: {
      ...base,
      transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true } }
    },
    format: 'pretty',
    prettyMissing: false
  }
}
