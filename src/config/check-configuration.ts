import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { compileChannelSchemas } from '../validation/schema-registry.js'
import { ConfigError } from './config-error.js'
import { FIX_HINTS } from './config-schema.js'
import { configFilePath, loadConfig, parsePartitionKey, type Env } from './load-config.js'
import type { ChannelConfig, GatewayConfig } from './types.js'

export interface ConfigurationCheck {
  /** The configuration file checked. */
  readonly file: string
  /** The typed configuration, when the file itself is valid (its schemas may still have problems). */
  readonly config: GatewayConfig | undefined
  /** Every problem, each naming the file, the key and the fix; empty when the configuration can run. */
  readonly problems: readonly string[]
}

/**
 * Every problem of a configuration and its channel schemas, in one list: what `check-config`
 * prints and what the server reports when it refuses to start, so that both say the same about
 * the same file. loadConfig() stops before partition keys and schemas when the file itself is
 * invalid; these are then checked from the raw YAML, so that one run reports everything.
 */
export async function checkConfiguration (env: Env = process.env, cwd = process.cwd()): Promise<ConfigurationCheck> {
  const file = configFilePath(env, cwd)
  const problems: string[] = []
  let config: GatewayConfig | undefined
  try {
    config = await loadConfig(env, cwd)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    problems.push(...err.problems)
  }
  const channels = config !== undefined ? [...config.channels.values()] : await rawChannelsOf(file, problems)
  try {
    await compileChannelSchemas(channels, file)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    problems.push(...err.problems.filter((p) => !problems.includes(p)))
  }
  return { file, config, problems }
}

/**
 * The server's loadConfig(): the typed configuration, or a ConfigError with every problem of
 * the file and its schemas (not only the first kind found), as `check-config` lists them.
 */
export async function loadCheckedConfig (env: Env = process.env, cwd = process.cwd()): Promise<GatewayConfig> {
  try {
    return await loadConfig(env, cwd)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    const all = await checkConfiguration(env, cwd)
    throw new ConfigError(all.problems.length > 0 ? all.problems : err.problems)
  }
}

/** Channel names and schema files from the raw YAML (partition keys are checked on the way). */
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
