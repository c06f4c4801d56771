import { appendFile, stat, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startGateway, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { runCli } from '../helpers/run-cli.js'
import { lines, messages, readStateFile, startShip, until, untilEvent, untilEvents } from '../helpers/ship-run.js'
import { testKinesisClient } from '../helpers/stream-reader.js'
import { FAST, text } from '../helpers/ship.js'

/**
 * Issue 16: `kinesis-gateway ship` as a user runs it (a child process), real files in a temporary
 * folder, the real gateway over HTTP against kinesalite, the lines read back with GetRecords.
 */
const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

t.test('growth, a partly written line, a file created after start; text events carry file and host; SIGTERM checkpoints', async (t) => {
  const dir = t.testdir({})
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { logs: { stream } } })
  const a = join(dir, 'a.log')
  const state = join(dir, 'state.json')
  await writeFile(a, text(lines('a', 3)))
  await writeFile(join(dir, 'ignored.txt'), 'not matched\n')
  const run = startShip(t, ['logs', join(dir, '*.log'), '--gateway', gw.url, '--state', state, ...FAST])

  let events = await untilEvents(reader, stream, 3)
  t.same(events[0], { message: lines('a', 1)[0], file: a, host: hostname() }, 'a text event is {message, file, host}')

  // Growth, with a line written in two pieces: the half line is not shipped on its own.
  await appendFile(a, text(lines('a', 2, 3)) + 'a-half')
  await appendFile(a, ' done\n')
  const b = join(dir, 'b.log')
  await writeFile(b, text(lines('b', 4)))
  await untilEvent(run, 'follow', (l) => l.file === b)
  events = await untilEvents(reader, stream, 10)
  t.same(messages(events), [...lines('a', 5), 'a-half done', ...lines('b', 4)].sort(), 'every line once, whole; the .txt file is not matched')
  t.same(events.filter((e) => e.file === b).map((e) => e.message), lines('b', 4), 'a file created after start is read from its start, in order')

  // The state file reaches the end of both files; SIGTERM ends the command with exit 0.
  const sizes = new Map([[a, (await stat(a)).size], [b, (await stat(b)).size]])
  await until('checkpoints at the end of both files', async () => {
    const s = await readStateFile(state)
    return s?.inflight === undefined && s?.files.length === 2 && s.files.every((f) => f.offset === sizes.get(f.path)) ? true : undefined
  })
  run.child.kill('SIGTERM')
  t.equal(await run.exited, 0, 'SIGTERM: exit 0')
  t.match(run.log().at(-1), { event: 'stop', shippedLines: 10 })
  t.ok(run.log().some((l) => l.event === 'progress' && typeof l.lagBytes === 'number'), 'progress lines report lag')

  // A second run ships nothing again: it resumes at the checkpoints.
  await appendFile(a, 'after restart\n')
  const again = startShip(t, ['logs', join(dir, '*.log'), '--gateway', gw.url, '--state', state, ...FAST])
  events = await untilEvents(reader, stream, 11)
  t.same(messages(events), [...lines('a', 5), 'a-half done', ...lines('b', 4), 'after restart'].sort(), 'only the new line after a restart')
  t.match(again.log().find((l) => l.event === 'follow' && l.file === a), { msg: /\(checkpoint\)/ })
  again.child.kill('SIGTERM')
  t.equal(await again.exited, 0)
})

