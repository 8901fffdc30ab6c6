// Restart safety of the node service: FUSE servers outlive the gRPC process, a restarted
// driver adopts live mounts and replaces dead ones, and the periodic healer does the same
// without a restart.
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { addTree, cleanupMounts } from '../helpers/cleanup-mounts.js'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { DriverProcess } from '../helpers/driver-process.js'
import { mountCap } from '../helpers/csi-client.js'
import { mountsAt, readMountTable } from '../../node-plugin/mount-table.js'
import { volumeKey } from '../../node-plugin/volume-state.js'
import { policyPath, writePolicy } from '../helpers/inline-policy.js'

const execFileP = promisify(execFile)
const RO = mountCap('MULTI_NODE_READER_ONLY')

let kubo: KuboDaemon
let src: string
let root: string
const files: Record<string, Buffer> = {
  'a.txt': Buffer.from('restart-safe\n'),
  'd/blob.bin': randomBytes(1024 * 1024 + 7)
}
const drivers: DriverProcess[] = []

test.before(async () => {
  kubo = await KuboDaemon.start({ name: 'node-restart' })
  ;({ dir: src, cid: root } = await addTree(kubo, files, 'ipfs-csi-restart-src-'))
})

test.after.always(async () => {
  for (const d of drivers) {
    await d.stop().catch(() => {})
    await cleanupMounts(d.dir)
    await rm(d.dir, { recursive: true, force: true })
  }
  await rm(src, { recursive: true, force: true })
  await kubo?.dispose()
})

async function startDriver (name: string, healIntervalMs: number, extraArgs: string[] = []): Promise<DriverProcess> {
  const d = await DriverProcess.start({ kuboApi: kubo.apiUrl, mode: 'node', name, extraArgs: ['--heal-interval-ms', String(healIntervalMs), ...extraArgs] })
  drivers.push(d)
  return d
}

async function stageAndPublish (d: DriverProcess, id: string, pods: string[]): Promise<{ sp: string, targets: string[] }> {
  const sp = d.stagingPath(id)
  await d.csi.node.NodeStageVolume({ volume_id: id, staging_target_path: sp, volume_capability: RO })
  const targets: string[] = []
  for (const pod of pods) {
    const tp = d.targetPath(pod, id)
    await d.csi.node.NodePublishVolume({ volume_id: id, staging_target_path: sp, target_path: tp, volume_capability: RO, readonly: true })
    targets.push(tp)
  }
  return { sp, targets }
}

async function readsAll (dir: string): Promise<boolean> {
  for (const [rel, data] of Object.entries(files)) {
    if (!(await readFile(path.join(dir, rel))).equals(data)) return false
  }
  return true
}

const serverPid = async (d: DriverProcess, id: string): Promise<number> =>
  (JSON.parse(await readFile(path.join(d.stateDir, 'volumes', volumeKey(id), 'fuse-status.json'), 'utf8')) as { pid: number }).pid

