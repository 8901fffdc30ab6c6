import test from 'ava'
import { CID } from 'multiformats/cid'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { identity } from 'multiformats/hashes/identity'
import * as Digest from 'multiformats/hashes/digest'
import * as raw from 'multiformats/codecs/raw'
import { Code, CsiError, toErrno, Errno } from '../../driver/errors.js'
import { verifyBlock } from '../../content/verify-block.js'

const bytes = new TextEncoder().encode('hello block')

test('sha2-256 and sha2-512 blocks verify; other bytes fail with DATA_LOSS (EIO)', async (t) => {
  const cid = CID.createV1(raw.code, await sha256.digest(bytes))
  t.notThrows(() => verifyBlock(cid, bytes))
  const bad = new Uint8Array(bytes)
  bad[0] = (bad[0] as number) ^ 1
  const err = t.throws(() => verifyBlock(cid, bad)) as CsiError
  t.is(err.code, Code.DATA_LOSS)
  t.is(toErrno(err), Errno.EIO)
  const cid512 = CID.createV1(raw.code, await sha512.digest(bytes))
  t.notThrows(() => verifyBlock(cid512, bytes))
  t.throws(() => verifyBlock(cid512, bad))
})

test('CIDv0 verifies like CIDv1', async (t) => {
  const cid = CID.createV0(await sha256.digest(bytes))
  t.notThrows(() => verifyBlock(cid, bytes))
})

test('identity CIDs carry their block', (t) => {
  const cid = CID.createV1(raw.code, identity.digest(bytes))
  t.notThrows(() => verifyBlock(cid, bytes))
  t.throws(() => verifyBlock(cid, new Uint8Array(3)))
})

test('an unknown hash function is refused with a clear message and maps to EIO', (t) => {
  const cid = CID.createV1(raw.code, Digest.create(0x1e /* blake3 */, new Uint8Array(32)))
  const err = t.throws(() => verifyBlock(cid, bytes)) as CsiError
  t.regex(err.message, /multihash function 0x1e/)
  t.is(toErrno(err), Errno.EIO)
})
