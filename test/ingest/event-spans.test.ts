import t from 'tap'
import { scanJson } from '../../src/ingest/event-spans.js'
import { post, startGateway, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { testKinesisClient, waitForRecords } from '../helpers/stream-reader.js'

/** The event texts scanJson finds in `text` (null where an event must be re-serialized). */
function spans (text: string): Array<string | null> {
  const buf = Buffer.from(text)
  const offsets: number[] = []
  t.equal(scanJson(buf, 0, buf.length, 64, offsets), false)
  const out: Array<string | null> = []
  for (let i = 0; i < offsets.length; i += 2) out.push(offsets[i]! < 0 ? null : buf.toString('utf8', offsets[i], offsets[i + 1]))
  return out
}

t.test('spans of objects and of array elements', async (t) => {
  t.same(spans('{"a":1}'), ['{"a":1}'])
  t.same(spans('  {"a": [1, {"b": "]},["}]}  \n'), ['{"a": [1, {"b": "]},["}]}'], 'whitespace around is trimmed; a trailing newline is fine')
  t.same(spans('[{"a":1},{"b":"x,y"} ,\n {"c":"\\"]"}]'), ['{"a":1}', '{"b":"x,y"}', '{"c":"\\"]"}'], 'commas and brackets in strings, escaped quotes')
  t.same(spans(String.raw`[{"a":"x\\"},{"b":"\\\"],["}, {"c":"\\\\"}]`), [String.raw`{"a":"x\\"}`, String.raw`{"b":"\\\"],["}`, String.raw`{"c":"\\\\"}`],
    'a quote after an even run of backslashes closes the string; after an odd run it is escaped')
  t.same(spans('[{"a":"never closed}]'), [], 'an unterminated string: no span (the parse refuses the text)')
  t.same(spans('[ {"a":[[1],[2]]}, {"é":"😀"} ]'), ['{"a":[[1],[2]]}', '{"é":"😀"}'], 'nested arrays, multi-byte text')
  t.same(spans('[{\n  "a": 1\n}, {"b":2}]'), [null, '{"b":2}'], 'a pretty-printed event has no span: its record would not be one line')
  t.same(spans('{\r\n"a":1}'), [null])
  t.same(spans('[]'), [])
  t.equal(scanJson(Buffer.from('[[[[1]]]]'), 0, 9, 3, undefined), true, 'too deep')
  t.equal(scanJson(Buffer.from('["[[[[[["]'), 0, 10, 3, undefined), false, 'brackets in strings do not count')
})

t.test('records hold the events as sent, one line each', async (t) => {
  const kinesis = await startKinesalite()
  t.teardown(() => kinesis.close())
  const reader = testKinesisClient(kinesis.endpoint)
  t.teardown(() => reader.destroy())
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { events: { stream, record: 'raw' } } })
  const body = '[ {"price": 1.50, "n": 1e2} ,\n{\n  "pretty": true\n}, {"s":"a\\u2028b"} ]'
  const res = await post(`${gw.url}/v1/events`, body)
  t.equal(res.status, 200)
  const single = await post(`${gw.url}/v1/events`, '\n {"single": 1.0}\n')
  t.equal(single.status, 200)
  const nd = await post(`${gw.url}/v1/events`, '{"line": 1.25}  \r\n{"line":2}', { 'content-type': 'application/x-ndjson' })
  t.equal(nd.status, 200)
  const texts = (await waitForRecords(reader, stream, 6)).map((r) => r.text).sort()
  t.same(texts, [
    '{"line": 1.25}\n',
    '{"line":2}\n',
    '{"pretty":true}\n',
    '{"price": 1.50, "n": 1e2}\n',
    '{"s":"a\\u2028b"}\n',
    '{"single": 1.0}\n'
  ].sort(), 'numbers and escapes as sent; the pretty-printed event re-serialized onto one line')
})
