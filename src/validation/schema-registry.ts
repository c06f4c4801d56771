import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { ConfigError } from '../config/config-error.js'
import type { ChannelConfig } from '../config/types.js'
import type { EventError } from '../http/problems.js'

// ajv-formats is CommonJS with a default export; under NodeNext the callable sits on .default.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

/** The most schema errors reported per request, so an error answer stays small. */
const MAX_REPORTED_ERRORS = 100

export type EventValidator = (event: unknown) => boolean

export interface CompiledChannel {
  readonly validate: ValidateFunction
  /** The schema as partners fetch it (GET /v1/{channel}/schema): self-contained, with its ETag. */
  readonly published: PublishedSchema
}

export interface PublishedSchema {
  readonly text: string
  /** A strong ETag: the SHA-256 of the text, so an unchanged schema keeps its tag across reloads and instances. */
  readonly etag: string
}

/**
 * Compiles every channel's JSON Schema once, at start (and at reload).
 *
 * All `*.json` files in the folders holding channel schemas are registered first, by their
 * `$id` or their file name, so that channel schemas can share definitions with
 * `{"$ref": "common.json#/$defs/..."}`.
 */
export async function compileChannelSchemas (channels: Iterable<Pick<ChannelConfig, 'name' | 'schemaFile'>>, configFile: string): Promise<Map<string, CompiledChannel>> {
  const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false, coerceTypes: false })
  addFormats(ajv)
  const problems: string[] = []
  const list = [...channels]
  const folders = new Set(list.map((c) => dirname(c.schemaFile)))
  const keyOfFile = new Map<string, string>()

  for (const folder of folders) {
    let names: string[]
    try {
      names = (await readdir(folder)).filter((n) => n.endsWith('.json')).sort()
    } catch {
      continue // the missing file itself is reported below, per channel
    }
    for (const name of names) {
      const file = join(folder, name)
      try {
        const schema = JSON.parse(await readFile(file, 'utf8')) as { $id?: unknown }
        const key = typeof schema.$id === 'string' ? schema.$id : name
        if (ajv.getSchema(key) === undefined) {
          ajv.addSchema(schema as object, typeof schema.$id === 'string' ? undefined : key)
        }
        keyOfFile.set(file, key)
      } catch (err) {
        problems.push(`${file}: not a usable JSON Schema: ${(err as Error).message}. Fix: correct the file (JSON Schema draft-07)`)
      }
    }
  }

  const compiled = new Map<string, CompiledChannel>()
  for (const channel of list) {
    const key = keyOfFile.get(channel.schemaFile)
    if (key === undefined) {
      if (!problems.some((p) => p.startsWith(channel.schemaFile))) {
        problems.push(`${configFile}: channels.${channel.name}.schema: file ${channel.schemaFile} not found. ` +
          `Fix: create it (e.g. {"type":"object"} accepts any JSON object) or correct the path, relative to ${basename(configFile)}`)
      }
      continue
    }
    try {
      const validate = ajv.getSchema(key)
      if (validate === undefined) throw new Error('schema did not compile')
      compiled.set(channel.name, { validate, published: publish(ajv, key) })
    } catch (err) {
      problems.push(`${channel.schemaFile}: cannot compile the schema of channel "${channel.name}": ${(err as Error).message}. Fix: correct the schema`)
    }
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return compiled
}

/**
 * The channel's schema with every schema it references (transitively, by `$ref` to another file)
 * embedded under `definitions`, each keeping its `$id`: a partner's validator resolves the same
 * references without fetching anything else (draft-07 resolves `$ref` against embedded `$id`s).
 */
function publish (ajv: Ajv, key: string): PublishedSchema {
  const root = schemaOf(ajv, key)
  const embedded: Record<string, unknown> = {}
  const seen = new Set([key])
  const queue = [root]
  while (queue.length > 0) {
    for (const ref of externalRefs(queue.pop())) {
      if (seen.has(ref)) continue
      seen.add(ref)
      const schema = ajv.getSchema(ref)?.schema
      if (schema === undefined || typeof schema !== 'object') continue
      embedded[ref] = { ...schema, $id: ref }
      queue.push(schema)
    }
  }
  const out = Object.keys(embedded).length === 0
    ? root
    : { ...root, definitions: { ...(root.definitions as Record<string, unknown> | undefined), ...embedded } }
  const text = JSON.stringify(out, null, 2) + '\n'
  return { text, etag: '"' + createHash('sha256').update(text).digest('base64url') + '"' }
}

function schemaOf (ajv: Ajv, key: string): Record<string, unknown> {
  const schema = ajv.getSchema(key)?.schema
  return typeof schema === 'object' && schema !== null ? schema as Record<string, unknown> : {}
}

/** The other schemas (the part of each `$ref` before "#") a schema refers to. */
function externalRefs (schema: unknown): string[] {
  const out: string[] = []
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) { for (const n of node) walk(n); return }
    if (node === null || typeof node !== 'object') return
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') {
        const file = v.split('#')[0] ?? ''
        if (file !== '') out.push(file)
      } else walk(v)
    }
  }
  walk(schema)
  return out
}

/** Appends a validator's errors for one event, with pointers that name the offending property. */
export function collectEventErrors (index: number, errors: readonly ErrorObject[] | null | undefined, into: EventError[]): void {
  if (errors == null) return
  for (const e of errors) {
    if (into.length >= MAX_REPORTED_ERRORS) return
    let pointer = e.instancePath
    let reason = e.message ?? 'is invalid'
    if (e.keyword === 'required') {
      pointer += '/' + escapePointer((e.params as { missingProperty: string }).missingProperty)
      reason = 'is required'
    } else if (e.keyword === 'additionalProperties') {
      pointer += '/' + escapePointer((e.params as { additionalProperty: string }).additionalProperty)
      reason = 'is not allowed by the schema'
    } else if (e.keyword === 'enum') {
      reason = `must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`
    }
    into.push({ index, pointer, reason })
  }
}

function escapePointer (token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1')
}

export { MAX_REPORTED_ERRORS }
