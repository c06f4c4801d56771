import type { GatewayConfig } from '../config/types.js'

/** A start that cannot succeed for a reason the operator can fix: printed as one line, no stack. */
export class StartError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'StartError'
  }
}

/**
 * The one line for what commonly stops a start: a port in use (the public one, or METRICS_PORT),
 * a host that is not this machine's. Undefined for anything else, which deserves its stack.
 */
export function explainStartFailure (err: unknown, config: GatewayConfig): string | undefined {
  if (err instanceof StartError) return err.message
  // The project's errors for users carry their fix ("... Fix: ..."): such a message is the whole story.
  if (err instanceof Error && err.message.includes(' Fix: ')) return err.message
  const e = err as NodeJS.ErrnoException & { port?: number, address?: string }
  if (e.code !== 'EADDRINUSE' && e.code !== 'EADDRNOTAVAIL' && e.code !== 'EACCES') return undefined
  const metrics = config.metrics.port !== undefined && e.port === config.metrics.port && e.port !== config.server.port
  const variable = metrics ? 'METRICS_PORT / metrics.port' : 'PORT'
  const host = metrics ? config.metrics.host : config.server.host
  const port = e.port ?? (metrics ? config.metrics.port : config.server.port)
  if (e.code === 'EADDRINUSE') {
    return `port ${String(port)} on ${host} (${variable}) is already in use, by another process or another gateway. ` +
      `Fix: stop that process, or set ${metrics ? 'METRICS_PORT' : 'PORT'} to a free port`
  }
  if (e.code === 'EACCES') {
    return `port ${String(port)} on ${host} (${variable}) needs privileges this process does not have. Fix: use a port above 1023`
  }
  return `${host}:${String(port)} (${metrics ? 'metrics.host' : 'HOST'}) is not an address of this machine. ` +
    `Fix: set ${metrics ? 'metrics.host' : 'HOST'} to one of its addresses, 0.0.0.0 (all IPv4) or :: (all)`
}
