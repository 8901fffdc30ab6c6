// HAMT-sharded UnixFS directories: the hash that places a name in a shard, and the bucket
// naming, so one name is found by fetching only the shards on its path (not the whole directory).
// Kubo (go-unixfs / boxo) hashes names with murmur3-x64-64: the first 8 bytes (h1, big-endian)
// of MurmurHash3_x64_128 with seed 0, and consumes its bits most-significant first.

export const MURMUR3_X64_64 = 0x22

const M64 = (1n << 64n) - 1n
const C1 = 0x87c37b91114253d5n
const C2 = 0x4cf5ad432745937fn

const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M64
const mul = (a: bigint, b: bigint): bigint => (a * b) & M64
function fmix (k: bigint): bigint {
  k ^= k >> 33n
  k = mul(k, 0xff51afd7ed558ccdn)
  k ^= k >> 33n
  k = mul(k, 0xc4ceb9fe1a85ec53n)
  k ^= k >> 33n
  return k
}

/** MurmurHash3_x64_128 (seed 0) → [h1, h2]. Names are short, so BigInt arithmetic is fine. */
export function murmur3x64128 (data: Uint8Array): [bigint, bigint] {
  const len = data.length
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  let h1 = 0n
  let h2 = 0n
  const nblocks = Math.floor(len / 16)
  for (let i = 0; i < nblocks; i++) {
    let k1 = view.getBigUint64(i * 16, true)
    let k2 = view.getBigUint64(i * 16 + 8, true)
    k1 = mul(rotl(mul(k1, C1), 31n), C2)
    h1 ^= k1
    h1 = (mul(((rotl(h1, 27n) + h2) & M64), 5n) + 0x52dce729n) & M64
    k2 = mul(rotl(mul(k2, C2), 33n), C1)
    h2 ^= k2
    h2 = (mul(((rotl(h2, 31n) + h1) & M64), 5n) + 0x38495ab5n) & M64
  }
  const tail = nblocks * 16
  let k1 = 0n
  let k2 = 0n
  for (let i = (len & 15) - 1; i >= 0; i--) {
    const b = BigInt(data[tail + i] as number)
    if (i >= 8) k2 ^= b << BigInt((i - 8) * 8)
    else k1 ^= b << BigInt(i * 8)
  }
  if ((len & 15) > 8) h2 ^= mul(rotl(mul(k2, C2), 33n), C1)
  if ((len & 15) > 0) h1 ^= mul(rotl(mul(k1, C1), 31n), C2)
  h1 ^= BigInt(len)
  h2 ^= BigInt(len)
  h1 = (h1 + h2) & M64
  h2 = (h2 + h1) & M64
  h1 = fmix(h1)
  h2 = fmix(h2)
  h1 = (h1 + h2) & M64
  h2 = (h2 + h1) & M64
  return [h1, h2]
}

/** murmur3-x64-64 multihash digest of a name: 8 bytes, h1 big-endian. */
export function hamtHash (name: Uint8Array): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, murmur3x64128(name)[0], false)
  return out
}

/** Bucket index at `depth` for a hash: log2(fanout) bits per level, most significant first. */
export function bucketIndex (hash: Uint8Array, depth: number, fanout: number): number | undefined {
  const bits = Math.log2(fanout)
  const start = depth * bits
  if (start + bits > hash.length * 8) return undefined // deeper than the hash: never made by Kubo
  let v = 0
  for (let i = 0; i < bits; i++) {
    const bit = start + i
    v = (v << 1) | (((hash[bit >> 3] as number) >> (7 - (bit & 7))) & 1)
  }
  return v
}

/** Link names start with the bucket index in upper-case hex, padded to the width of fanout-1. */
export function bucketPrefix (index: number, fanout: number): string {
  const width = (fanout - 1).toString(16).length
  return index.toString(16).toUpperCase().padStart(width, '0')
}

export function prefixWidth (fanout: number): number {
  return (fanout - 1).toString(16).length
}
