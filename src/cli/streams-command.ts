import { parseArgs } from 'node:util'
import { describeTarget } from '../config/kinesis-target.js'
import { loadConfig } from '../config/load-config.js'
import { createKinesisClient } from '../kinesis/kinesis-client.js'
import { describeStream, ensureStreams, type StreamInfo } from '../kinesis/stream-admin.js'
import { announceTarget, CliError, explainError, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, positiveInteger, table, withUsage, type CliIo } from './cli-common.js'

export const STREAMS_USAGE = `usage: kinesis-gateway streams create|check [--shards N] [--on-demand]
  create       creates every configured stream that does not exist yet, waits until all are ACTIVE
  check        only reports; exits 1 if any configured stream is missing or not ACTIVE
  --shards N   shards of each created stream (default: kinesis.shards of the configuration, else 1)
  --on-demand  create streams in on-demand capacity mode (AWS; kinesalite has no on-demand mode)
  Existing streams are never changed. The target is chosen as for the server (KINESIS_MODE, KINESIS_ENDPOINT,
  AWS_REGION or AWS_DEFAULT_REGION, else the embedded development server of a running \`npm start\`),
  and the first line on stderr says which it is and what chose it.`

/** How long `streams create` waits for new streams to become ACTIVE (AWS takes tens of seconds). */
const CREATE_TIMEOUT_MS = 5 * 60_000

export async function streamsCommand (args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = withUsage(() => parseArgs({
    args,
    allowPositionals: true,
    options: {
      shards: { type: 'string' },
      'on-demand': { type: 'boolean', default: false }
    }
  }), STREAMS_USAGE)
  const action = positionals[0]
  if (positionals.length !== 1 || (action !== 'create' && action !== 'check')) {
    throw new CliError(`streams needs one action, create or check\n${STREAMS_USAGE}`, EXIT_USAGE)
  }
  const shardsFlag = positiveInteger(values.shards, '--shards')
  if (shardsFlag !== undefined && values['on-demand']) throw new CliError('--shards and --on-demand exclude each other', EXIT_USAGE)

  const config = await loadConfig()
  const kinesis = config.kinesis
  const streams = [...new Set([...config.channels.values()].map((c) => c.stream))]
  announceTarget(io, 'streams', `${action} ${streams.length} stream${streams.length === 1 ? '' : 's'}`, kinesis, config.production)
  const client = createKinesisClient(kinesis)
  try {
    let created: string[] = []
    if (action === 'create') {
      const shards = shardsFlag ?? kinesis.createdStreamShards
      try {
        created = await ensureStreams(client, streams, shards, CREATE_TIMEOUT_MS, { onDemand: values['on-demand'] })
      } catch (err) {
        if (values['on-demand'] && (err as Error).name === 'ValidationException') {
          throw new CliError(`${describeTarget(kinesis)} refused an on-demand stream (${(err as Error).message}). ` +
            'Local servers such as kinesalite have no on-demand mode: use --shards N there')
        }
        throw err
      }
    }
    const infos: StreamInfo[] = []
    for (const stream of streams) infos.push(await describeStream(client, stream))
    const channelsOf = (stream: string): string => [...config.channels.values()].filter((c) => c.stream === stream).map((c) => c.name).join(',')
    io.stdout.write(`streams on ${describeTarget(kinesis)}:\n`)
    io.stdout.write(table(
      ['STREAM', 'STATUS', 'MODE', 'SHARDS', 'CHANNELS', ...(action === 'create' ? ['ACTION'] : [])],
      infos.map((s) => [
        s.stream, s.status, s.mode ?? (s.status === 'MISSING' ? '-' : 'PROVISIONED'), s.openShards === undefined ? '-' : String(s.openShards),
        channelsOf(s.stream), ...(action === 'create' ? [created.includes(s.stream) ? 'created' : 'existed'] : [])
      ])))
    const bad = infos.filter((s) => s.status !== 'ACTIVE')
    if (bad.length > 0) {
      io.stderr.write(`${bad.length} of ${infos.length} stream(s) not ACTIVE: ${bad.map((s) => `${s.stream} (${s.status})`).join(', ')}.` +
        (action === 'check' ? ' Fix: run `kinesis-gateway streams create`, or create them in your infrastructure code\n' : '\n'))
      return EXIT_PROBLEMS
    }
    return EXIT_OK
  } catch (err) {
    throw explainError(err, kinesis) ?? err
  } finally {
    client.destroy()
  }
}
