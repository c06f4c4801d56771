import { readFile } from 'node:fs/promises'
import { dirname, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { parse as parseYaml } from 'yaml'
import { ConfigError } from '../config/config-error.js'
import { FIX_HINTS } from '../config/config-schema.js'
import { configFilePath, envWith, loadConfig, parsePartitionKey } from '../config/load-config.js'
import type { ChannelConfig, GatewayConfig } from '../config/types.js'
import { compileChannelSchemas } from '../validation/schema-registry.js'
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
  const file = configFilePath(env)

  const problems: string[] = []
  let config: GatewayConfig | undefined
  try {
    config = await loadConfig(env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    problems.push(...err.problems)
  }
  // The schemas (and partition keys) are checked even when the file has problems, so that one run reports everything.
  const channels = config !== undefined ? [...config.channels.values()] : await rawChannelsOf(file, problems)
  try {
    await compileChannelSchemas(channels, file)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    problems.push(...err.problems.filter((p) => !problems.includes(p)))
  }

  if (problems.length > 0) {
    io.stderr.write(`kinesis-gateway check-config: ${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`)
    for (const p of problems) io.stderr.write(`  - ${p}\n`)
    return EXIT_PROBLEMS
  }
  const list = [...(config as GatewayConfig).channels.values()]
  io.stdout.write(`kinesis-gateway check-config: ${file}: OK, ${list.length} channel${list.length === 1 ? '' : 's'}\n`)
  for (const c of list) io.stdout.write(`  ${describeChannel(c, file)}\n`)
  return EXIT_OK
}

function describeChannel (c: ChannelConfig, file: string): string {
  const key = c.partitionKey.kind === 'random' || c.partitionKey.kind === 'format'
    ? c.partitionKey.kind
    : c.partitionKey.kind === 'pointer' ? c.partitionKey.pointer : `header:${c.partitionKey.header}`
  return `/v1/${c.name} -> stream ${c.stream}, schema ${relative(dirname(file), c.schemaFile)}, partition key ${key}, record ${c.record}` +
    (c.format === 'json' ? '' : `, format ${c.format}`)
}

/**
 * When the file itself is invalid there is no typed configuration, and load-config stops before it
 * checks partition keys and schemas. The channels are then read from the raw YAML so that those
 * problems are reported in the same run: partition keys here (with load-config's own parser),
 * schema files by the caller.
 */
async function rawChannelsOf (file: string, problems: string[]): Promise<Array<Pick<ChannelConfig, 'name' | 'schemaFile'>>> {
  let raw: unknown
  try {
    raw = parseYaml(await readFile(file, 'utf8'))
  } catch {
    return [] // unreadable or not YAML: already reported
  }
  const channels = (raw as { channels?: unknown } | null)?.channels
  if (channels === null || typeof channels !== 'object') return []
  const out: Array<Pick<ChannelConfig, 'name' | 'schemaFile'>> = []
  for (const [name, ch] of Object.entries(channels)) {
    const { schema, partitionKey } = (ch ?? {}) as { schema?: unknown, partitionKey?: unknown }
    const keyProblem = typeof partitionKey === 'string' && partitionKey !== '' ? parsePartitionKey(partitionKey) : undefined
    if (typeof keyProblem === 'string') {
      problems.push(`${file}: channels.${name}.partitionKey: ${keyProblem}. Fix: ${FIX_HINTS['channels.*.partitionKey'] ?? ''}`)
    }
    if (typeof schema === 'string' && schema !== '') out.push({ name, schemaFile: resolve(dirname(file), schema) })
  }
  return out
}
