// The node's stage/publish/unpublish/unstage and healing logic on the fake seams (in-memory
// mount table, fake FUSE servers) and a loopback stand-in for Kubo: no root, FUSE or daemons.
// The same code runs against the kernel in test/integration/node-*.test.ts and csi-sanity.
import test from 'ava'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHash } from 'node:crypto'
import { mkdtemp, mkdir, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Code, CsiError } from '../../driver/errors.js'
import { Kubo } from '../../driver/kubo.js'
import { createLogger } from '../../driver/logger.js'
import { parseServeConfig } from '../../driver/config.js'
import { NodeVolumes } from '../../node-plugin/node-volumes.js'
import { wireNode, type WireNode } from '../helpers/node-wire.js'
import { FakeLauncher, FakeMounter } from '../helpers/fake-node-seams.js'

const CID = 'bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354'
const RO = { mount: {}, access_mode: { mode: 'MULTI_NODE_READER_ONLY' } }
const signal = new AbortController().signal

async function setup (t: { teardown: (fn: () => Promise<void>) => void }): Promise<{ v: WireNode, mounter: FakeMounter, launcher: FakeLauncher, kubelet: string, state: string, calls: string[] }> {
  const calls: string[] = []
  // Kubo: every call answers 200 with an empty JSON object (block/stat of the root, pins, id).
  const server = http.createServer((req, res) => { calls.push(new URL(req.url ?? '/', 'http://x').pathname); res.writeHead(200, { 'content-type': 'application/json' }).end('{}') })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const root = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-seams-'))
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await rm(root, { recursive: true, force: true })
  })
  const kubelet = path.join(root, 'kubelet')
  const state = path.join(root, 'state')
  await mkdir(path.join(kubelet, 'plugins'), { recursive: true })
  await mkdir(path.join(kubelet, 'pods'), { recursive: true })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const config = parseServeConfig(['--node-id', 'n1', '--endpoint', `unix://${root}/csi.sock`, '--kubo-api', url, '--state-dir', state, '--kubelet-dir', kubelet, '--kubo-timeout-ms', '5000'], {})
  const mounter = new FakeMounter()
  const launcher = new FakeLauncher(mounter)
  const v = wireNode(new NodeVolumes({ log: createLogger('error'), kubo: new Kubo({ url, timeoutMs: 5000 }), config, mounter, launcher }, { mountTimeoutMs: 10_000, probeTimeoutMs: 1000 }))
  return { v, mounter, launcher, kubelet, state, calls }
}

const mountedAt = (m: FakeMounter, p: string): Array<{ ro: boolean, fsType: string }> => m.entries.filter(e => e.mountPoint === p).map(e => ({ ro: e.options.includes('ro'), fsType: e.fsType }))

async function code (p: Promise<unknown>): Promise<number | 'ok'> {
  try { await p; return 'ok' } catch (err) { return err instanceof CsiError ? err.code : -1 }
}

test('stage, publish, unpublish and unstage of a content volume on the fake seams', async (t) => {
  const { v, mounter, launcher, kubelet, state, calls } = await setup(t)
  const staging = path.join(kubelet, 'plugins', 'vol1', 'globalmount')
  const target1 = path.join(kubelet, 'pods', 'p1', 'mount')
  const target2 = path.join(kubelet, 'pods', 'p2', 'mount')
  await v.stage({ volume_id: CID, staging_target_path: staging, volume_capability: RO }, signal)
  t.is(launcher.started, 1)
  t.deepEqual(mountedAt(mounter, staging), [{ ro: true, fsType: 'fuse.ipfs-csi' }])
  t.true(calls.includes('/api/v0/block/stat'), 'the root block was fetched before mounting')
  // The same request again is answered from state: the mount is alive, nothing new starts.
  await v.stage({ volume_id: CID, staging_target_path: staging, volume_capability: RO }, signal)
  t.is(launcher.started, 1)
  await v.publish({ volume_id: CID, staging_target_path: staging, target_path: target1, volume_capability: RO, readonly: true }, signal)
  await v.publish({ volume_id: CID, staging_target_path: staging, target_path: target2, volume_capability: RO, readonly: true }, signal)
  t.deepEqual(mountedAt(mounter, target1), [{ ro: true, fsType: 'fuse.ipfs-csi' }])
  t.deepEqual(mountedAt(mounter, target2), [{ ro: true, fsType: 'fuse.ipfs-csi' }])
  t.is(await code(v.publish({ volume_id: CID, staging_target_path: staging, target_path: target1, volume_capability: { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }, readonly: false }, signal)), Code.INVALID_ARGUMENT)
  await v.unpublish({ volume_id: CID, target_path: target1 })
  t.deepEqual(mountedAt(mounter, target1), [])
  t.deepEqual(mountedAt(mounter, target2).length, 1)
  await v.unpublish({ volume_id: CID, target_path: target2 })
  await v.unstage({ volume_id: CID, staging_target_path: staging })
  t.deepEqual(mounter.entries, [])
  t.is(launcher.running.size, 0)
  t.deepEqual(await readdir(path.join(state, 'volumes')).catch(() => []), [])
})

