import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { envWith } from '../config/load-config.js'
import { packageVersion } from '../ops/version.js'
import { SHIP_DEFAULTS } from '../ship/ship-defaults.js'
import { createReporter } from '../ship/ship-reporter.js'
import { ShipFatalError, Shipper, type ShipOptions } from '../ship/shipper.js'
import { CliError, EXIT_OK, EXIT_USAGE, withUsage, type CliIo } from './cli-common.js'

const D = SHIP_DEFAULTS

export const SHIP_USAGE = `usage: kinesis-gateway ship <channel> <file-or-glob>... --gateway URL [options]
  Follows log files (and files that match later) and POSTs their new lines to the channel through the
  gateway, in gzip NDJSON batches; each file's position is checkpointed after every acknowledged batch.
  Quote globs ('/var/log/app/*.log') so that files created later are found too.
  --gateway URL             the gateway, e.g. http://127.0.0.1:8080 (required)
  --api-key KEY             sent as x-api-key; prefer the ${D.apiKeyEnv} environment variable (not shown by ps)
  --format text|json        text (default): each line is sent as {"message","file","host"};
                            json: each line is a JSON object, sent as the event
  --invalid-json wrap|skip  json: a line that is not a JSON object is sent as text with "invalid_json": true (wrap,
                            default) or skipped; either way it is reported
  --encoding utf8|latin1    utf8 (default): invalid bytes become U+FFFD (reported); latin1 keeps every byte
  --state FILE              checkpoint file (default: ./kinesis-gateway-ship-<channel>.state.json)
  --from start|end          where files found at the very first start begin (default start); later files: start
  --exclude GLOB            leave out matching files (repeatable), e.g. '*.gz'
  --max-batch-events N      events per request (default ${D.maxBatchEvents}, the gateway's maxEventsPerRequest)
  --max-batch-bytes N       uncompressed bytes per request (default ${D.maxBatchBytes}, the gateway's bodyLimitBytes)
  --max-line-bytes N        longer lines are cut (text, with "truncated": true) or skipped (json) (default ${D.maxLineBytes})
  --linger-ms N             a partly filled batch waits this long for more lines (default ${D.lingerMs})
  --poll-ms N               check files and globs this often, besides file-system events (default ${D.pollMs})
  --rotate-wait-ms N        keep a rotated or deleted file open this long after its last growth (default ${D.rotateWaitMs})
  --request-timeout-ms N    one POST may take this long (default ${D.requestTimeoutMs})
  --progress-ms N           progress log line interval when not on a terminal (default ${D.progressMs})
  --host NAME               the "host" field of text events (default: this machine's hostname)
  SIGTERM / Ctrl-C: the batch in flight is finished and checkpointed, then ship exits 0.`

