import { readFile } from 'node:fs/promises'

/** The version in package.json (two folders up from src/ops and from dist/ops alike). */
export async function packageVersion (): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }
    return typeof pkg.version === 'string' ? pkg.version : 'unknown'
  } catch {
    return 'unknown'
  }
}