test('a publish over a dead FUSE server heals it: a new server, and the targets bound again', async (t) => {
  const { v, mounter, launcher, kubelet } = await setup(t)
  const staging = path.join(kubelet, 'plugins', 'vol2', 'globalmount')
  const target1 = path.join(kubelet, 'pods', 'p1', 'mount')
  const target2 = path.join(kubelet, 'pods', 'p2', 'mount')
  await v.stage({ volume_id: CID, staging_target_path: staging, volume_capability: RO }, signal)
  await v.publish({ volume_id: CID, staging_target_path: staging, target_path: target1, volume_capability: RO, readonly: true }, signal)
  // The server dies: its process is gone and its mount answers ENOTCONN.
  launcher.running.clear()
  mounter.dead.add(staging)
  await v.publish({ volume_id: CID, staging_target_path: staging, target_path: target2, volume_capability: RO, readonly: true }, signal)
  t.is(launcher.started, 2)
  t.is(launcher.running.size, 1)
  t.is(mountedAt(mounter, staging).length, 1)
  t.is(mountedAt(mounter, target1).length, 1, 'the earlier target was bound again over the new mount')
  t.is(mountedAt(mounter, target2).length, 1)
})

// Issue 12 item 6: NodeUnpublish/NodeUnstage act only on kubelet's own path shapes or on paths
// this driver recorded, unmount only this volume's mounts, and never delete a file.
const CID2 = 'bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
const podTarget = (kubelet: string, pod: string, name = 'pvc-1'): string => path.join(kubelet, 'pods', pod, 'volumes', 'kubernetes.io~csi', name, 'mount')
const kubeletStaging = (kubelet: string, volumeId: string): string => path.join(kubelet, 'plugins/kubernetes.io/csi/ipfs.csi.dev', createHash('sha256').update(volumeId).digest('hex'), 'globalmount')

test('NodeUnpublish refuses a path that is neither kubelet\'s pod volume path nor a published target, and deletes nothing', async (t) => {
  const { v, kubelet } = await setup(t)
  const file = path.join(kubelet, 'pods', 'p1', 'etc-hosts')
  const dir = path.join(kubelet, 'plugins', 'registry')
  await mkdir(path.dirname(file), { recursive: true })
  await writeFile(file, '127.0.0.1 localhost\n')
  await mkdir(dir, { recursive: true })
  t.is(await code(v.unpublish({ volume_id: CID, target_path: file })), Code.INVALID_ARGUMENT)
  t.is(await code(v.unpublish({ volume_id: CID, target_path: dir })), Code.INVALID_ARGUMENT)
  t.is(await readFile(file, 'utf8'), '127.0.0.1 localhost\n', 'the file is still there')
  t.true((await stat(dir)).isDirectory(), 'the (empty) directory is still there')
  // Nothing at such a path: a repeated call, answered OK without touching anything.
  t.is(await code(v.unpublish({ volume_id: CID, target_path: path.join(kubelet, 'pods', 'p1', 'gone') })), 'ok')
})

