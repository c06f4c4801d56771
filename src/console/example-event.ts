import { randomUUID } from 'node:crypto'

type Schema = Record<string, unknown>

/** How deep the generator follows nested objects, arrays and references. */
const MAX_DEPTH = 8

/**
 * A sample event for the console's "try a channel" form, made from the channel's published
 * schema (self-contained: referenced files are embedded under `definitions`, keyed by their id).
 * Best effort: `examples`, `default`, `const` and `enum` first, then the required properties with
 * values of their type and bounds. The caller checks it with the channel's validator and drops it
 * when it does not pass (a pattern, say), so the form is prefilled only with a valid event.
 */
export function exampleEvent (root: Schema): unknown {
  return sample(root, root, MAX_DEPTH, '')
}

function sample (schema: unknown, root: Schema, depth: number, name: string): unknown {
  if (schema === true || schema === undefined) return name === '' ? {} : 'example'
  if (typeof schema !== 'object' || schema === null || depth < 0) return null
  const s = schema as Schema
  if (typeof s.$ref === 'string') return sample(resolveRef(s.$ref, root), root, depth - 1, name)
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0]
  if ('const' in s) return s.const
  if ('default' in s) return s.default
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0]
  for (const key of ['oneOf', 'anyOf'] as const) {
    const options = s[key]
    if (Array.isArray(options) && options.length > 0) return sample(options[0], root, depth - 1, name)
  }
  if (Array.isArray(s.allOf)) {
    const parts = s.allOf.map((part) => sample(part, root, depth - 1, name))
    if (parts.every((p) => typeof p === 'object' && p !== null && !Array.isArray(p))) return Object.assign({}, ...parts) as unknown
    return parts[0] ?? null
  }
  const type = Array.isArray(s.type) ? (s.type as unknown[]).find((t) => t !== 'null') : s.type
  switch (type ?? (s.properties !== undefined ? 'object' : undefined)) {
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, unknown>
      const required = Array.isArray(s.required) ? s.required.filter((r): r is string => typeof r === 'string') : []
      const keys = required.length > 0 ? required : Object.keys(props).slice(0, 5)
      const out: Record<string, unknown> = {}
      for (const key of keys) out[key] = sample(props[key], root, depth - 1, key)
      return out
    }
    case 'array': {
      const min = typeof s.minItems === 'number' ? s.minItems : 0
      return min > 0 ? Array.from({ length: Math.min(min, 3) }, () => sample(s.items, root, depth - 1, name)) : []
    }
    case 'string': return sampleString(s, name)
    case 'integer':
    case 'number': return sampleNumber(s, type === 'integer')
    case 'boolean': return true
    case 'null': return null
    default: return name === '' ? {} : 'example'
  }
}

function sampleString (s: Schema, name: string): string {
  switch (s.format) {
    case 'date-time': return new Date().toISOString()
    case 'date': return new Date().toISOString().slice(0, 10)
    case 'time': return new Date().toISOString().slice(11, 19) + 'Z'
    case 'email': return 'someone@example.com'
    case 'uri':
    case 'url': return 'https://example.com/'
    case 'uuid': return randomUUID()
    case 'ipv4': return '192.0.2.1'
    default: break
  }
  const min = typeof s.minLength === 'number' ? s.minLength : 0
  const max = typeof s.maxLength === 'number' ? s.maxLength : 64
  let text = name === '' ? 'example' : `${name}-1`
  if (text.length < min) text = text.padEnd(min, 'x')
  return text.slice(0, Math.max(max, 0))
}

function sampleNumber (s: Schema, integer: boolean): number {
  const min = typeof s.minimum === 'number' ? s.minimum : typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum + 1 : undefined
  const max = typeof s.maximum === 'number' ? s.maximum : typeof s.exclusiveMaximum === 'number' ? s.exclusiveMaximum - 1 : undefined
  let n = min ?? Math.min(1, max ?? 1)
  if (max !== undefined && n > max) n = max
  return integer ? Math.ceil(n) : n
}

/** "#/pointer" in the root, or "<id>#/pointer" in a schema embedded under the root's `definitions`. */
function resolveRef (ref: string, root: Schema): unknown {
  const [base = '', pointer = ''] = ref.split('#', 2)
  let node: unknown = root
  if (base !== '') {
    const embedded = (root.definitions as Record<string, unknown> | undefined)?.[base]
    if (embedded === undefined) return undefined
    node = embedded
  }
  for (const token of pointer.split('/').slice(1)) {
    node = (node as Record<string, unknown> | undefined)?.[decodeURIComponent(token).replaceAll('~1', '/').replaceAll('~0', '~')]
  }
  return node
}
