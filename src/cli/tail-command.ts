import { parseArgs } from 'node:util'
import { envWith, loadConfig } from '../config/load-config.js'
import type { KinesisConfig } from '../config/types.js'
import { createKinesisClient } from '../kinesis/kinesis-client.js'
import { tailStream } from '../ops/stream-tail.js'
import { describeTarget, explainError, EXIT_OK, EXIT_USAGE, positiveInteger, CliError, withUsage, type CliIo } from './cli-common.js'

export const TAIL_USAGE = `usage: kinesis-gateway tail <channel-or-stream> [--from-start] [--once] [--limit N] [--raw] [--endpoint URL]
  Reads a stream back, decoded: each record's data as UTF-8 text, one record per line.
  <channel-or-stream>  a channel of the configuration (its stream is read) or a stream name
  --from-start         begin at the oldest retained record (TRIM_HORIZON) instead of new records only (LATEST)
  --once               read what is there now, then exit (for scripts and tests)
  --limit N            exit after N records
  --raw                write each record's bytes exactly as stored (no decoding, no newline added)
  --endpoint URL       read from this Kinesis-API URL instead of the configured one (like KINESIS_ENDPOINT)`

const NEWLINE = 0x0a

export async function tailCommand (args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = withUsage(() => parseArgs({
    args,
    allowPositionals: true,
    options: {
      'from-start': { type: 'boolean', default: false },
      once: { type: 'boolean', default: false },
      limit: { type: 'string' },
      raw: { type: 'boolean', default: false },
      endpoint: { type: 'string' }
    }
  }), TAIL_USAGE)
  if (positionals.length !== 1) throw new CliError(`tail takes exactly one channel or stream name\n${TAIL_USAGE}`, EXIT_USAGE)
  const name = positionals[0] as string
  const limit = positiveInteger(values.limit, '--limit')

  const config = await loadConfig(values.endpoint !== undefined ? envWith({ KINESIS_ENDPOINT: values.endpoint }) : undefined)
  const stream = config.channels.get(name)?.stream ?? name
  const kinesis: KinesisConfig = config.kinesis
  const client = createKinesisClient(kinesis)
  try {
    await tailStream(client, {
      stream,
      fromStart: values['from-start'],
      once: values.once,
      limit,
      signal: io.signal,
      onReading: (shards) => {
        io.stderr.write(`kinesis-gateway tail: reading stream ${stream}${stream !== name ? ` (channel ${name})` : ''} on ${describeTarget(kinesis)}, ` +
          `${shards} shard${shards === 1 ? '' : 's'}, ${values['from-start'] ? 'from the start' : 'new records only'}${values.once ? '' : '; Ctrl-C to stop'}\n`)
      },
      onRecord: async (record) => {
        const data = record.Data ?? new Uint8Array()
        let chunk: Uint8Array | string
        if (values.raw) chunk = data
        else {
          // Envelope and raw-format records already end in "\n"; other producers' records may not.
          const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')
          chunk = data[data.length - 1] === NEWLINE ? text : text + '\n'
        }
        if (!io.stdout.write(chunk)) await new Promise((resolve) => io.stdout.once('drain', resolve))
      }
    })
  } catch (err) {
    if (io.signal.aborted) return EXIT_OK
    if ((err as Error).name === 'ResourceNotFoundException') {
      const channels = [...config.channels.values()].map((c) => `${c.name} -> ${c.stream}`).join(', ')
      throw new CliError(`stream ${stream} does not exist on ${describeTarget(kinesis)}. ` +
        `Configured channels: ${channels}. Create the streams with \`kinesis-gateway streams create\``)
    }
    throw explainError(err, kinesis) ?? err
  } finally {
    client.destroy()
  }
  return EXIT_OK
}
