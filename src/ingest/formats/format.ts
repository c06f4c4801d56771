import type { ChannelConfig, InputFormat } from '../../config/types.js'
import type { EventError } from '../../http/problems.js'

/**
 * An input format: a decoder in front of the one ingest path (prepare-records.ts, the ack modes),
 * never a pipeline of its own. It turns a parsed body into events, adds what the protocol says
 * about each (its own required fields, its partition key, its de-duplication id) and renders the
 * answer the protocol's clients expect. Nothing here knows Fastify.
 */

/** What a format may look at besides the parsed body (a protobuf body arrives as its bytes). */
export interface DecodeContext {
  readonly config: ChannelConfig
}

/** A body decoded into events, with per-event facts for prepareRecords (arrays indexed like events). */
export interface Decoded {
  readonly events: unknown[]
  /** Per event, the key the protocol implies (Segment: userId, else anonymousId), used on `partitionKey: format` channels. */
  readonly partitionKeys?: ReadonlyArray<string | undefined>
  /** Per event, why the protocol refuses it (e.g. a Segment track call without `event`). */
  readonly problems?: ReadonlyArray<EventError | undefined>
  /** Per event, the id under which a retry of it is recognised (Segment messageId, an OTLP record's fingerprint). */
  readonly dedupIds?: ReadonlyArray<string | undefined>
  /** The answer is to be encoded as protobuf (OTLP: a protobuf request gets a protobuf answer). */
  readonly binary?: boolean
}

/** What happened to a request's events, for the answer. */
export interface Outcome {
  /** Events in the request. */
  readonly count: number
  /** Events taken: written (or queued, per the channel's ack mode), or already taken by an earlier try. */
  readonly accepted: number
  /** Of those, events already taken by an earlier try (same de-duplication id): not written again. */
  readonly duplicates: number
  /** Events refused for good (protocol rules, schema, partition key, size). */
  readonly rejected: number
  /** Of those, events kept in the channel's quarantine stream. */
  readonly quarantined: number
  /** The first problems of the refused events (capped). */
  readonly errors: readonly EventError[]
  readonly binary: boolean
}

/** An answer: status, media type and body. */
export interface FormatAnswer {
  readonly status: number
  readonly contentType: string
  readonly body: string | Uint8Array
}

/** An error answer as problem+json would carry it: what a format renders its own way. */
export interface FormatProblem {
  readonly status: number
  readonly code: string
  readonly detail: string
}

export interface InputFormatCodec {
  readonly name: Exclude<InputFormat, 'json'>
  /** Throws GatewayError when the body as a whole is not of the format. */
  decode: (body: unknown, context: DecodeContext) => Decoded
  answer: (outcome: Outcome) => FormatAnswer
  /** The body of an error answer (OTLP requires google.rpc.Status); undefined keeps problem+json. */
  problem?: (problem: FormatProblem, binary: boolean) => FormatAnswer
}