/** Running and not a zombie (an orphaned server that exited may wait unreaped under pid 1). */
function alive (pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

/** Polls `fn` until it returns true or the deadline passes. */
async function eventually (fn: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return true
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  return false
}

test('kill -9 of the driver keeps mounts readable; the restarted driver adopts them', async (t) => {
  const d = await startDriver('restart-adopt', 0)
  const id = root
  const { sp, targets } = await stageAndPublish(d, id, ['pod-1', 'pod-2'])
  const pid = await serverPid(d, id)
  await d.kill9()
  for (const tp of targets) t.true(await readsAll(tp), `${tp} readable with the driver dead`)
  await d.launch()
  t.is(await serverPid(d, id), pid, 'the same FUSE server was adopted, not replaced')
  t.true(alive(pid))
  for (const tp of targets) t.true(await readsAll(tp), `${tp} readable after restart`)
  const stats = await d.csi.node.NodeGetVolumeStats({ volume_id: id, volume_path: targets[0] })
  t.false(stats.volume_condition.abnormal, stats.volume_condition.message)
  for (const tp of targets) await d.csi.node.NodeUnpublishVolume({ volume_id: id, target_path: tp })
  await d.csi.node.NodeUnstageVolume({ volume_id: id, staging_target_path: sp })
  t.false(alive(pid), 'unstage stopped the FUSE server')
  t.deepEqual((await readMountTable()).filter(e => e.mountPoint.startsWith(d.dir + '/')), [])
})

test('kill -9 of the FUSE server: the restarted driver remounts and rebinds every target read-only', async (t) => {
  const d = await startDriver('restart-heal', 0)
  const id = `${root}/d`
  const { sp, targets } = await stageAndPublish(d, id, ['pod-x', 'pod-y'])
  const pid = await serverPid(d, id)
  process.kill(pid, 'SIGKILL')
  t.true(await eventually(async () => !alive(pid), 10_000))
  const sick = await d.csi.node.NodeGetVolumeStats({ volume_id: id, volume_path: targets[0] })
  t.true(sick.volume_condition.abnormal, 'condition is abnormal while the server is dead')
  await d.stop()
  await d.launch()
  const newPid = await serverPid(d, id)
  t.not(newPid, pid)
  t.true(alive(newPid))
  const table = await readMountTable()
  t.is(mountsAt(table, sp).length, 1, 'one live FUSE mount at the staging path, the dead one detached')
  for (const tp of targets) {
    const at = mountsAt(table, tp)
    t.is(at.length, 1, `${tp} has exactly one bind`)
    t.true(at[0]?.options.includes('ro'), `${tp} is read-only again`)
    t.true((await readFile(path.join(tp, 'blob.bin'))).equals(files['d/blob.bin'] as Buffer), `${tp} reads again`)
  }
  const healthy = await d.csi.node.NodeGetVolumeStats({ volume_id: id, volume_path: targets[1] })
  t.false(healthy.volume_condition.abnormal, healthy.volume_condition.message)
  for (const tp of targets) await d.csi.node.NodeUnpublishVolume({ volume_id: id, target_path: tp })
  await d.csi.node.NodeUnstageVolume({ volume_id: id, staging_target_path: sp })
  t.deepEqual((await readMountTable()).filter(e => e.mountPoint.startsWith(d.dir + '/')), [])
})

test('an inline ephemeral volume is healed too after its FUSE server dies across a driver restart', async (t) => {
  const policy = writePolicy(policyPath(), [{ namespaces: ['default'], cids: [root] }])
  t.teardown(async () => await rm(path.dirname(policy), { recursive: true, force: true }))
  const d = await startDriver('restart-inline', 0, ['--inline-policy-file', policy])
  const id = 'csi-inline-restart'
  const tp = d.targetPath('pod-inline', id)
  await d.csi.node.NodePublishVolume({ volume_id: id, target_path: tp, volume_capability: mountCap('SINGLE_NODE_WRITER'), readonly: false, volume_context: { 'csi.storage.k8s.io/ephemeral': 'true', cid: root, 'csi.storage.k8s.io/pod.namespace': 'default' } })
  const pid = await serverPid(d, id)
  await d.kill9()
  process.kill(pid, 'SIGKILL')
  t.true(await eventually(async () => !alive(pid), 10_000))
  await d.launch()
  t.not(await serverPid(d, id), pid)
  t.true(await readsAll(tp))
  t.true(mountsAt(await readMountTable(), tp)[0]?.options.includes('ro'))
  await d.csi.node.NodeUnpublishVolume({ volume_id: id, target_path: tp })
  t.deepEqual((await readMountTable()).filter(e => e.mountPoint.startsWith(d.dir + '/')), [])
  t.false(existsSync(path.join(d.stateDir, 'volumes', volumeKey(id))))
})

test('the periodic healer replaces a killed FUSE server without a driver restart', async (t) => {
  const d = await startDriver('healer', 500)
  const id = root
  const { sp, targets } = await stageAndPublish(d, id, ['pod-h'])
  const tp = targets[0] as string
  const pid = await serverPid(d, id)
  process.kill(pid, 'SIGKILL')
  const healed = await eventually(async () => {
    const p = await serverPid(d, id)
    return p !== pid && alive(p) && await readsAll(tp)
  }, 60_000)
  t.true(healed, 'the target reads again from a new FUSE server')
  t.is(mountsAt(await readMountTable(), tp).length, 1)
  // RPCs keep working afterwards (the healer released the volume lock).
  await d.csi.node.NodeUnpublishVolume({ volume_id: id, target_path: tp })
  await d.csi.node.NodeUnstageVolume({ volume_id: id, staging_target_path: sp })
  t.deepEqual((await readMountTable()).filter(e => e.mountPoint.startsWith(d.dir + '/')), [])
})

test('a volume directory left half-staged by a crash is cleaned up on start', async (t) => {
  const d = await startDriver('orphan', 0)
  await d.stop()
  const dir = path.join(d.stateDir, 'volumes', volumeKey('crashed-volume'))
  await mkdir(dir, { recursive: true })
  await writeFile(path.join(dir, 'spec.json'), JSON.stringify({ version: 1, mountpoint: path.join(d.kubeletDir, 'never-mounted') }))
  await d.launch()
  t.false(existsSync(dir))
  const info = await d.csi.node.NodeGetInfo({})
  t.is(info.node_id, 'test-node')
})
