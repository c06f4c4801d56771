import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Channel, ChannelRegistry } from '../channels/channel-registry.js'
import type { FrontDoorHooks } from '../front-door/front-door.js'
import { codecOf } from '../ingest/formats/input-formats.js'
import { eventsOf, prepareRecords } from '../ingest/prepare-records.js'
import { decodeContentEncoding } from './body-parsers.js'
import { channelOf } from './ingest-route.js'
import { requestFacts } from './request-facts.js'
import type { EventError } from './problems.js'

interface DryRunAnswer {
  valid: boolean
  events: number
  passed: number
  failed: number
  errors: EventError[]
}

const dryRunSchema = {
  type: 'object',
  required: ['valid', 'events', 'passed', 'failed', 'errors'],
  properties: {
    valid: { type: 'boolean' },
    events: { type: 'integer' },
    passed: { type: 'integer' },
    failed: { type: 'integer' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: { index: { type: 'integer' }, pointer: { type: 'string' }, reason: { type: 'string' } }
      }
    }
  }
} as const

/**
 * POST /v1/:channel/validate — the dry run a partner uses before sending for real. The same body
 * formats, the same key, limits and checks as POST /v1/:channel (schema, partition key, record size),
 * but nothing is written and no daily quota is spent. Answers 200 with every event's problems;
 * a body that POST /v1/:channel could not even parse gets the same 4xx problem.
 */
export function validateRoute (app: FastifyInstance, registry: ChannelRegistry, frontDoor: FrontDoorHooks, versions: readonly number[]): void {
  for (const version of versions) {
    app.post(`/v${version}/:channel/validate`, {
      schema: { response: { 200: dryRunSchema } },
      config: { version },
      // Same key and limits as a real send; no idempotency (nothing is written).
      onRequest: frontDoor.onRequest,
      preParsing: async (request, _reply, payload) => {
        request.channel ??= channelOf(registry, request)
        return decodeContentEncoding(request, payload)
      }
    }, async (request) => dryRun(request, request.channel as Channel))
  }
}

function dryRun (request: FastifyRequest, channel: Channel): DryRunAnswer {
  // The same steps as a real send (ingest/prepare-records.ts), without building record data.
  // A channel with an input format (Segment, OTLP) is judged on what its decoder makes of the body.
  const codec = codecOf(channel.config.format)
  const decoded = codec === undefined ? { events: eventsOf(request.body, channel.config) } : codec.decode(request.body, { config: channel.config })
  const prepared = prepareRecords(channel, decoded.events, {
    facts: requestFacts(request),
    headers: request.headers,
    spans: codec === undefined ? request.eventSpans : null,
    checkOnly: true,
    partitionKeys: decoded.partitionKeys,
    formatProblems: decoded.problems
  })
  const { count, failing, errors } = prepared
  return { valid: failing === 0, events: count, passed: count - failing, failed: failing, errors }
}
