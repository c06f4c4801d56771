import { createHash, randomUUID } from 'node:crypto'
import t from 'tap'
import { md5ShortAscii } from '../../src/delivery/md5-short.js'
import { hashKeyOf, ShardMap, type ShardRange } from '../../src/delivery/shard-map.js'

const MAX = 2n ** 128n - 1n

/** Shards splitting the key space evenly (as CreateStream does), or at the given boundaries. */
function evenShards (count: number): ShardRange[] {
  return Array.from({ length: count }, (_, i) => ({
    shardId: `shard-${i}`,
    start: (MAX + 1n) * BigInt(i) / BigInt(count),
    end: (MAX + 1n) * BigInt(i + 1) / BigInt(count) - 1n
  }))
}

function shardsAt (boundaries: bigint[]): ShardRange[] {
  const edges = [0n, ...boundaries, MAX + 1n]
  return edges.slice(1).map((next, i) => ({ shardId: `shard-${i}`, start: edges[i] as bigint, end: next - 1n }))
}

const keys = [
  '', 'a', 'user-1', 'x'.repeat(55), 'y'.repeat(56), 'The quick brown fox jumps over the lazy dog', 'ünïcødé-ключ-鍵', ...Array.from({ length: 2000 }, () => randomUUID())
]

t.test('indexOfPartitionKey gives the shard of the full 128-bit MD5 comparison', async (t) => {
  const maps: Array<[string, ShardMap]> = [
    ['one shard', new ShardMap(evenShards(1))],
    ['4 shards', new ShardMap(evenShards(4))],
    ['1000 shards', new ShardMap(evenShards(1000))],
    ['3 shards, unsorted', new ShardMap(evenShards(3).reverse())]
  ]
  // Boundaries right at the hashes of some keys, and one ulp beside them: the high 48 bits tie,
  // so only the exact comparison can decide.
  const tied = keys.slice(5, 15).map(hashKeyOf).sort((a, b) => (a < b ? -1 : 1))
  const boundaries = tied.flatMap((h, i) => (i % 2 === 0 ? [h] : [h + 1n]))
  maps.push(['boundaries at key hashes', new ShardMap(shardsAt([...new Set(boundaries)].sort((a, b) => (a < b ? -1 : 1))))])
  // A gap (a closed parent, children not yet listed): keys in it have no shard.
  const withGap = evenShards(4).filter((_, i) => i !== 2)
  maps.push(['a gap', new ShardMap(withGap)])
  let gapHits = 0
  for (const [name, map] of maps) {
    let mismatches = 0
    for (const key of keys) {
      const exact = map.indexOfHashKey(hashKeyOf(key))
      if (map.indexOfPartitionKey(key) !== exact) mismatches++
      if (name === 'a gap' && exact === -1) gapHits++
    }
    t.equal(mismatches, 0, `${name}: every key maps to the same shard`)
  }
  t.ok(gapHits > 0, 'keys in the gap were tried (and map to no shard)')
  const tiedMap = maps[4]?.[1] as ShardMap
  t.equal(tiedMap.shardIdFor(keys[5] as string), tiedMap.shards[tiedMap.indexOfHashKey(hashKeyOf(keys[5] as string))]?.shardId)
  t.equal(new ShardMap([]).indexOfPartitionKey('k'), -1, 'no shards: no index')
})

t.test('md5ShortAscii equals node:crypto MD5 for ASCII keys of 0-55 characters, and declines others', async (t) => {
  const out = new Uint32Array(4)
  const hex = (): string => [...out].map((w) => w.toString(16).padStart(8, '0')).join('')
  const ascii = Array.from({ length: 56 }, (_, n) => Array.from({ length: n }, (_, i) => String.fromCharCode(32 + ((i * 37 + n) % 95))).join(''))
  const isShortAscii = (k: string): boolean => k.length <= 55 && [...k].every((ch) => ch.charCodeAt(0) <= 0x7f)
  let declined = 0
  let mismatches = 0
  const tried = [...ascii, ...keys.filter(isShortAscii), '\x00\x7f']
  for (const key of tried) {
    if (!md5ShortAscii(key, out)) declined++
    else if (hex() !== createHash('md5').update(key, 'utf8').digest('hex')) mismatches++
  }
  t.equal(declined, 0, `all ${tried.length} short ASCII keys are hashed here`)
  t.equal(mismatches, 0, 'every digest matches node:crypto')
  t.notOk(md5ShortAscii('x'.repeat(56), out), 'longer than one block: declined')
  t.notOk(md5ShortAscii('ключ', out), 'not ASCII: declined')
})
