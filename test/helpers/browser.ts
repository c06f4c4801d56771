import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'
import type { Teardown } from './gateway.js'

/** Debian's chromium (apt-get install chromium; .ci/run installs it); never a downloaded browser. */
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser']

/** The system chromium, or undefined (the browser tests then skip, saying why). */
export function systemChromium (): string | undefined {
  return CANDIDATES.find((p) => existsSync(p))
}

/**
 * Headless chromium as root-safe flags allow, with a fresh profile, loopback traffic only (no
 * background networking, updates or sync), closed at teardown.
 */
export async function launchBrowser (t: Teardown, executablePath: string): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), 'kgw-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    timeout: 60_000
  })
  t.teardown(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })
  return context
}
