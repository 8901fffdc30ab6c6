// The node's stage/publish/unpublish/unstage and healing logic on the fake seams (in-memory
// mount table, fake FUSE servers) and a loopback stand-in for Kubo: no root, FUSE or daemons.
// The same code runs against the kernel in test/integration/node-*.test.ts and csi-sanity.
import test from 'ava'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, mkdir, readdir, rm } from 'node:fs/promises'
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
