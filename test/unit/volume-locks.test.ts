import test from 'ava'
import { VolumeLocks } from '../../driver/volume-locks.js'
import { contentVolumeId, writableVolumeId, snapshotId, isSnapshotId, madeVolumeKind } from '../../driver/volume-id.js'
import { parseCid } from '../../driver/content-ref.js'

test('a held key cannot be taken twice; release is idempotent', (t) => {
  const locks = new VolumeLocks()
  const release = locks.tryAcquire('v1')
  t.truthy(release)
  t.is(locks.tryAcquire('v1'), undefined)
  t.truthy(locks.tryAcquire('v2'))
  release!(); release!()
  t.truthy(locks.tryAcquire('v1'))
})

test('volume and snapshot ids are derived from names and parse back', (t) => {
  t.is(contentVolumeId('pvc-1'), contentVolumeId('pvc-1'))
  t.not(contentVolumeId('pvc-1'), contentVolumeId('pvc-2'))
  t.is(madeVolumeKind(contentVolumeId('a')), 'content')
  t.is(madeVolumeKind(writableVolumeId('a')), 'writable')
  t.is(madeVolumeKind('w-../../etc'), undefined)
  const cid = parseCid('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')
  t.true(isSnapshotId(snapshotId('snap', cid)))
  t.true(snapshotId('snap', cid).endsWith(`-${cid.toString()}`))
  t.false(isSnapshotId('s-nothex-bafy'))
})
