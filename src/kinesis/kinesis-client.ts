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
 * This client is the control plane (ListShards, DescribeStream, CreateStream, the CLI) and lends
 * its credential chain, region and SHA-256 to the data path's own sender (put-records-sender.ts).
 * `maxAttempts` 1 suits callers that retry themselves.
 */
export function createKinesisClient (config: KinesisConfig, options: { maxAttempts?: number } = {}): KinesisClient {
  const agentOptions = { keepAlive: true, maxSockets: config.maxSockets, keepAliveMsecs: 1000 }
  return new KinesisClient({
    region: config.region,
    ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
    ...(config.localCredentials ? { credentials: LOCAL_CREDENTIALS } : {}),
    maxAttempts: options.maxAttempts ?? 3,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: config.connectTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions)
    })
  })
}
