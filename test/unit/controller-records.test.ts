import test from 'ava'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { decodeRecord, encodeRecord, type SnapshotRecord, type VolumeRecord } from '../../driver/volume-records.js'
import { Code, type CsiError } from '../../driver/errors.js'

const content = CID.parse('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')

const vol: VolumeRecord = { v: 1, type: 'volume', kind: 'content', id: 'c-0123456789abcdef01234567', name: 'pvc-1', createdAt: 1_700_000_000_123, capacityBytes: 175, sizeBytes: 175, content, params: { cid: content.toString() }, source: { volume: 'w-aaaaaaaaaaaaaaaaaaaaaaaa' } }
const snap: SnapshotRecord = { v: 1, type: 'snapshot', id: `s-0123456789abcdef01234567-${content.toString()}`, name: 'snap-1', createdAt: 1_700_000_000_000, content, sourceVolumeId: 'w-aaaaaaaaaaaaaaaaaaaaaaaa', sizeBytes: 42 }

test('volume and snapshot records round-trip through dag-cbor with their content as a link', async (t) => {
  for (const rec of [vol, snap]) {
    const { cid, bytes } = await encodeRecord(rec)
    t.is(cid.code, dagCbor.code)
    const back = await decodeRecord(bytes, cid)
    t.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(rec)))
    t.true(CID.asCID((back as { content: CID }).content)?.equals(content))
    // The link is a real IPLD link, so a recursive pin of the record pins the content.
    const raw = dagCbor.decode<Record<string, unknown>>(bytes)
    t.truthy(CID.asCID(raw.content))
  }
})

test('encoding is deterministic (same record → same CID) and optional fields may be absent', async (t) => {
  const w: VolumeRecord = { v: 1, type: 'volume', kind: 'writable', id: 'w-0123456789abcdef01234567', name: 'pvc-2', createdAt: 1, capacityBytes: 1024, sizeBytes: 0, params: {} }
  const a = await encodeRecord(w)
  const b = await encodeRecord({ ...w })
  t.true(a.cid.equals(b.cid))
  const back = await decodeRecord(a.bytes, a.cid) as VolumeRecord
  t.is(back.content, undefined)
  t.is(back.source, undefined)
  t.is(back.capacityBytes, 1024)
})

test('bytes that do not match the CID, or malformed records, are DATA_LOSS', async (t) => {
  const { cid, bytes } = await encodeRecord(vol)
  const tampered = Uint8Array.from(bytes)
  tampered[tampered.length - 1] ^= 1
  t.is(((await t.throwsAsync(decodeRecord(tampered, cid))) as CsiError).code, Code.DATA_LOSS)
  for (const bad of [{ v: 2 }, { v: 1, type: 'volume', id: 'x', name: 'n', createdAt: 1, sizeBytes: 0, kind: 'content', capacityBytes: 1, params: {} }, { v: 1, type: 'snapshot', id: 'x', name: 'n', createdAt: 1, sizeBytes: 0 }, { v: 1, type: 'volume', id: 'x', name: 'n', createdAt: -1, sizeBytes: 0 }, { v: 1, type: 'volume', kind: 'writable', id: 'x', name: 'n', createdAt: 1, sizeBytes: 0, capacityBytes: 1, params: { a: 1 } }]) {
    const err = await t.throwsAsync(decodeRecord(dagCbor.encode(bad))) as CsiError
    t.is(err.code, Code.DATA_LOSS, JSON.stringify(bad))
  }
  t.is(((await t.throwsAsync(decodeRecord(Uint8Array.from([0xff, 0x00])))) as CsiError).code, Code.DATA_LOSS)
})
