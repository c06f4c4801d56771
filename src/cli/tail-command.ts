import { parseArgs } from 'node:util'
import { targetSummary } from '../config/kinesis-target.js'
import { envWith, loadConfig } from '../config/load-config.js'
import type { KinesisConfig } from '../config/types.js'
import { createKinesisClient } from '../kinesis/kinesis-client.js'
import { deaggregate } from '../delivery/kpl-deaggregator.js'
import { tailStream } from '../ops/stream-tail.js'
import { announceTarget, explainError, EXIT_OK, EXIT_USAGE, positiveInteger, CliError, withUsage, type CliIo } from './cli-common.js'

export const TAIL_USAGE = `usage: kinesis-gateway tail <channel-or-stream> [--quarantine] [--from-start] [--once] [--limit N] [--raw] [--endpoint URL]
  Reads a stream back, decoded: each event as the one JSON line it was written as. KPL-aggregated
  records (channels with aggregate: true) are unpacked into their events; other records are printed
  as UTF-8 text, one per line.
  <channel-or-stream>  a channel of the configuration (its stream is read) or a stream name
  --from-start         begin at the oldest retained record (TRIM_HORIZON) instead of new records only (LATEST)
  --once               read what is there now, then exit (for scripts and tests)
  --limit N            exit after N events (with --raw: N Kinesis records)
  --raw                write each Kinesis record's bytes exactly as stored (no de-aggregation, no newline added)
  --quarantine         read the channel's quarantine stream instead: the events it refused, with their errors
  --endpoint URL       read from this Kinesis-API URL instead of the configured one (like KINESIS_ENDPOINT)
  The Kinesis target is chosen as for the server: KINESIS_MODE, KINESIS_ENDPOINT, AWS_REGION or
  AWS_DEFAULT_REGION, else the embedded server of a running \`npm start\` on KINESIS_LOCAL_PORT (4567).`

const NEWLINE = 0x0a

/** One event as a line: its text, with the "\n" envelope and raw records already end in added when missing. */
function asLine (data: Uint8Array): string {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')
  return data[data.length - 1] === NEWLINE ? text : text + '\n'
}

export async function tailCommand (args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = withUsage(() => parseArgs({
    args,
    allowPositionals: true,
    options: {
      'from-start': { type: 'boolean', default: false },
      once: { type: 'boolean', default: false },
      limit: { type: 'string' },
      raw: { type: 'boolean', default: false },
      quarantine: { type: 'boolean', default: false },
      endpoint: { type: 'string' }
    }
  }), TAIL_USAGE)
  if (positionals.length !== 1) throw new CliError(`tail takes exactly one channel or stream name\n${TAIL_USAGE}`, EXIT_USAGE)
  const name = positionals[0] as string
  const limit = positiveInteger(values.limit, '--limit')

  // --endpoint is KINESIS_ENDPOINT for this command, whatever KINESIS_MODE says.
  const config = await loadConfig(values.endpoint !== undefined ? envWith({ KINESIS_ENDPOINT: values.endpoint, KINESIS_MODE: 'endpoint' }) : undefined)
  const channel = config.channels.get(name)
  let stream = channel?.stream ?? name
  if (values.quarantine) {
    if (channel === undefined) throw new CliError(`--quarantine takes a channel name; ${JSON.stringify(name)} is not a channel of ${config.configFile}`, EXIT_USAGE)
    if (channel.quarantine === undefined) {
      throw new CliError(`channel ${name} has no quarantine stream. Fix: set channels.${name}.quarantine: <stream> in ${config.configFile}`, EXIT_USAGE)
    }
    stream = channel.quarantine
  }
  const kinesis: KinesisConfig = config.kinesis
  announceTarget(io, 'tail', `stream ${stream}${stream !== name ? ` (${values.quarantine ? 'quarantine of ' : ''}channel ${name})` : ''}`, kinesis, config.production)
  const client = createKinesisClient(kinesis)
  let printed = 0
  const write = async (chunk: Uint8Array | string): Promise<boolean> => {
    if (!io.stdout.write(chunk)) await new Promise((resolve) => io.stdout.once('drain', resolve))
    return limit === undefined || ++printed < limit
  }
  try {
    await tailStream(client, {
      stream,
      fromStart: values['from-start'],
      once: values.once,
      limit: values.raw ? limit : undefined,
      signal: io.signal,
      onReading: (shards) => {
        io.stderr.write(`kinesis-gateway tail: reading stream ${stream}${stream !== name ? ` (channel ${name})` : ''}, ` +
          `${shards} shard${shards === 1 ? '' : 's'}, ${values['from-start'] ? 'from the start' : 'new records only'}${values.once ? '' : '; Ctrl-C to stop'}\n`)
      },
      onRecord: async (record) => {
        const data = record.Data ?? new Uint8Array()
        if (values.raw) {
          if (!io.stdout.write(data)) await new Promise((resolve) => io.stdout.once('drain', resolve))
          return true
        }
        const events = deaggregate(data, record.PartitionKey)
        if (events === undefined) return await write(asLine(data))
        for (const event of events) {
          if (!await write(asLine(event.data))) return false
        }
        return true
      }
    })
  } catch (err) {
    if (io.signal.aborted) return EXIT_OK
    if ((err as Error).name === 'ResourceNotFoundException') {
      const channels = [...config.channels.values()].map((c) => `${c.name} -> ${c.stream}`).join(', ')
      throw new CliError(`stream ${stream} does not exist on ${targetSummary(kinesis)}. ` +
        `Configured channels: ${channels}. Create the streams with \`kinesis-gateway streams create\``)
    }
    throw explainError(err, kinesis) ?? err
  } finally {
    client.destroy()
  }
  return EXIT_OK
}
