import { mkdir, open, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { compileGlob, expandGlob, matchesGlob } from '../../src/ship/glob.js'
import { LineReader } from '../../src/ship/line-reader.js'

t.test('lines by offset: CRLF, a half-written last line, a long line cut on a character boundary with bounded reads', async (t) => {
  const dir = t.testdir({})
  const file = join(dir, 'a.log')
  const long = 'ab' + '€'.repeat(100_000) // 300,002 bytes, over several 64 KiB chunks
  await writeFile(file, `one\r\n${long}\ntwo\nhalf`)
  const fh = await open(file, 'r')
  t.teardown(() => fh.close())
  const reader = new LineReader(fh, 1000)
  const one = await reader.lineAt(0)
  t.same([one?.bytes.toString(), one?.end, one?.truncated], ['one', 5, false], 'the CR before the newline is dropped')
  const cut = await reader.lineAt(5)
  t.equal(cut?.truncated, true)
  t.equal(cut?.bytes.toString(), 'ab' + '€'.repeat(332), 'cut at 998 bytes, before a character that would not fit whole')
  t.equal(cut?.end, 5 + Buffer.byteLength(long) + 1, 'the line ends after its newline')
  const two = await reader.lineAt(cut?.end ?? 0)
  t.equal(two?.bytes.toString(), 'two')
  t.equal(await reader.lineAt(two?.end ?? 0), undefined, 'a line without its newline is not a line yet')
  const last = await reader.lineAt(two?.end ?? 0, true)
  t.equal(last?.bytes.toString(), 'half', 'unless the file is final')
  t.equal(last?.end, Buffer.byteLength(`one\r\n${long}\ntwo\nhalf`))
  t.equal((await new LineReader(fh, 1000).lineAt(5))?.end, cut?.end, 'a fresh reader finds the same line at the same offset (the restart case)')
})

t.test('globs: *, ?, classes, ** and no leading dots', async (t) => {
  const dir = t.testdir({ 'a.log': '', 'b.log': '', '.hidden.log': '', 'c.txt': '', sub: { 'd.log': '', deeper: { 'e.log': '' } } })
  await mkdir(join(dir, 'empty'))
  const names = async (p: string): Promise<string[]> => (await expandGlob(compileGlob(join(dir, p)))).files.map((f) => f.slice(dir.length + 1)).sort()
  t.same(await names('*.log'), ['a.log', 'b.log'])
  t.same(await names('[a]?log'), ['a.log'])
  t.same(await names('**/*.log'), ['a.log', 'b.log', 'sub/d.log', 'sub/deeper/e.log'])
  t.same(await names('sub/*/e.log'), ['sub/deeper/e.log'])
  t.same(await names('c.txt'), ['c.txt'], 'a literal path')
  t.same(await names('missing/*.log'), [], 'a folder that is not there yet')
  const g = compileGlob(join(dir, '**/*.gz'))
  t.ok(matchesGlob(g, join(dir, 'x/y/app.log.2.gz')))
  t.notOk(matchesGlob(g, join(dir, 'app.log')))
})
