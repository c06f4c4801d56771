import { readdir, stat } from 'node:fs/promises'
import { isAbsolute, join, resolve, sep } from 'node:path'

/**
 * File globs for `ship`: `*` and `?` within one path segment, `[abc]` / `[a-z]` classes, and `**`
 * for any number of folders. Node 20 has no fs.glob (it arrived in Node 22), and a log shipper needs
 * only this much (Vector's and Fluent Bit's `path` globs are the same subset).
 */
export interface Glob {
  readonly pattern: string
  /** The longest folder without glob characters: where expansion starts and what is watched. */
  readonly base: string
  /** The segments after `base`, each a literal name, a RegExp, or `**`. */
  readonly segments: ReadonlyArray<string | RegExp>
}

const GLOB_CHARS = /[*?[]/

export function compileGlob (pattern: string, cwd = process.cwd()): Glob {
  const absolute = isAbsolute(pattern) ? pattern : resolve(cwd, pattern)
  const parts = absolute.split(sep)
  let i = 0
  while (i < parts.length && !GLOB_CHARS.test(parts[i] as string)) i++
  // A literal path: its folder is the base, so that a file created later is found there.
  if (i === parts.length) i = parts.length - 1
  const base = parts.slice(0, i).join(sep) || sep
  const segments = parts.slice(i).map((p) => p === '**' ? '**' : GLOB_CHARS.test(p) ? segmentRegExp(p) : p)
  return { pattern, base, segments }
}

function segmentRegExp (segment: string): RegExp {
  let out = ''
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string
    if (c === '*') out += '[^/]*'
    else if (c === '?') out += '[^/]'
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2)
      if (close === -1) { out += '\\['; continue }
      const body = segment.slice(i + 1, close)
      out += '[' + (body.startsWith('!') ? '^' + body.slice(1) : body).replaceAll('\\', '\\\\') + ']'
      i = close
    } else out += c.replace(/[.+^${}()|\\]/g, '\\$&')
  }
  // Like shells, a wildcard does not match a leading dot (`*.log` skips `.hidden.log`).
  return new RegExp(segment.startsWith('.') ? `^${out}$` : `^(?!\\.)${out}$`)
}

function matches (segment: string | RegExp, name: string): boolean {
  return typeof segment === 'string' ? segment === name : segment.test(name)
}

/** Regular files matching the glob now, and the folders that were read (to watch them). */
export async function expandGlob (glob: Glob): Promise<{ files: string[], folders: string[] }> {
  const files: string[] = []
  const folders: string[] = []
  async function walk (dir: string, rest: ReadonlyArray<string | RegExp>): Promise<void> {
    const [head, ...tail] = rest
    if (head === undefined) return
    let entries
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch {
      return // not there (yet), or not readable: the next poll looks again
    }
    folders.push(dir)
    if (head === '**') {
      await walk(dir, tail) // zero folders
      for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.')) await walk(join(dir, e.name), rest)
      return
    }
    for (const e of entries) {
      if (!matches(head, e.name)) continue
      const path = join(dir, e.name)
      if (tail.length > 0) {
        if (e.isDirectory()) await walk(path, tail)
      } else if (e.isFile() || (e.isSymbolicLink() && (await stat(path).catch(() => undefined))?.isFile() === true)) {
        files.push(path)
      }
    }
  }
  await walk(glob.base, glob.segments)
  return { files, folders }
}

/** Does `path` (absolute) match the glob? (For --exclude; expansion walks folders instead.) */
export function matchesGlob (glob: Glob, path: string): boolean {
  if (!path.startsWith(glob.base)) return false
  const rest = path.slice(glob.base.length).split(sep).filter((s) => s !== '')
  const match = (si: number, pi: number): boolean => {
    if (si === glob.segments.length) return pi === rest.length
    const seg = glob.segments[si] as string | RegExp
    if (seg === '**') return match(si + 1, pi) || (pi < rest.length && match(si, pi + 1))
    if (pi === rest.length) return false
    return matches(seg, rest[pi] as string) && match(si + 1, pi + 1)
  }
  return match(0, 0)
}
