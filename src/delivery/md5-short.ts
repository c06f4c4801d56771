/**
 * MD5 (RFC 1321) of a short ASCII string, in JavaScript, without allocating: the partition keys
 * of most records (event ids, user ids) are ASCII and fit one 64-byte MD5 block (<= 55 bytes).
 * Profiling 100-event batches over a 1,000-shard stream showed node:crypto's MD5 at ~8% of the
 * gateway's CPU, mostly call overhead and a Buffer per key; this runs in ~1/3 of that time.
 * Other keys (longer, or not ASCII) return false: the caller uses node:crypto for them.
 */

const SHIFTS = Int32Array.from([
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
  5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21
])
/** K[i] = floor(|sin(i + 1)| * 2^32), as RFC 1321 defines the table. */
const K = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0)
const A0 = 0x67452301
const B0 = 0xefcdab89 | 0
const C0 = 0x98badcfe | 0
const D0 = 0x10325476
const block = new Int32Array(16)

/**
 * The digest's 16 bytes as four big-endian 32-bit words (word 0 holds digest bytes 0-3), written
 * into `out` when `key` is ASCII and at most 55 characters long; false otherwise.
 */
export function md5ShortAscii (key: string, out: Uint32Array): boolean {
  const n = key.length
  if (n > 55) return false
  block.fill(0)
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i)
    if (c > 0x7f) return false
    block[i >> 2] = (block[i >> 2] as number) | (c << ((i & 3) << 3))
  }
  // Padding: a 1 bit, zeros, then the length in bits (little-endian; < 2^32 here).
  block[n >> 2] = (block[n >> 2] as number) | (0x80 << ((n & 3) << 3))
  block[14] = n << 3
  let a = A0
  let b = B0
  let c = C0
  let d = D0
  for (let i = 0; i < 64; i++) {
    let f: number
    let g: number
    if (i < 16) {
      f = (b & c) | (~b & d)
      g = i
    } else if (i < 32) {
      f = (d & b) | (~d & c)
      g = (5 * i + 1) & 15
    } else if (i < 48) {
      f = b ^ c ^ d
      g = (3 * i + 5) & 15
    } else {
      f = c ^ (b | ~d)
      g = (7 * i) & 15
    }
    const x = (a + f + (K[i] as number) + (block[g] as number)) | 0
    const s = SHIFTS[i] as number
    a = d
    d = c
    c = b
    b = (b + ((x << s) | (x >>> (32 - s)))) | 0
  }
  out[0] = byteSwap((a + A0) | 0)
  out[1] = byteSwap((b + B0) | 0)
  out[2] = byteSwap((c + C0) | 0)
  out[3] = byteSwap((d + D0) | 0)
  return true
}

/** MD5 words are little-endian; the digest's byte order makes them big-endian as a 128-bit number. */
function byteSwap (w: number): number {
  return (((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24)) >>> 0
}