test('NodeUnpublish at kubelet\'s target shape never deletes a file and never unmounts another volume\'s or a foreign mount', async (t) => {
  const { v, mounter, kubelet } = await setup(t)
  const fileTarget = podTarget(kubelet, 'u-file')
  await mkdir(path.dirname(fileTarget), { recursive: true })
  await writeFile(fileTarget, 'not ours')
  t.is(await code(v.unpublish({ volume_id: CID, target_path: fileTarget })), 'ok')
  t.is(await readFile(fileTarget, 'utf8'), 'not ours')

  const staging = kubeletStaging(kubelet, CID)
  const target = podTarget(kubelet, 'u-a')
  await v.stage({ volume_id: CID, staging_target_path: staging, volume_capability: RO }, signal)
  await v.publish({ volume_id: CID, staging_target_path: staging, target_path: target, volume_capability: RO, readonly: true }, signal)
  t.is(await code(v.unpublish({ volume_id: CID2, target_path: target })), Code.FAILED_PRECONDITION, 'another volume id names this bind')
  t.is(mountedAt(mounter, target).length, 1, 'the bind of the other volume is kept')

  const foreign = podTarget(kubelet, 'u-b', 'pvc-2')
  await mkdir(foreign, { recursive: true })
  mounter.add(foreign, 'tmpfs', 'tmpfs', false)
  t.is(await code(v.unpublish({ volume_id: CID, target_path: foreign })), Code.FAILED_PRECONDITION)
  t.deepEqual(mountedAt(mounter, foreign), [{ ro: false, fsType: 'tmpfs' }])
  t.true((await stat(foreign)).isDirectory())

  // Its own target: unmounted, and the empty directory it created removed.
  await v.unpublish({ volume_id: CID, target_path: target })
  t.deepEqual(mountedAt(mounter, target), [])
  await t.throwsAsync(stat(target), { code: 'ENOENT' })
})

test('NodeUnpublish through a symlinked target is refused; the mount the link points to is kept', async (t) => {
  const { v, mounter, kubelet } = await setup(t)
  const staging = kubeletStaging(kubelet, CID)
  const victim = podTarget(kubelet, 'victim')
  await v.stage({ volume_id: CID, staging_target_path: staging, volume_capability: RO }, signal)
  await v.publish({ volume_id: CID, staging_target_path: staging, target_path: victim, volume_capability: RO, readonly: true }, signal)
  const link = podTarget(kubelet, 'attacker')
  await mkdir(path.dirname(link), { recursive: true })
  await symlink(victim, link)
  t.is(await code(v.unpublish({ volume_id: CID, target_path: link })), Code.INVALID_ARGUMENT)
  t.is(mountedAt(mounter, victim).length, 1)
  // A publish onto a symlink or a file is refused the same way, and leaves both as they were.
  t.is(await code(v.publish({ volume_id: CID, staging_target_path: staging, target_path: link, volume_capability: RO, readonly: true }, signal)), Code.INVALID_ARGUMENT)
  const fileTarget = podTarget(kubelet, 'file-pod')
  await mkdir(path.dirname(fileTarget), { recursive: true })
  await writeFile(fileTarget, 'x')
  t.is(await code(v.publish({ volume_id: CID, staging_target_path: staging, target_path: fileTarget, volume_capability: RO, readonly: true }, signal)), Code.INVALID_ARGUMENT)
  t.is(await readFile(fileTarget, 'utf8'), 'x')
  t.deepEqual(mountedAt(mounter, fileTarget), [])
})

test('NodeUnstage acts only on the recorded staging path or kubelet\'s staging shape for that volume', async (t) => {
  const { v, mounter, kubelet } = await setup(t)
  const staging = kubeletStaging(kubelet, CID)
  await v.stage({ volume_id: CID, staging_target_path: staging, volume_capability: RO }, signal)
  // Another volume id naming this volume's staging path: not its path, not its hash.
  t.is(await code(v.unstage({ volume_id: CID2, staging_target_path: staging })), Code.INVALID_ARGUMENT)
  t.is(mountedAt(mounter, staging).length, 1, 'the FUSE mount of the staged volume is kept')
  // Kubelet's shape for CID2 but CID's mount there (a leftover): not CID2's mount, kept.
  const other = kubeletStaging(kubelet, CID2)
  await mkdir(other, { recursive: true })
  mounter.add(other, 'fuse.ipfs-csi', `ipfs-csi:${CID}`, true)
  t.is(await code(v.unstage({ volume_id: CID2, staging_target_path: other })), 'ok')
  t.is(mountedAt(mounter, other).length, 1)
  // A path of no shape that exists is refused; one that does not is a repeated call.
  const odd = path.join(kubelet, 'plugins', 'odd')
  await mkdir(odd, { recursive: true })
  t.is(await code(v.unstage({ volume_id: CID, staging_target_path: odd })), Code.INVALID_ARGUMENT)
  t.is(await code(v.unstage({ volume_id: CID, staging_target_path: path.join(kubelet, 'plugins', 'gone') })), 'ok')
  await v.unstage({ volume_id: CID, staging_target_path: staging })
  t.deepEqual(mountedAt(mounter, staging), [])
})
