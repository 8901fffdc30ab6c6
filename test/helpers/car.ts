// A minimal CARv1 reader and writer for tests: the reader is the "verified client" that checks
// every block's bytes against its CID; the writer builds deliberately incomplete CARs.
import { CID, varint } from 'multiformats'
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from 'multiformats/hashes/sha2'
import { identity } from 'multiformats/hashes/identity'

export interface CarBlock { cid: CID, bytes: Uint8Array }

/** Parses a CARv1; throws on any malformed section (e.g. a gateway's truncation marker). */
export function readCar (car: Uint8Array): { roots: CID[], blocks: CarBlock[] } {
  let off = 0
  const next = (): Uint8Array => {
    const [len, n] = varint.decode(car, off)
    off += n
    if (len <= 0 || off + len > car.length) throw new Error(`CAR section at ${off} claims ${len} bytes, ${car.length - off} left`)
    const s = car.subarray(off, off + len)
    off += len
    return s
  }
  const header = dagCbor.decode(next()) as { version?: number, roots?: CID[] }
  if (header.version !== 1 || !Array.isArray(header.roots)) throw new Error('not a CARv1 header')
  const blocks: CarBlock[] = []
  while (off < car.length) {
    const s = next()
    const cid = CID.decode(s.subarray(0, cidLength(s)))
    blocks.push({ cid, bytes: s.subarray(cid.bytes.length) })
  }
  return { roots: header.roots, blocks }
}

function cidLength (s: Uint8Array): number {
  // CIDv0 is a bare sha2-256 multihash (0x12 0x20 + 32 bytes); CIDv1: version, codec, multihash.
  if (s[0] === 0x12 && s[1] === 0x20) return 34
  let off = 0
  for (let i = 0; i < 3; i++) off += varint.decode(s, off)[1]
  const [digestLen, n] = varint.decode(s, off)
  return off + n + digestLen
}

/** Re-hashes every block against its CID (sha2-256 and identity); throws on the first mismatch. */
export async function verifyBlocks (blocks: CarBlock[]): Promise<void> {
  for (const b of blocks) {
    const code = b.cid.multihash.code
    const d = code === sha256.code ? await sha256.digest(b.bytes) : code === identity.code ? identity.digest(b.bytes) : undefined
    if (d === undefined) throw new Error(`unsupported hash 0x${code.toString(16)} in ${b.cid.toString()}`)
    if (Buffer.compare(Buffer.from(d.digest), Buffer.from(b.cid.multihash.digest)) !== 0) throw new Error(`block ${b.cid.toString()} does not hash to its CID`)
  }
}

export function writeCar (roots: CID[], blocks: CarBlock[]): Uint8Array {
  const parts: Uint8Array[] = []
  const section = (bytes: Uint8Array): void => { parts.push(varint.encodeTo(bytes.length, new Uint8Array(varint.encodingLength(bytes.length)))); parts.push(bytes) }
  section(dagCbor.encode({ version: 1, roots }))
  for (const b of blocks) { const s = new Uint8Array(b.cid.bytes.length + b.bytes.length); s.set(b.cid.bytes); s.set(b.bytes, b.cid.bytes.length); section(s) }
  return Buffer.concat(parts)
}
