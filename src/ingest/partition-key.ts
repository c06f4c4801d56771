import type { IncomingHttpHeaders } from 'node:http'
import { KINESIS_MAX_PARTITION_KEY_CHARS } from '../config/limits.js'
import type { PartitionKeySource } from '../config/types.js'

/** A partition key, or why the event's key cannot be used. */
export type PartitionKeyResult = string | { readonly invalid: string }

/**
 * The partition key of one event. A missing key (absent pointer target, null, empty string,
 * absent header) falls back to the event id, which spreads events evenly over the shards;
 * a key that Kinesis would refuse (an object, or more than 256 characters) is the client's error.
 */
export function partitionKeyFor (source: PartitionKeySource, event: unknown, headers: IncomingHttpHeaders, eventId: string): PartitionKeyResult {
  let value: unknown
  switch (source.kind) {
    case 'random':
    case 'format':
      return eventId
    case 'header':
      value = headers[source.header]
      if (Array.isArray(value)) value = value[0]
      break
    case 'pointer':
      value = event
      for (const token of source.tokens) {
        if (value === null || typeof value !== 'object') { value = undefined; break }
        value = (value as Record<string, unknown>)[token]
      }
      break
  }
  if (value === undefined || value === null || value === '') return eventId
  if (typeof value === 'string') return checkedKey(value)
  if (typeof value === 'number' || typeof value === 'boolean') return checkedKey(String(value))
  return { invalid: 'is an object or array; a partition key must be a string or a number' }
}

/** A key Kinesis accepts as it is, or why not (also for keys an input format chose). */
export function checkedKey (key: string): PartitionKeyResult {
  // Length in characters as Kinesis counts them (Unicode code points); .length is a fast upper bound.
  if (key.length > KINESIS_MAX_PARTITION_KEY_CHARS && [...key].length > KINESIS_MAX_PARTITION_KEY_CHARS) {
    return { invalid: `is longer than ${KINESIS_MAX_PARTITION_KEY_CHARS} characters, the Kinesis limit for partition keys` }
  }
  return key
}
