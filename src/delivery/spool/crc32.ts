/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), table-driven: the checksum of gzip and PNG.
 * zlib.crc32 only exists from Node 22.2; the gateway supports Node 20.
 */
const TABLE = new Uint32Array(256)
for (let n = 0; n < 256; n++) {
  let c = n
  for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1
  TABLE[n] = c >>> 0
}

export function crc32 (bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xFFFFFFFF
  for (let i = start; i < end; i++) c = (TABLE[(c ^ (bytes[i] as number)) & 0xFF] as number) ^ (c >>> 8)
  return (c ^ 0xFFFFFFFF) >>> 0
}
