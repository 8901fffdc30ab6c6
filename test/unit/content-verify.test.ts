import test from 'ava'
import { CID } from 'multiformats/cid'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import { identity } from 'multiformats/hashes/identity'
import * as Digest from 'multiformats/hashes/digest'
import * as raw from 'multiformats/codecs/raw'
import { Code, CsiError, toErrno, Errno } from '../../driver/errors.js'
import { checkCid, verifyBlock } from '../../content/verify-block.js'

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

// boxo verifcid: SHA-1 is not accepted, and a digest must be 20 to 128 bytes (identity: at most 128).
test('verifcid: a SHA-1 block is refused even when its bytes match, with DATA_LOSS (EIO)', async (t) => {
  const { createHash } = await import('node:crypto')
  const cid = CID.createV1(raw.code, Digest.create(0x11, createHash('sha1').update(bytes).digest()))
  const err = t.throws(() => verifyBlock(cid, bytes)) as CsiError
  t.is(err.code, Code.DATA_LOSS)
  t.regex(err.message, /sha1|0x11/i)
  t.is(toErrno(err), Errno.EIO)
  t.throws(() => checkCid(cid), { instanceOf: CsiError })
})

test('verifcid: a digest shorter than 20 bytes is refused even when it is a true prefix; 20 bytes verify', async (t) => {
  const full = (await sha256.digest(bytes)).digest
  for (const len of [1, 8, 19]) {
    const cid = CID.createV1(raw.code, Digest.create(0x12, full.subarray(0, len)))
    const err = t.throws(() => verifyBlock(cid, bytes)) as CsiError
    t.is(err.code, Code.DATA_LOSS, `length ${len}`)
    t.regex(err.message, /digest/)
  }
  t.notThrows(() => verifyBlock(CID.createV1(raw.code, Digest.create(0x12, full.subarray(0, 20))), bytes))
})

test('verifcid: an identity CID over 128 bytes is refused; 128 bytes are accepted', (t) => {
  const big = new Uint8Array(129).fill(7)
  t.throws(() => verifyBlock(CID.createV1(raw.code, identity.digest(big)), big), { instanceOf: CsiError })
  const ok = big.subarray(0, 128)
  t.notThrows(() => verifyBlock(CID.createV1(raw.code, identity.digest(ok)), ok))
})