export async function shipCommand (args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = withUsage(() => parseArgs({
    args,
    allowPositionals: true,
    options: {
      gateway: { type: 'string' },
      'api-key': { type: 'string' },
      format: { type: 'string', default: 'text' },
      'invalid-json': { type: 'string', default: 'wrap' },
      encoding: { type: 'string', default: 'utf8' },
      state: { type: 'string' },
      from: { type: 'string', default: 'start' },
      exclude: { type: 'string', multiple: true, default: [] },
      'max-batch-events': { type: 'string' },
      'max-batch-bytes': { type: 'string' },
      'max-line-bytes': { type: 'string' },
      'linger-ms': { type: 'string' },
      'poll-ms': { type: 'string' },
      'rotate-wait-ms': { type: 'string' },
      'request-timeout-ms': { type: 'string' },
      'progress-ms': { type: 'string' },
      host: { type: 'string' }
    }
  }), SHIP_USAGE)
  const [channel, ...patterns] = positionals
  if (channel === undefined || patterns.length === 0) throw new CliError(`ship needs a channel and at least one file or glob\n${SHIP_USAGE}`, EXIT_USAGE)
  const gateway = gatewayUrl(values.gateway)
  const format = oneOf(values.format, '--format', ['text', 'json'] as const)
  const invalidJson = oneOf(values['invalid-json'], '--invalid-json', ['wrap', 'skip'] as const)
  const encoding = oneOf(values.encoding, '--encoding', ['utf8', 'latin1'] as const)
  const from = oneOf(values.from, '--from', ['start', 'end'] as const)
  const maxBatchBytes = int(values['max-batch-bytes'], '--max-batch-bytes', D.maxBatchBytes, 1)
  const maxLineBytes = int(values['max-line-bytes'], '--max-line-bytes', Math.min(D.maxLineBytes, maxBatchBytes), 1)
  if (maxLineBytes > maxBatchBytes) throw new CliError(`--max-line-bytes (${maxLineBytes}) must not exceed --max-batch-bytes (${maxBatchBytes}): a line must fit in a request`, EXIT_USAGE)
  // The key comes from the flag or the environment, never from a file this command writes or a line it prints.
  const apiKey = values['api-key'] ?? envWith({})[D.apiKeyEnv]

  const options: ShipOptions = {
    target: { gateway, channel, apiKey: apiKey === '' ? undefined : apiKey, requestTimeoutMs: int(values['request-timeout-ms'], '--request-timeout-ms', D.requestTimeoutMs, 1), userAgent: `kinesis-gateway-ship/${await packageVersion()}` },
    patterns,
    exclude: values.exclude,
    format,
    invalidJson,
    encoding,
    startAtEnd: from === 'end',
    stateFile: resolve(values.state ?? `kinesis-gateway-ship-${channel}.state.json`),
    host: values.host ?? hostname(),
    maxBatchEvents: int(values['max-batch-events'], '--max-batch-events', D.maxBatchEvents, 1),
    maxBatchBytes,
    maxLineBytes,
    lingerMs: int(values['linger-ms'], '--linger-ms', D.lingerMs, 0),
    pollMs: int(values['poll-ms'], '--poll-ms', D.pollMs, 10),
    rotateWaitMs: int(values['rotate-wait-ms'], '--rotate-wait-ms', D.rotateWaitMs, 0),
    retryBaseMs: D.retryBaseMs,
    retryMaxMs: D.retryMaxMs,
    progressMs: int(values['progress-ms'], '--progress-ms', D.progressMs, 100),
    fingerprintBytes: D.fingerprintBytes
  }
  const reporter = createReporter(io.stderr as NodeJS.WritableStream & { isTTY?: boolean })
  try {
    await new Shipper(options, reporter, io.signal).run()
  } catch (err) {
    if (err instanceof ShipFatalError) throw new CliError(err.message)
    if (err instanceof Error && /^(the state file|cannot read the state file|cannot create|could not lock)/.test(err.message)) throw new CliError(err.message)
    throw err
  } finally {
    reporter.close()
  }
  return EXIT_OK
}

function gatewayUrl (value: string | undefined): string {
  if (value === undefined) throw new CliError(`ship needs --gateway URL (e.g. --gateway http://127.0.0.1:8080)\n${SHIP_USAGE}`, EXIT_USAGE)
  let url: URL
  try { url = new URL(value) } catch { throw new CliError(`--gateway must be a URL such as http://127.0.0.1:8080, not "${value}"`, EXIT_USAGE) }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--gateway must be an http:// or https:// URL, not "${value}"`, EXIT_USAGE)
  return url.origin + url.pathname.replace(/\/+$/, '')
}

function oneOf<T extends string> (value: string | undefined, flag: string, allowed: readonly T[]): T {
  if (allowed.includes(value as T)) return value as T
  throw new CliError(`${flag} must be ${allowed.join(' or ')}, not "${String(value)}"`, EXIT_USAGE)
}

function int (value: string | undefined, flag: string, fallback: number, min: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < min) throw new CliError(`${flag} must be an integer of at least ${min}, not "${value}"`, EXIT_USAGE)
  return n
}
