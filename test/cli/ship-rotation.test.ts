import { appendFile, open, rename, rm, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { startGateway, uniqueStream } from '../helpers/gateway.js'
import { startKinesalite } from '../helpers/kinesis-servers.js'
import { lines, messages, readStateFile, shippedEvents, startShip, until, untilEvent, untilEvents } from '../helpers/ship-run.js'
import { testKinesisClient } from '../helpers/stream-reader.js'
import { FAST, text } from '../helpers/ship.js'

/**
 * Issue 16: `kinesis-gateway ship` through log rotation, as a user runs it (a child process), real files in a temporary
 * folder, the real gateway over HTTP against kinesalite, the lines read back with GetRecords.
 */
const kinesis = await startKinesalite()
t.teardown(() => kinesis.close())
const reader = testKinesisClient(kinesis.endpoint)
t.teardown(() => reader.destroy())

t.test('rotation by rename-and-create: the old file is read to its end (even lines written after the rename), then released', async (t) => {
  const dir = t.testdir({})
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { logs: { stream } } })
  const log = join(dir, 'app.log')
  const state = join(dir, 'state.json')
  const writer = await open(log, 'a')
  t.teardown(() => writer.close())
  await writer.write(text(lines('old', 5)))
  const run = startShip(t, ['logs', log, '--gateway', gw.url, '--state', state, ...FAST])
  await untilEvents(reader, stream, 5)

  // logrotate without copytruncate: rename, create a new file; the app writes to its old handle until it reopens.
  await rename(log, join(dir, 'app.log.1'))
  await writer.write(text(lines('old', 3, 5)) + 'old tail without newline')
  await writeFile(log, text(lines('new', 4)))
  await untilEvent(run, 'rotated')
  await untilEvent(run, 'follow', (l) => l.file === log && l.offset === 0)
  const events = await untilEvents(reader, stream, 13)
  t.same(messages(events), [...lines('old', 8), 'old tail without newline', ...lines('new', 4)].sort(),
    'every line of both files, once; the old file\'s last line without a newline is sent when it stopped growing')
  await untilEvent(run, 'released')
  const s = await until('the state file without the released file', async () => {
    const st = await readStateFile(state)
    return st?.files.length === 1 ? st : undefined
  })
  t.equal(s.files[0]?.path, log, 'only the new file is checkpointed')
  run.child.kill('SIGTERM')
  t.equal(await run.exited, 0)
})

t.test('rotation by copytruncate: the shrunk file is read again from 0; a deleted file is released', async (t) => {
  const dir = t.testdir({})
  const stream = uniqueStream()
  const gw = await startGateway(t, { endpoint: kinesis.endpoint, channels: { logs: { stream } } })
  const log = join(dir, 'app.log')
  const state = join(dir, 'state.json')
  await writeFile(log, text(lines('before', 6)))
  const run = startShip(t, ['logs', log, '--gateway', gw.url, '--state', state, ...FAST])
  await untilEvents(reader, stream, 6)
  await until('the checkpoint at the end of the file', async () => (await readStateFile(state))?.files[0]?.offset === Buffer.byteLength(text(lines('before', 6))) ? true : undefined)

  await writeFile(join(dir, 'app.log.1'), text(lines('before', 6))) // the copy (not matched)
  await truncate(log, 0)
  await appendFile(log, text(lines('after', 2)))
  await untilEvent(run, 'truncated')
  let events = await untilEvents(reader, stream, 8)
  t.same(messages(events), [...lines('before', 6), ...lines('after', 2)].sort(), 'the lines after the truncation, once')

  await rm(log)
  await untilEvent(run, 'released', (l) => l.file === log)
  await until('no file left in the state', async () => (await readStateFile(state))?.files.length === 0 ? true : undefined)
  events = await shippedEvents(reader, stream)
  t.equal(events.length, 8, 'nothing shipped twice')
  run.child.kill('SIGTERM')
  t.equal(await run.exited, 0)
})
