import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { StartError } from './start-failure.js'

export interface EmbeddedKinesis {
  readonly endpoint: string
  close (): Promise<void>
}

/**
 * An in-process, in-memory Kinesis-API server for development (kinesalite): no AWS account,
 * no Java, no Docker. It is a development dependency, so production images do not carry it,
 * and load-config.ts refuses to pick it when NODE_ENV=production.
 */
export async function startEmbeddedKinesis (port: number, host = '127.0.0.1'): Promise<EmbeddedKinesis> {
  let kinesalite: typeof import('kinesalite').default
  try {
    kinesalite = (await import('kinesalite')).default
  } catch {
    throw new StartError('the embedded Kinesis server (kinesalite) is not installed. ' +
      'Fix: run `npm install` (it is a development dependency), or set KINESIS_ENDPOINT or AWS_REGION')
  }
  // Streams become ACTIVE at once: nobody waits half a second per stream on a laptop.
  const server: Server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 1000 })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE'
        ? new StartError(`port ${port} on ${host} for the embedded Kinesis server (KINESIS_LOCAL_PORT) is already in use, ` +
          'perhaps by another `npm start`. Fix: stop it, or set KINESIS_LOCAL_PORT to a free port (0 picks one)')
        : err)
    })
    server.listen(port, host, resolve)
  })
  const address = server.address() as AddressInfo
  return {
    endpoint: `http://${host}:${address.port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections?.()
    })
  }
}
