/**
 * Turns events into Kinesis record data: one JSON line ending in "\n", so that Firehose's S3
 * objects are newline-delimited JSON that Athena, Glue and Spark read as they are.
 *
 * The envelope (snake_case, because Glue and Athena lower-case column names):
 *   {"event_id":"<uuid>","received_at":"<ISO-8601>","channel":"<name>",
 *    "source_ip":"<client ip>","user_agent":"<UA or null>","data":<the event as sent>}
 *
 * Everything but the id and the event is the same for every event of a request, so it is
 * serialized once per request (envelopeMiddle) and shared by the batch.
 */

export interface RequestFacts {
  readonly receivedAt: string
  readonly channel: string
  readonly sourceIp: string
  readonly userAgent: string | undefined
  /** Added by API-key authentication: the key's id, never the key. */
  readonly clientId?: string | undefined
}

/** The part of every envelope of one request that lies between the event id and the event. */
export function envelopeMiddle (facts: RequestFacts): string {
  return '","received_at":"' + facts.receivedAt +
    '","channel":' + JSON.stringify(facts.channel) +
    ',"source_ip":' + JSON.stringify(facts.sourceIp) +
    ',"user_agent":' + (facts.userAgent === undefined ? 'null' : JSON.stringify(facts.userAgent)) +
    (facts.clientId === undefined ? '' : ',"client_id":' + JSON.stringify(facts.clientId)) +
    ',"data":'
}

export function encodeEnvelope (eventId: string, middle: string, eventJson: string): string {
  return '{"event_id":"' + eventId + middle + eventJson + '}\n'
}

export function encodeRaw (eventJson: string): string {
  return eventJson + '\n'
}
