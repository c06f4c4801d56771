import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { KinesisClient } from '@aws-sdk/client-kinesis'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import type { KinesisConfig } from '../config/types.js'

/** Development endpoints accept any signature; these keep the credential chain from failing there. */
const LOCAL_CREDENTIALS = { accessKeyId: 'kinesis-gateway-local', secretAccessKey: 'kinesis-gateway-local' }

/**
 * A Kinesis client tuned on purpose.
 *
 * The SDK's Kinesis client defaults to an HTTP/2 handler (for SubscribeToShard), which fails
 * with "Protocol error" against plain-http endpoints such as kinesalite or LocalStack. The gateway
 * never consumes with SubscribeToShard, so it always uses HTTP/1.1 with a keep-alive socket pool:
 * it works against every Kinesis-API server, and socket limits and timeouts are explicit.
 *
 * `maxAttempts` is 1 for the producer: delivery retries failed records itself, per record and
 * within each record's deadline, and SDK-level retries would double-count that time.
 */
export function createKinesisClient (config: KinesisConfig, options: { maxAttempts?: number, cacheMiddleware?: boolean } = {}): KinesisClient {
  const agentOptions = { keepAlive: true, maxSockets: config.maxSockets, keepAliveMsecs: 1000 }
  return new KinesisClient({
    region: config.region,
    ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
    ...(config.localCredentials ? { credentials: LOCAL_CREDENTIALS } : {}),
    maxAttempts: options.maxAttempts ?? 3,
    // The SDK then resolves each command class's middleware chain once, not on every send: for the
    // producer's client, whose calls never pass per-call options (they would turn the cache off).
    cacheMiddleware: options.cacheMiddleware ?? false,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: config.connectTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions)
    })
  })
}
