import { KINESIS_MAX_BYTES_PER_PUT, KINESIS_MAX_RECORD_BYTES, KINESIS_MAX_RECORDS_PER_PUT } from '../config/limits.js'

/**
 * The seam between the delivery core and the service that stores records. The producer batches,
 * paces, retries and acknowledges; a sink only carries one call's worth of records and says, per
 * record, what became of it. A second sink (another AWS service, a unit test's double) is a
 * folder beside this one, not a change to the producer, which takes its batch limits from here.
 */

/** One record ready to store. `size` is data plus partition key bytes, as Kinesis counts them. */
export interface OutgoingRecord {
  readonly data: Uint8Array
  readonly partitionKey: string
  readonly size: number
  /**
   * Routes the record to a shard of the producer's choosing (a decimal 128-bit hash key), for
   * records whose partition key is random anyway (shard-pacer.ts). Kinesis then skips MD5.
   */
  explicitHashKey?: string | undefined
  /** The partition key is random (the event id): the pacer may pick the shard (explicitHashKey). */
  readonly routable?: boolean
}

/** What one call may carry: the producer never builds a larger batch. */
export interface SinkLimits {
  readonly maxRecordsPerCall: number
  readonly maxBytesPerCall: number
  readonly maxRecordBytes: number
}

/** PutRecords: at most 500 records and 5 MiB per call, 1 MiB per record (data plus key). */
export const KINESIS_LIMITS: SinkLimits = {
  maxRecordsPerCall: KINESIS_MAX_RECORDS_PER_PUT,
  maxBytesPerCall: KINESIS_MAX_BYTES_PER_PUT,
  maxRecordBytes: KINESIS_MAX_RECORD_BYTES
}

/**
 * The answer to one call, one slot per record sent, in order, as parallel arrays: no object per
 * record (the answer of a 500-record call is 500 pairs of strings, not 500 objects).
 * `errorCodes` is null when every record was stored; otherwise "" marks a stored record.
 */
export interface PutAnswer {
  readonly failed: number
  readonly shardIds: readonly string[]
  readonly sequenceNumbers: readonly string[]
  readonly errorCodes: readonly string[] | null
  readonly errorMessages: readonly string[] | null
}

export interface Sink {
  readonly limits: SinkLimits
  /**
   * Stores the records in one call. Rejects when the call as a whole failed (see retry-policy.ts).
   * `budgetMs`: the call must end within it (the earliest deadline of its records), or fail.
   */
  put: (stream: string, records: readonly OutgoingRecord[], budgetMs?: number) => Promise<PutAnswer>
  /** Closes connections; pending calls fail. */
  close?: () => void
}

/** Entries in the shape of the SDK's PutRecordsResultEntry (test doubles, the SDK's own answers). */
export interface ResultEntry {
  ShardId?: string | undefined
  SequenceNumber?: string | undefined
  ErrorCode?: string | undefined | null
  ErrorMessage?: string | undefined | null
}

/** A PutRecords-shaped function: what unit tests of the edge pass instead of a real endpoint. */
export type PutRecordsSender = (stream: string, records: readonly OutgoingRecord[]) => Promise<readonly ResultEntry[]>

/** A PutAnswer being filled in, slot by slot. */
export interface AnswerDraft {
  failed: number
  readonly shardIds: string[]
  readonly sequenceNumbers: string[]
  errorCodes: string[] | null
  errorMessages: string[] | null
}

export function answerDraft (count: number): AnswerDraft {
  return { failed: 0, shardIds: new Array<string>(count), sequenceNumbers: new Array<string>(count), errorCodes: null, errorMessages: null }
}

/** Marks slot `i` failed (the error arrays are made on the first failure only). */
export function setFailed (draft: AnswerDraft, i: number, code: string, message: string): void {
  if (draft.errorCodes === null || draft.errorMessages === null) {
    draft.errorCodes = new Array<string>(draft.shardIds.length).fill('')
    draft.errorMessages = new Array<string>(draft.shardIds.length).fill('')
  }
  draft.failed++
  draft.errorCodes[i] = code
  draft.errorMessages[i] = message
  draft.shardIds[i] = ''
  draft.sequenceNumbers[i] = ''
}

/** Turns entries into a PutAnswer; a missing entry is a retryable failure of its record. */
export function answerOfEntries (entries: readonly ResultEntry[], count: number): PutAnswer {
  const draft = answerDraft(count)
  for (let i = 0; i < count; i++) {
    const e = entries[i]
    const code = e === undefined ? 'MissingResult' : (e.ErrorCode ?? '')
    if (code !== '') {
      setFailed(draft, i, code, e === undefined ? 'PutRecords answered fewer entries than records sent' : (e.ErrorMessage ?? code))
    } else {
      draft.shardIds[i] = e?.ShardId ?? ''
      draft.sequenceNumbers[i] = e?.SequenceNumber ?? ''
    }
  }
  return draft
}

/** A sink around a PutRecords-shaped function (unit tests of the edge; never the data path). */
export function senderSink (send: PutRecordsSender, limits: SinkLimits = KINESIS_LIMITS): Sink {
  return {
    limits,
    put: async (stream, records) => answerOfEntries(await send(stream, records), records.length)
  }
}

/** The answer as SDK-shaped entries (tests, tools; never the data path). */
export function entriesOf (answer: PutAnswer): ResultEntry[] {
  return answer.shardIds.map((shardId, i) => {
    const code = answer.errorCodes?.[i] ?? ''
    return code === ''
      ? { ShardId: shardId, SequenceNumber: answer.sequenceNumbers[i] }
      : { ErrorCode: code, ErrorMessage: answer.errorMessages?.[i] ?? code }
  })
}
