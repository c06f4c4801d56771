import { dirname, relative } from 'node:path'
import { parseArgs } from 'node:util'
import { checkConfiguration } from '../config/check-configuration.js'
import { targetSummary } from '../config/kinesis-target.js'
import { envWith } from '../config/load-config.js'
import type { ChannelConfig, GatewayConfig } from '../config/types.js'
import { CliError, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, withUsage, type CliIo } from './cli-common.js'

export const CHECK_CONFIG_USAGE = `usage: kinesis-gateway check-config [file]
  Validates a configuration file and every channel's JSON Schema, offline (no Kinesis needed).
  Reports every problem with file, key and fix; exits 1 when there is any (for CI pipelines).
  [file]  the configuration file (default: GATEWAY_CONFIG, else kinesis-gateway.yaml)`

export async function checkConfigCommand (args: string[], io: CliIo): Promise<number> {
  const { positionals } = withUsage(() => parseArgs({ args, allowPositionals: true, options: {} }), CHECK_CONFIG_USAGE)
  if (positionals.length > 1) throw new CliError(`check-config takes at most one file\n${CHECK_CONFIG_USAGE}`, EXIT_USAGE)
  // The file as given; NODE_ENV is dropped because where records go (AWS_REGION, KINESIS_ENDPOINT)
  // is a setting of the deployment, not of the file, and a CI job usually has none of it.
  const env = envWith({ ...(positionals[0] !== undefined ? { GATEWAY_CONFIG: positionals[0] } : {}), NODE_ENV: undefined })
  const { file, config, problems } = await checkConfiguration(env)

  if (problems.length > 0) {
    io.stderr.write(`kinesis-gateway check-config: ${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`)
    for (const p of problems) io.stderr.write(`  - ${p}\n`)
    return EXIT_PROBLEMS
  }
  const checked = config as GatewayConfig
  const list = [...checked.channels.values()]
  io.stdout.write(`kinesis-gateway check-config: ${file}: OK, ${list.length} channel${list.length === 1 ? '' : 's'}\n`)
  for (const c of list) io.stdout.write(`  ${describeChannel(c, file)}\n`)
  // Offline: nothing is contacted, but where records would go with this environment is worth seeing.
  io.stdout.write(`  Kinesis with this environment: ${targetSummary(checked.kinesis)}\n`)
  // Where the console is served, and why: it shows partners' client ids and rejected events.
  io.stdout.write(`  Console (/console) in development: ${checked.console.reason}\n`)
  io.stdout.write(`  Console with NODE_ENV=production: ${checked.console.inProduction}\n`)
  return EXIT_OK
}

function describeChannel (c: ChannelConfig, file: string): string {
  const key = c.partitionKey.kind === 'random' || c.partitionKey.kind === 'format'
    ? c.partitionKey.kind
    : c.partitionKey.kind === 'pointer' ? c.partitionKey.pointer : `header:${c.partitionKey.header}`
  return `/v1/${c.name} -> stream ${c.stream}, schema ${relative(dirname(file), c.schemaFile)}, partition key ${key}, record ${c.record}` +
    (c.format === 'json' ? '' : `, format ${c.format}`)
}
