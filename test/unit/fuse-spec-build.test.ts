// The one FuseSpec builder (node stage and `ipfs-csi mount`): what each mode carries, and that the
// FUSE server accepts what it builds.
import test from 'ava'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fuseSpecOf } from '../../node-plugin/fuse/fuse-spec.js'
import { validateSpec } from '../../node-plugin/fuse/fuse-server.js'
import { nodeFuseSettings } from '../../node-plugin/volume-stager.js'
import { parseServeConfig } from '../../driver/config.js'

const CID = 'bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354'
// A flatfs blocks dir as Kubo makes it: config parsing checks its SHARDING file.
const blocksDir = mkdtempSync(path.join(tmpdir(), 'ipfs-csi-spec-blocks-'))
writeFileSync(path.join(blocksDir, 'SHARDING'), '/repo/flatfs/shard/v1/next-to-last/2\n')
test.after.always(() => rmSync(blocksDir, { recursive: true, force: true }))
const config = parseServeConfig(['--node-id', 'n1', '--endpoint', 'unix:///tmp/x.sock', '--kubo-api', 'http://127.0.0.1:5001', '--kubo-api-token-file', '/etc/node-token', '--kubo-blocks-dir', blocksDir,
  '--storage-kubo-api', 'http://127.0.0.1:6001', '--storage-kubo-api-token-file', '/etc/storage-token', '--state-dir', '/tmp/s', '--kubelet-dir', '/tmp/k', '--fuse-max-heap-mib', '512'], {})

test('a content spec reads from the node Kubo and its disk, read-only, and the FUSE server accepts it', (t) => {
  const spec = fuseSpecOf(nodeFuseSettings(config, 'content'), { mode: 'content', volumeId: 'v1', mountpoint: '/m', rootCid: CID })
  t.like(spec, { mode: 'content', rootCid: CID, readOnly: true, kuboApi: 'http://127.0.0.1:5001', kuboApiTokenFile: '/etc/node-token', kuboBlocksDir: blocksDir, maxHeapMiB: 512, readTimeoutMs: config.readTimeoutMs })
  t.is(spec.mfsPath, undefined)
  t.deepEqual(validateSpec(JSON.parse(JSON.stringify(spec))), spec)
})

test('a writable spec talks to the storage Kubo with its token, never reads the node disk, and keeps its read-only flag', (t) => {
  for (const readOnly of [false, true]) {
    const spec = fuseSpecOf(nodeFuseSettings(config, 'writable'), { mode: 'writable', volumeId: 'w-1', mountpoint: '/m', mfsPath: '/ipfs-csi/volumes/w-1', capacityBytes: 1 << 30, readOnly })
    t.like(spec, { mode: 'writable', mfsPath: '/ipfs-csi/volumes/w-1', capacityBytes: 1 << 30, readOnly, kuboApi: 'http://127.0.0.1:6001', kuboApiTokenFile: '/etc/storage-token' })
    t.false('kuboBlocksDir' in spec, 'no flatfs path for MFS data')
    t.is(spec.rootCid, undefined)
    t.deepEqual(validateSpec(JSON.parse(JSON.stringify(spec))), spec)
  }
})

test('settings left unset stay out of the spec (no token file, no disk, no heap limit)', (t) => {
  const spec = fuseSpecOf({ kuboApi: 'http://127.0.0.1:5001', readTimeoutMs: 1000, kuboTimeoutMs: 1000, blockCacheBytes: 0, readAheadBlocks: 0, logLevel: 'info' }, { mode: 'content', volumeId: CID, mountpoint: '/m', rootCid: CID })
  for (const k of ['kuboApiTokenFile', 'kuboBlocksDir', 'maxHeapMiB']) t.false(k in spec, k)
})

test('a writable spec carries the node\'s spill dir, budget and volume share; a content spec none of them', (t) => {
  const spill = parseServeConfig(['--node-id', 'n1', '--spill-dir', '/var/lib/ipfs-csi-spill', '--spill-max-bytes', String(64 << 20), '--spill-volume-max-bytes', String(16 << 20)], {})
  const w = fuseSpecOf(nodeFuseSettings(spill, 'writable'), { mode: 'writable', volumeId: 'w-1', mountpoint: '/m', mfsPath: '/ipfs-csi/volumes/w-1', capacityBytes: 1 << 30, readOnly: false })
  t.like(w, { spillDir: '/var/lib/ipfs-csi-spill', spillMaxBytes: 64 << 20, spillVolumeMaxBytes: 16 << 20 })
  t.deepEqual(validateSpec(JSON.parse(JSON.stringify(w))), w)
  const c = fuseSpecOf(nodeFuseSettings(spill, 'content'), { mode: 'content', volumeId: 'v1', mountpoint: '/m', rootCid: CID })
  for (const k of ['spillDir', 'spillMaxBytes', 'spillVolumeMaxBytes', 'spill']) t.false(k in c, k)
  t.throws(() => validateSpec({ ...w, spillDir: 'relative' }), { message: /spillDir/ })
  t.throws(() => validateSpec({ ...w, spillMaxBytes: -1 }), { message: /spillMaxBytes/ })
})