t.test('a line over the limit is cut at a character boundary and marked; invalid UTF-8 becomes U+FFFD and is reported', async (t) => {
  const dir = t.testdir({})
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { logs: { stream } } })
  const log = join(dir, 'app.log')
  // 2 MiB: more than a Kinesis record holds (1 MiB); the default --max-line-bytes (512 KiB) cuts it.
  const long = 'é'.repeat(1024 * 1024)
  await writeFile(log, Buffer.concat([
    Buffer.from('first\n' + long + '\n'),
    Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x0a]),
    Buffer.from('last\n')
  ]))
  const run = startShip(t, ['logs', log, '--gateway', gw.url, '--state', join(dir, 'state.json'), ...FAST])
  const events = await untilEvents(reader, stream, 4)
  const cut = events.find((e) => e.truncated === true)
  t.ok(cut, 'the long line is shipped, marked truncated')
  t.equal(String(cut?.message), 'é'.repeat(256 * 1024), 'cut to 512 KiB on a character boundary (no broken character)')
  t.same(events.filter((e) => e.truncated !== true).map((e) => e.message), ['first', 'a\uFFFD\uFFFDb', 'last'], 'the lines around it are intact, in order')
  await untilEvent(run, 'invalid-utf8', (l) => l.file === log && l.offset === 6 + Buffer.byteLength(long) + 1)
  run.child.kill('SIGTERM')
  t.equal(await run.exited, 0)
})

t.test('--format json: objects are the events; lines that are not JSON objects are skipped or wrapped; refused lines are reported with their position', async (t) => {
  const dir = t.testdir({})
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { orders: { stream, schema: 'schemas/order.json' } } })
  const log = join(dir, 'orders.log')
  const valid = (n: number): string => JSON.stringify({ order_id: `o${n}`, user_id: 'u1', amount: n })
  const body = [valid(1), 'not json', '', valid(2), JSON.stringify({ order_id: 'bad', user_id: 'u1', amount: -5 }), '[1,2]', valid(3)]
  await writeFile(log, body.join('\n') + '\n')
  const badOffset = body.slice(0, 4).join('\n').length + 1
  const run = startShip(t, ['orders', log, '--gateway', gw.url, '--state', join(dir, 'state.json'), '--format', 'json', '--invalid-json', 'skip', ...FAST])
  const events = await untilEvents(reader, stream, 3)
  t.same(events.map((e) => e.order_id), ['o1', 'o2', 'o3'], 'the valid orders, in order, nothing else')
  const rejected = await untilEvent(run, 'rejected')
  t.match(rejected, { level: 'error', file: log, offset: badOffset, pointer: '/amount', msg: /GW_ERR_INVALID_EVENTS/ }, 'the refused line is named by file and offset, with the gateway\'s problem')
  t.equal(run.log().filter((l) => l.event === 'skipped').length, 2, '"not json" and the array are reported as skipped')
  await until('the checkpoint past the refused line', async () => (await readStateFile(join(dir, 'state.json')))?.files[0]?.offset === body.join('\n').length + 1 ? true : undefined)
  run.child.kill('SIGTERM')
  t.equal(await run.exited, 0)

  // wrap (the default): the non-JSON line is sent as text, marked; the channel's schema then refuses it (reported).
  const stream2 = uniqueStream()
  const gw2 = await startGateway(t, { endpoint: kinesis.endpoint, channels: { any: { stream: stream2 } } })
  const run2 = startShip(t, ['any', log, '--gateway', gw2.url, '--state', join(dir, 'state2.json'), '--format', 'json', ...FAST])
  const all = await untilEvents(reader, stream2, 6)
  t.same(all.filter((e) => e.invalid_json === true).map((e) => e.message), ['not json', '[1,2]'])
  run2.child.kill('SIGTERM')
  t.equal(await run2.exited, 0)
})

t.test('refusals retrying cannot fix stop the command with the problem; bad command lines are usage errors', async (t) => {
  const dir = t.testdir({ 'a.log': 'x\n' })
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { logs: { stream } } })
  const unknown = await runCli(['ship', 'nope', join(dir, 'a.log'), '--gateway', gw.url, '--state', join(dir, 's.json'), ...FAST])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /404 GW_ERR_UNKNOWN_CHANNEL.*positions are kept in/s)
  const usage = await runCli(['ship', 'logs', join(dir, 'a.log')])
  t.equal(usage.code, 2)
  t.match(usage.stderr, /ship needs --gateway URL/)
  const format = await runCli(['ship', 'logs', 'x', '--gateway', gw.url, '--format', 'xml'])
  t.equal(format.code, 2)
  t.match(format.stderr, /--format must be text or json/)
})
