import test from 'ava'
import { CID } from 'multiformats/cid'
import { volumeContext, volumeView } from '../../controller/volumes.js'
import { snapshotView } from '../../controller/snapshots.js'
import { CTX } from '../../driver/constants.js'
import type { VolumeRecord } from '../../driver/volume-records.js'

const content = CID.parse('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')

test('a content volume tells the node its kind and the fixed CID, nothing else', (t) => {
  const rec: VolumeRecord = { v: 1, type: 'volume', kind: 'content', id: 'c-0123456789abcdef01234567', name: 'n', createdAt: 1, capacityBytes: 500, sizeBytes: 500, content, params: { cid: 'x', path: 'a' } }
  t.deepEqual(volumeContext(rec), { [CTX.kind]: 'content', [CTX.cid]: content.toString() })
  t.deepEqual(volumeView(rec), { volume_id: rec.id, capacity_bytes: '500', volume_context: { [CTX.kind]: 'content', [CTX.cid]: content.toString() }, content_source: null })
})

test('a writable volume carries its capacity; the content source is echoed', (t) => {
  const rec: VolumeRecord = { v: 1, type: 'volume', kind: 'writable', id: 'w-0123456789abcdef01234567', name: 'n', createdAt: 1, capacityBytes: 1024, sizeBytes: 0, params: {}, source: { snapshot: 's-x' } }
  t.deepEqual(volumeContext(rec), { [CTX.kind]: 'writable', [CTX.capacity]: '1024' })
  t.deepEqual(volumeView(rec).content_source, { snapshot: { snapshot_id: 's-x' } })
  t.deepEqual(volumeView({ ...rec, source: { volume: 'w-y' } }).content_source, { volume: { volume_id: 'w-y' } })
})

test('snapshot creation time is split into seconds and nanos', (t) => {
  const v = snapshotView({ v: 1, type: 'snapshot', id: 's-a', name: 'n', createdAt: 1_700_000_000_123, content, sourceVolumeId: 'w-b', sizeBytes: 9 })
  t.deepEqual(v, { snapshot_id: 's-a', source_volume_id: 'w-b', size_bytes: '9', creation_time: { seconds: '1700000000', nanos: 123_000_000 }, ready_to_use: true })
})
