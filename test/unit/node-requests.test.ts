// The node service's edge: CSI requests (snake_case, every field optional) become the domain
// requests the stager and publisher take, with checked ids, sources and paths.
import test from 'ava'
import { mkdtemp, mkdir, realpath, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CTX } from '../../driver/constants.js'
import { Code, CsiError } from '../../driver/errors.js'
import { publishVolumeOf, stageVolumeOf, statsQueryOf, unpublishVolumeOf, unstageVolumeOf } from '../../node-plugin/node-requests.js'

const CID = 'bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354'
const RO = { mount: {}, access_mode: { mode: 'MULTI_NODE_READER_ONLY' } }
const RW = { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }

async function kubeletDir (t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-requests-'))
  t.teardown(async () => await rm(root, { recursive: true, force: true }))
  const kubelet = path.join(await realpath(root), 'kubelet')
  await mkdir(kubelet)
  return kubelet
}

test('a stage request becomes a StageVolume: checked id, parsed source, checked staging path, access mode', async (t) => {
  const kubelet = await kubeletDir(t)
  const limits = { kubeletDir: kubelet, defaultCapacityBytes: 1 << 30 }
  const sp = path.join(kubelet, 'plugins', 'v', 'globalmount')
  const s = await stageVolumeOf({ volume_id: 'pv-1', staging_target_path: sp, volume_capability: RO, volume_context: { [CTX.cid]: CID, [CTX.path]: 'a/b' } }, limits)
  t.is(s.volumeId, 'pv-1')
  t.is(s.stagingPath, sp)
  t.is(s.accessMode, 'MULTI_NODE_READER_ONLY')
  if (s.source.kind !== 'content') { t.fail('a content source'); return }
  t.is(s.source.ref?.cid.toString(), CID)
  t.deepEqual(s.source.ref?.path, ['a', 'b'])
  t.false(Object.keys(s).some(k => k.includes('_')), 'no snake_case field below the edge')
})

test('a publish request becomes a staged or an inline PublishVolume', async (t) => {
  const kubelet = await kubeletDir(t)
  const limits = { kubeletDir: kubelet, defaultCapacityBytes: 1 << 30 }
  const sp = path.join(kubelet, 'plugins', 'v', 'globalmount')
  const tp = path.join(kubelet, 'pods', 'p', 'mount')
  const staged = await publishVolumeOf({ volume_id: CID, staging_target_path: sp, target_path: tp, volume_capability: RW, readonly: true }, limits)
  t.like(staged, { inline: false, volumeId: CID, stagingPath: sp, targetPath: tp, accessMode: 'SINGLE_NODE_WRITER', readOnly: true })
  t.false((await publishVolumeOf({ volume_id: CID, staging_target_path: sp, target_path: tp, volume_capability: RW }, limits) as { readOnly: boolean }).readOnly, 'readonly unset is false')
  const inline = await publishVolumeOf({ volume_id: 'csi-abc', target_path: tp, volume_capability: RW, volume_context: { [CTX.ephemeral]: 'true', [CTX.cid]: CID } }, limits)
  t.like(inline, { inline: true, volumeId: 'csi-abc', targetPath: tp })
  t.is(inline.source.kind, 'content')
  // An inline volume is content only: a writable context is refused at the edge.
  const err = await t.throwsAsync(publishVolumeOf({ volume_id: 'csi-abc', target_path: tp, volume_capability: RW, volume_context: { [CTX.ephemeral]: 'true', [CTX.kind]: 'writable' } }, limits))
  t.true(err instanceof CsiError && err.code === Code.INVALID_ARGUMENT, err?.message)
})

test('unstage, unpublish and stats requests carry only a checked id and path', async (t) => {
  const kubelet = await kubeletDir(t)
  const limits = { kubeletDir: kubelet, defaultCapacityBytes: 1 << 30 }
  const sp = path.join(kubelet, 'plugins', 'v', 'globalmount')
  const tp = path.join(kubelet, 'pods', 'p', 'mount')
  t.deepEqual(await unstageVolumeOf({ volume_id: CID, staging_target_path: sp }, limits), { volumeId: CID, stagingPath: sp })
  t.deepEqual(await unpublishVolumeOf({ volume_id: CID, target_path: tp }, limits), { volumeId: CID, targetPath: tp })
  t.deepEqual(statsQueryOf({ volume_id: CID, volume_path: tp }), { volumeId: CID, volumePath: tp })
  for (const bad of [unstageVolumeOf({ volume_id: CID, staging_target_path: '/etc' }, limits), unpublishVolumeOf({ volume_id: 'a,b', target_path: tp }, limits)]) {
    const err = await t.throwsAsync(bad)
    t.true(err instanceof CsiError && err.code === Code.INVALID_ARGUMENT, err?.message)
  }
  t.throws(() => statsQueryOf({ volume_id: CID }), { message: /volume_path is required/ })
})
