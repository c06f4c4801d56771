import type { FastifyRequest } from 'fastify'
import type { RequestFacts } from '../ingest/record-encoder.js'

/** What every envelope (and quarantine record) of this request shares. */
export function requestFacts (request: FastifyRequest): RequestFacts {
  return {
    receivedAt: new Date().toISOString(),
    sourceIp: request.ip,
    userAgent: request.headers['user-agent'],
    clientId: request.apiClient?.id
  }
}
