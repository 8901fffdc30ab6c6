// Checks that bytes are the block a CID names: hash them with the CID's multihash function and
// compare digests. Nothing reaches a reader without passing here, so a corrupt or substituted
// block from Kubo becomes EIO instead of wrong bytes.
import { createHash } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { CsiError, Code } from '../driver/errors.js'

/** multihash code → node:crypto algorithm and full digest length. */
const HASHES: Record<number, { algo: string, length: number }> = {
  0x11: { algo: 'sha1', length: 20 },
  0x12: { algo: 'sha256', length: 32 },
  0x13: { algo: 'sha512', length: 64 },
  0x14: { algo: 'sha3-512', length: 64 },
  0x16: { algo: 'sha3-256', length: 32 },
  0xb240: { algo: 'blake2b512', length: 64 }
}

export const IDENTITY = 0x00

export class UnsupportedHashError extends CsiError {
  constructor (cid: CID) {
    // DATA_LOSS maps to EIO at the FUSE edge: the block cannot be trusted, so it is not served.
    super(Code.DATA_LOSS, `block ${cid.toString()} uses multihash function 0x${cid.multihash.code.toString(16)}, which this driver cannot verify`)
    this.name = 'UnsupportedHashError'
  }
}

export function isSupportedHash (code: number): boolean {
  return code === IDENTITY || HASHES[code] !== undefined
}

/** Throws a DATA_LOSS CsiError when `bytes` do not hash to the CID's digest. */
export function verifyBlock (cid: CID, bytes: Uint8Array): void {
  const mh = cid.multihash
  if (mh.code === IDENTITY) {
    if (!Buffer.from(mh.digest).equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))) throw corrupt(cid)
    return
  }
  const h = HASHES[mh.code]
  if (h === undefined) throw new UnsupportedHashError(cid)
  // A truncated digest (shorter than the function's output) is valid multihash; longer is not.
  if (mh.digest.length === 0 || mh.digest.length > h.length) throw corrupt(cid, 'digest length is invalid')
  const digest = createHash(h.algo).update(bytes).digest()
  if (!digest.subarray(0, mh.digest.length).equals(Buffer.from(mh.digest))) throw corrupt(cid)
}

function corrupt (cid: CID, why = 'bytes do not match the CID'): CsiError {
  return new CsiError(Code.DATA_LOSS, `block ${cid.toString()} failed verification: ${why}`)
}
