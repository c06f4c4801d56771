import { HASH_FIX } from './front-door-config.js'
import type { ConsoleConfig } from './types.js'

export interface RawConsole {
  enabled?: boolean
  adminKeySha256?: string
}

/**
 * Where the operator console is served, and why (docs/console.md). It shows partners' client
 * ids, rejected events and a form that writes to the channels, so it is never public with
 * partner data by default:
 * - development (`npm start`): on, on the gateway's port, without a key (a newcomer sees it at once);
 * - production: off unless `console.enabled: true`; then on the metrics listener when metrics
 *   have a port of their own (the production default, 9464), else on the public port, which
 *   needs `console.adminKeySha256`;
 * - an admin key, when configured, is asked for wherever the console is served.
 */
export function consoleSettings (raw: RawConsole | undefined, production: boolean, metricsPort: number | undefined,
  file: string, problems: string[], productionMetricsPort: number | undefined): ConsoleConfig {
  const here = placeConsole(raw, production, metricsPort, file, problems)
  const refused: string[] = []
  const there = production ? here : placeConsole(raw, true, productionMetricsPort, file, refused)
  return { ...here, inProduction: refused.length > 0 ? `refused: ${refused.join('; ')}` : there.reason }
}

function placeConsole (raw: RawConsole | undefined, production: boolean, metricsPort: number | undefined,
  file: string, problems: string[]): Omit<ConsoleConfig, 'inProduction'> {
  const enabled = raw?.enabled ?? !production
  const listener = metricsPort !== undefined ? 'metrics' : 'public'
  let adminKeySha256: Buffer | undefined
  if (raw?.adminKeySha256 !== undefined) {
    const hex = raw.adminKeySha256.trim().toLowerCase()
    if (/^[0-9a-f]{64}$/.test(hex)) adminKeySha256 = Buffer.from(hex, 'hex')
    else problems.push(`${file}: console.adminKeySha256: not a SHA-256 hex digest (the key itself is never stored). Fix: ${HASH_FIX}`)
  }
  if (enabled && production && listener === 'public' && raw?.adminKeySha256 === undefined) {
    problems.push(`${file}: console.enabled: true would serve the console on the public port (metrics.public: true) without an admin key. ` +
      'Fix: set console.adminKeySha256 to the SHA-256 of an admin key, or give /metrics a port of its own (remove metrics.public) so the console is served only there')
  }
  const key = adminKeySha256 !== undefined ? ', behind the admin key (x-admin-key or the browser\'s login prompt)' : ', without an admin key'
  const reason = !enabled
    ? (raw?.enabled === false ? 'off (console.enabled: false)' : 'off: the production default (set console.enabled: true to serve it on the metrics listener)')
    : listener === 'metrics'
      ? `on the metrics listener only (port ${metricsPort ?? ''}), not on the public port${key}`
      : `on the gateway's port${key}${production ? '' : ' (the development default)'}`
  return { enabled, listener, adminKeySha256, reason }
}
