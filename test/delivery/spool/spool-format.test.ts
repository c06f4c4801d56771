import t from 'tap'
import { crc32 } from '../../../src/delivery/spool/crc32.js'
import { decodeRecords, encodeRecords, RECORD_HEADER_BYTES } from '../../../src/delivery/spool/spool-format.js'
import type { OutgoingRecord } from '../../../src/delivery/stream-producer.js'

function record (text: string, key: string): OutgoingRecord {
  const data = Buffer.from(text)
  return { data, partitionKey: key, size: data.length + Buffer.byteLength(key) }
}

t.test('crc32 matches the standard check values', async (t) => {
  t.equal(crc32(Buffer.from('123456789')), 0xCBF43926, 'CRC-32/ISO-HDLC check value')
  t.equal(crc32(Buffer.alloc(0)), 0)
  t.equal(crc32(Buffer.from('The quick brown fox jumps over the lazy dog')), 0x414FA339)
})

const records = [record('{"a":1}\n', 'k1'), record('{"b":"ünïcode"}\n', 'clé-ü'), record('x'.repeat(70_000), 'big')]

t.test('records round-trip: data, partition key and size', async (t) => {
  const buf = encodeRecords(records)
  const out = decodeRecords(buf, true, Infinity)
  t.equal(out.corrupt, false)
  t.equal(out.consumed, buf.length)
  t.same(out.records.map((r) => [Buffer.from(r.data).toString(), r.partitionKey, r.size]),
    records.map((r) => [Buffer.from(r.data).toString(), r.partitionKey, r.size]))
})

t.test('a record cut by a read (not at the end) is left for the next read', async (t) => {
  const buf = encodeRecords(records)
  const out = decodeRecords(buf.subarray(0, buf.length - 10), false, Infinity)
  t.equal(out.corrupt, false)
  t.equal(out.records.length, 2)
})

t.test('a torn tail is detected and the records before it are kept', async (t) => {
  const buf = encodeRecords(records)
  for (const cut of [1, 10, 70_000, buf.length - encodeRecords(records.slice(0, 2)).length - 3]) {
    const out = decodeRecords(buf.subarray(0, buf.length - cut), true, Infinity)
    t.equal(out.corrupt, true, `cut ${cut} bytes: detected`)
    t.equal(out.records.length, 2, `cut ${cut} bytes: the two whole records are kept`)
  }
})

t.test('flipped bits and zero-filled tails are detected', async (t) => {
  const whole = encodeRecords(records.slice(0, 2))
  const flipped = Buffer.concat([whole, encodeRecords([records[0] as OutgoingRecord])])
  const at = whole.length + RECORD_HEADER_BYTES + 3
  flipped[at] = (flipped[at] as number) ^ 0x40
  const a = decodeRecords(flipped, true, Infinity)
  t.equal(a.corrupt, true)
  t.equal(a.corrupt && a.reason, 'checksum mismatch')
  t.equal(a.records.length, 2)
  t.equal(a.consumed, whole.length)

  const zeros = decodeRecords(Buffer.concat([whole, Buffer.alloc(4096)]), true, Infinity)
  t.equal(zeros.corrupt, true, 'a zero-filled tail (power loss) is not read as empty records')
  t.equal(zeros.records.length, 2)
})

t.test('a spool folder is locked by one process; a dead owner\'s lock is taken over', async (t) => {
  const { mkdtemp, rm, writeFile, readFile } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { lockSpool } = await import('../../../src/delivery/spool/spool-files.js')
  const dir = await mkdtemp(join(tmpdir(), 'kg-lock-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // A live process other than us: our parent (the tap runner).
  await writeFile(join(dir, 'lock'), String(process.ppid))
  await t.rejects(lockSpool(dir), /in use by process/)
  // A pid that cannot be alive (above the Linux pid_max ceiling): a stale lock after kill -9.
  await writeFile(join(dir, 'lock'), '4194305')
  const unlock = await lockSpool(dir)
  t.equal(await readFile(join(dir, 'lock'), 'utf8'), String(process.pid))
  await unlock()
})
