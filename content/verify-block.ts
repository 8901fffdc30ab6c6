// Checks that bytes are the block a CID names: hash them with the CID's multihash function and
// compare digests. Nothing reaches a reader without passing here, so a corrupt or substituted
// block from Kubo becomes EIO instead of wrong bytes. Which CIDs are acceptable at all follows
// boxo's verifcid (what Kubo itself enforces): no SHA-1, digests of 20 to 128 bytes.
import { createHash } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { CsiError, Code } from '../driver/errors.js'

/** multihash code → node:crypto algorithm and full digest length. SHA-1 (0x11) is left out on purpose. */
const HASHES: Record<number, { algo: string, length: number }> = {
  0x12: { algo: 'sha256', length: 32 },
  0x13: { algo: 'sha512', length: 64 },
  0x14: { algo: 'sha3-512', length: 64 },
  0x16: { algo: 'sha3-256', length: 32 },
  0xb240: { algo: 'blake2b512', length: 64 }
}

export const IDENTITY = 0x00
/** boxo verifcid: shorter digests are too easy to collide, longer ones are not hashes we make. */
export const MIN_DIGEST_BYTES = 20
export const MAX_DIGEST_BYTES = 128

export class UnsupportedHashError extends CsiError {
  constructor (cid: CID, why = `uses multihash function 0x${cid.multihash.code.toString(16)}, which this driver cannot verify`) {
    // DATA_LOSS maps to EIO at the FUSE edge: the block cannot be trusted, so it is not served.
    super(Code.DATA_LOSS, `block ${cid.toString()} ${why}`)
    this.name = 'UnsupportedHashError'
  }
}

/** The reason a CID is not acceptable (verifcid rules plus what we can hash), or undefined. */
export function cidProblem (cid: CID): string | undefined {
  const mh = cid.multihash
  if (mh.code === IDENTITY) return mh.digest.length > MAX_DIGEST_BYTES ? `is an identity CID of ${mh.digest.length} bytes (at most ${MAX_DIGEST_BYTES})` : undefined
  if (mh.code === 0x11) return 'uses SHA-1 (0x11), which is not secure enough to verify content'
  const h = HASHES[mh.code]
  if (h === undefined) return `uses multihash function 0x${mh.code.toString(16)}, which this driver cannot verify`
  // A truncated digest is valid multihash, but below 20 bytes it is not a safe identifier.
  if (mh.digest.length < MIN_DIGEST_BYTES || mh.digest.length > Math.min(h.length, MAX_DIGEST_BYTES)) {
    return `has a digest of ${mh.digest.length} bytes (${MIN_DIGEST_BYTES} to ${Math.min(h.length, MAX_DIGEST_BYTES)} accepted)`
  }
  return undefined
}

/** Throws UnsupportedHashError (DATA_LOSS) for a CID whose blocks cannot be trusted. */
export function checkCid (cid: CID): void {
  const why = cidProblem(cid)
  if (why !== undefined) throw new UnsupportedHashError(cid, why)
}

/** Throws a DATA_LOSS CsiError when the CID is not acceptable or `bytes` do not hash to its digest. */
export function verifyBlock (cid: CID, bytes: Uint8Array): void {
  checkCid(cid)
  const mh = cid.multihash
  if (mh.code === IDENTITY) {
    if (!Buffer.from(mh.digest).equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))) throw corrupt(cid)
    return
  }
  const h = HASHES[mh.code] as { algo: string }
  const digest = createHash(h.algo).update(bytes).digest()
  if (!digest.subarray(0, mh.digest.length).equals(Buffer.from(mh.digest))) throw corrupt(cid)
}

function corrupt (cid: CID, why = 'bytes do not match the CID'): CsiError {
  return new CsiError(Code.DATA_LOSS, `block ${cid.toString()} failed verification: ${why}`)
}
