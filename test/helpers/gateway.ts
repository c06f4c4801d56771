import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { stringify } from 'yaml'
import { buildApp, type BuildOptions } from '../../src/app.js'
import { parseConfig } from '../../src/config/load-config.js'
import type { GatewayConfig } from '../../src/config/types.js'

/** Test configurations live beside the fixture schemas, so `schema: schemas/x.json` resolves there. */
export const FIXTURE_CONFIG_FILE = fileURLToPath(new URL('../fixtures/gateway.test.yaml', import.meta.url))

export interface Teardown { teardown (fn: () => unknown): void }

export function uniqueStream (prefix = 'test'): string {
  return `${prefix}-${randomUUID()}`
}

export interface TestChannel {
  stream: string
  schema?: string
  partitionKey?: string
  record?: 'envelope' | 'raw'
  maxEventsPerRequest?: number
  [key: string]: unknown
}

export interface GatewayOptions {
  readonly endpoint: string
  readonly channels: Record<string, TestChannel>
  /** Extra top-level configuration (delivery, server, ...). */
  readonly extra?: Record<string, unknown>
  readonly env?: Record<string, string>
  readonly build?: BuildOptions
}

/** A validated configuration for a test, written as the YAML a user would write. */
export function testConfig (opts: GatewayOptions): GatewayConfig {
  const channels: Record<string, TestChannel> = {}
  for (const [name, ch] of Object.entries(opts.channels)) channels[name] = { schema: 'schemas/any.json', ...ch }
  const text = stringify({ ...opts.extra, channels })
  return parseConfig(text, FIXTURE_CONFIG_FILE, {
    KINESIS_ENDPOINT: opts.endpoint,
    KINESIS_CREATE_STREAMS: 'true',
    PORT: '0',
    ...opts.env
  })
}

export interface RunningGateway {
  readonly app: FastifyInstance
  /** http://127.0.0.1:<port> */
  readonly url: string
  readonly config: GatewayConfig
}

/** Builds the real app (streams created on the endpoint), listens on a free port, closes at teardown. */
export async function startGateway (t: Teardown, opts: GatewayOptions): Promise<RunningGateway> {
  const config = testConfig(opts)
  const app = await buildApp(config, { logger: false, ...opts.build })
  t.teardown(() => app.close())
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, url, config }
}

/** POST helper over real HTTP. */
export async function post (url: string, body: string | Uint8Array, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<{ status: number, headers: Headers, json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', body, headers })
  const text = await res.text()
  let json: Record<string, unknown>
  try { json = JSON.parse(text) as Record<string, unknown> } catch { json = { text } }
  return { status: res.status, headers: res.headers, json }
}
