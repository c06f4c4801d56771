/**
 * Where each event of a JSON or NDJSON body lies in the body's bytes, found while the body is
 * checked for nesting depth (one pass over the bytes that is made anyway).
 *
 * Why: the ingest route used to re-serialize every parsed event with JSON.stringify and encode
 * the result to UTF-8 again; under 100-event batches that was the largest self-time item of the
 * gateway's own code. With spans, a record copies the event's bytes as the client sent them.
 * A record must be one line (records are JSON lines), so an event whose text holds a line break
 * (pretty-printed JSON: only possible between tokens, never raw inside a string) has no span
 * and is serialized as before.
 */
export interface EventSpans {
  readonly body: Buffer
  /** start, end of event i at 2i, 2i+1; start -1 when the event must be re-serialized. */
  readonly offsets: number[]
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d

/**
 * Scans one JSON text. Returns true when it nests deeper than `limit` (the caller refuses it);
 * otherwise, if `offsets` is given, appends the span of the text itself (an object) or of each
 * element of a top-level array. The text is valid JSON only once parsed: spans are used after that.
 */
export function scanJson (buf: Uint8Array, start: number, end: number, limit: number, offsets: number[] | undefined): boolean {
  let first = start
  while (first < end && isSpace(buf[first] as number)) first++
  const array = buf[first] === 0x5b
  /** The depth at which events sit: 1 inside a top-level array, 0 for a single object. */
  const eventDepth = array ? 1 : 0
  let depth = 0
  let eventStart = array ? -1 : first
  let lastByte = -1
  let multiline = false
  for (let i = first; i < end; i++) {
    const c = buf[i]
    if (c === 0x20 || c === 0x09) continue
    if (c === 0x0a || c === 0x0d) {
      if (depth > eventDepth) multiline = true // a line break inside an event (events are objects)
      continue
    }
    if (array && depth === 1 && (c === 0x2c || c === 0x5d)) {
      // "," or the closing "]" ends an element
      if (eventStart !== -1) pushSpan(offsets, eventStart, lastByte + 1, multiline)
      eventStart = -1
      if (c === 0x5d) depth--
      continue
    }
    if (depth === eventDepth && eventStart === -1) { eventStart = i; multiline = false }
    if (c === 0x22) {
      // A string: jump to its closing quote with a native search (most of an event's bytes are
      // string contents; profiled at ~7% of the gateway's CPU when walked byte by byte). A quote
      // preceded by an odd run of backslashes is escaped. Raw line breaks cannot occur in a
      // valid string, so skipping over them changes no span (invalid text fails the parse later).
      i = closingQuote(buf, i, end)
      lastByte = i
      continue
    }
    if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true
    } else if (c === 0x7d || c === 0x5d) depth--
    lastByte = i
  }
  if (!array && eventStart !== -1) pushSpan(offsets, eventStart, lastByte + 1, multiline)
  return false
}

/** The index of the quote closing the string opened at `open`, or `end` when there is none before it. */
function closingQuote (buf: Uint8Array, open: number, end: number): number {
  let j = open
  for (;;) {
    j = buf.indexOf(0x22, j + 1)
    if (j === -1 || j >= end) return end
    let backslashes = 0
    for (let k = j - 1; k > open && buf[k] === 0x5c; k--) backslashes++
    if ((backslashes & 1) === 0) return j
  }
}

function pushSpan (offsets: number[] | undefined, start: number, end: number, multiline: boolean): void {
  if (offsets === undefined) return
  offsets.push(multiline ? -1 : start, end)
}
