import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'

/**
 * The schema files a channel's schema depends on: itself and every file it reaches through `$ref`
 * (transitively), as schema-registry.ts resolves them: by file name in the same folder, or by the
 * `$id` of a file there. A reload then names as changed only the channels whose own schema files
 * changed, not every channel whose schema shares a folder with an edited file.
 * Returns undefined when a reference cannot be followed to a file (the caller then assumes any
 * file of the folder may matter).
 */
export async function schemaFilesOf (schemaFile: string): Promise<Set<string> | undefined> {
  const folder = dirname(schemaFile)
  const parsed = new Map<string, unknown>()
  const byId = new Map<string, string>()
  try {
    for (const name of (await readdir(folder)).filter((n) => n.endsWith('.json'))) {
      const file = join(folder, name)
      try {
        const schema = JSON.parse(await readFile(file, 'utf8')) as unknown
        parsed.set(file, schema)
        const id = (schema as { $id?: unknown } | null)?.$id
        if (typeof id === 'string') byId.set(id.split('#')[0] ?? id, file)
      } catch { /* an unreadable file is the reload's own problem to report */ }
    }
  } catch {
    return undefined
  }
  const files = new Set<string>()
  const pending = [resolve(schemaFile)]
  while (pending.length > 0) {
    const file = pending.pop() as string
    if (files.has(file)) continue
    files.add(file)
    for (const ref of refsIn(parsed.get(file))) {
      const target = ref.split('#')[0] ?? ''
      if (target === '') continue
      const next = byId.get(target) ?? (/^[a-z][a-z0-9+.-]*:/i.test(target) ? undefined : join(folder, target))
      if (next === undefined) return undefined
      pending.push(next)
    }
  }
  return files
}

function refsIn (node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const item of node) refsIn(item, out)
  } else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') out.push(value)
      else refsIn(value, out)
    }
  }
  return out
}
