// Writable volumes through the whole driver: CreateVolume → stage → publish rw → write →
// unpublish/unstage → stage again from a NEW driver process with a new state dir on the same
// Kubo → same bytes. Then a snapshot, a volume from it and a clone read back the same bytes.
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { cleanupMounts } from '../helpers/cleanup-mounts.js'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { DriverProcess } from '../helpers/driver-process.js'
import { codeOf, grpc, mountCap } from '../helpers/csi-client.js'
import { CTX } from '../../driver/constants.js'
import { findMount, readMountTable } from '../../node-plugin/mount-table.js'
import { volumeKey } from '../../node-plugin/volume-state.js'

const execFileP = promisify(execFile)
const RW = mountCap('SINGLE_NODE_WRITER')
const MiB = 1024 * 1024

let kubo: KuboDaemon
const drivers: DriverProcess[] = []
const written: Record<string, Buffer> = {
  'hello.txt': Buffer.from('written through FUSE into MFS\n'),
  'dir/nested/blob.bin': randomBytes(2 * MiB + 333),
  'dir/small.txt': Buffer.from('small')
}

test.before(async () => {
  kubo = await KuboDaemon.start({ name: 'node-writable' })
})

test.after.always(async () => {
  for (const d of drivers) {
    await d.stop().catch(() => {})
    await cleanupMounts(d.dir)
    await rm(d.dir, { recursive: true, force: true })
  }
  await kubo?.dispose()
})

async function startDriver (name: string): Promise<DriverProcess> {
  const d = await DriverProcess.start({ kuboApi: kubo.apiUrl, mode: 'all', name, extraArgs: ['--heal-interval-ms', '0'] })
  drivers.push(d)
  return d
}

interface Mounted { sp: string, tp: string }

async function mountVolume (d: DriverProcess, id: string, ctx: Record<string, string>, pod: string, readonly: boolean): Promise<Mounted> {
  const sp = d.stagingPath(id)
  const tp = d.targetPath(pod, id)
  await d.csi.node.NodeStageVolume({ volume_id: id, staging_target_path: sp, volume_capability: RW, volume_context: ctx })
  await d.csi.node.NodePublishVolume({ volume_id: id, staging_target_path: sp, target_path: tp, volume_capability: RW, readonly, volume_context: ctx })
  return { sp, tp }
}

async function unmountVolume (d: DriverProcess, id: string, m: Mounted): Promise<void> {
  await d.csi.node.NodeUnpublishVolume({ volume_id: id, target_path: m.tp })
  await d.csi.node.NodeUnstageVolume({ volume_id: id, staging_target_path: m.sp })
}

async function assertSameBytes (t: { true: (v: boolean, m?: string) => void }, dir: string): Promise<void> {
  for (const [rel, data] of Object.entries(written)) t.true((await readFile(path.join(dir, rel))).equals(data), `${dir}/${rel}`)
}

test('writable volume: write through one driver, read the same bytes through a new driver; snapshot and clone', async (t) => {
  const d1 = await startDriver('writable-1')
  const created = await d1.csi.controller.CreateVolume({ name: 'pvc-writable-1', volume_capabilities: [RW], capacity_range: { required_bytes: String(64 * MiB) }, parameters: {} })
  const vol = created.volume
  t.regex(vol.volume_id, /^w-/)
  t.is(vol.volume_context[CTX.kind], 'writable')

  const m1 = await mountVolume(d1, vol.volume_id, vol.volume_context, 'pod-writer', false)
  const rw = findMount(await readMountTable(), m1.tp)?.options ?? []
  t.true(!rw.includes('ro') && rw.includes('nosuid') && rw.includes('nodev'), `published read-write with nosuid,nodev: ${rw.join(',')}`)
  for (const [rel, data] of Object.entries(written)) {
    await mkdir(path.dirname(path.join(m1.tp, rel)), { recursive: true })
    await writeFile(path.join(m1.tp, rel), data)
  }
  await assertSameBytes(t, m1.tp)
  await assertSameBytes(t, m1.sp)
  const stats = await d1.csi.node.NodeGetVolumeStats({ volume_id: vol.volume_id, volume_path: m1.tp })
  t.false(stats.volume_condition.abnormal, stats.volume_condition.message)
  const bytes = stats.usage.find((u: any) => u.unit === 'BYTES')
  t.truthy(bytes, JSON.stringify(stats.usage))
  t.true(Number(bytes.total) > 0 && Number(bytes.total) >= Number(bytes.used), JSON.stringify(bytes))
  await unmountVolume(d1, vol.volume_id, m1)
  t.deepEqual((await readMountTable()).filter(e => e.mountPoint.startsWith(d1.dir + '/')), [], 'nothing left mounted by driver 1')

  // A new driver process with a new state dir (another node, or a wiped one) on the same Kubo.
  const d2 = await startDriver('writable-2')
  t.not(d2.stateDir, d1.stateDir)
  const m2 = await mountVolume(d2, vol.volume_id, vol.volume_context, 'pod-reader', true)
  await assertSameBytes(t, m2.tp)
  await t.throwsAsync(writeFile(path.join(m2.tp, 'nope.txt'), 'x'), { code: 'EROFS' }, 'a read-only publish refuses writes')
  await unmountVolume(d2, vol.volume_id, m2)

  // Snapshot of the (unstaged, flushed) volume, a volume restored from it, and a clone.
  const snap = (await d2.csi.controller.CreateSnapshot({ name: 'snap-writable-1', source_volume_id: vol.volume_id })).snapshot
  t.true(snap.ready_to_use)
  const fromSnap = (await d2.csi.controller.CreateVolume({ name: 'pvc-from-snap', volume_capabilities: [RW], parameters: {}, volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } } })).volume
  const clone = (await d2.csi.controller.CreateVolume({ name: 'pvc-clone', volume_capabilities: [RW], parameters: {}, volume_content_source: { volume: { volume_id: vol.volume_id } } })).volume
  for (const [v, pod] of [[fromSnap, 'pod-snap'], [clone, 'pod-clone']] as const) {
    const m = await mountVolume(d2, v.volume_id, v.volume_context, pod, false)
    await assertSameBytes(t, m.tp)
    // The copy is independent: a write to it does not show in the source.
    await writeFile(path.join(m.tp, 'only-here.txt'), pod)
    await unmountVolume(d2, v.volume_id, m)
  }
  const again = await mountVolume(d2, vol.volume_id, vol.volume_context, 'pod-check', true)
  t.false(existsSync(path.join(again.tp, 'only-here.txt')), 'source unchanged by writes to its copies')
  await unmountVolume(d2, vol.volume_id, again)
  t.deepEqual((await readMountTable()).filter(e => e.mountPoint.startsWith(d2.dir + '/')), [])

  for (const v of [fromSnap, clone, vol]) await d2.csi.controller.DeleteVolume({ volume_id: v.volume_id })
  await d2.csi.controller.DeleteSnapshot({ snapshot_id: snap.snapshot_id })
})

test('a writable volume whose FUSE server was killed is remounted read-write by the restarted driver', async (t) => {
  const d = await startDriver('writable-heal')
  const vol = (await d.csi.controller.CreateVolume({ name: 'pvc-writable-heal', volume_capabilities: [RW], parameters: {} })).volume
  const m = await mountVolume(d, vol.volume_id, vol.volume_context, 'pod-heal', false)
  await writeFile(path.join(m.tp, 'before.txt'), 'written before the crash')
  const statusFile = path.join(d.stateDir, 'volumes', volumeKey(vol.volume_id), 'fuse-status.json')
  const pid = (JSON.parse(await readFile(statusFile, 'utf8')) as { pid: number }).pid
  process.kill(pid, 'SIGKILL')
  await d.stop()
  await d.launch()
  const newPid = (JSON.parse(await readFile(statusFile, 'utf8')) as { pid: number }).pid
  t.not(newPid, pid)
  t.is(await readFile(path.join(m.tp, 'before.txt'), 'utf8'), 'written before the crash', 'closed files survived in MFS')
  await writeFile(path.join(m.tp, 'after.txt'), 'written after the heal')
  t.false(findMount(await readMountTable(), m.tp)?.options.includes('ro'), 'still read-write')
  await unmountVolume(d, vol.volume_id, m)
  const again = await mountVolume(d, vol.volume_id, vol.volume_context, 'pod-heal-2', true)
  t.is(await readFile(path.join(again.tp, 'after.txt'), 'utf8'), 'written after the heal')
  await unmountVolume(d, vol.volume_id, again)
  t.deepEqual((await readMountTable()).filter(e => e.mountPoint.startsWith(d.dir + '/')), [])
  await d.csi.controller.DeleteVolume({ volume_id: vol.volume_id })
})

test('content volume made by CreateVolume (cid parameter) stages and reads; read-write publish refused', async (t) => {
  const d = drivers[0] ?? await startDriver('content-created')
  const data = randomBytes(700 * 1024)
  const dirCid = (await kubo.cli(['add', '-Q', '--cid-version=1', '--wrap-with-directory', '--stdin-name', 'model.bin'], data)).trim()
  const RO = mountCap('MULTI_NODE_READER_ONLY')
  const vol = (await d.csi.controller.CreateVolume({ name: 'pvc-content-1', volume_capabilities: [RO], parameters: { cid: dirCid } })).volume
  t.regex(vol.volume_id, /^c-/)
  const sp = d.stagingPath(vol.volume_id)
  await d.csi.node.NodeStageVolume({ volume_id: vol.volume_id, staging_target_path: sp, volume_capability: RO, volume_context: vol.volume_context })
  const tp = d.targetPath('pod-content', vol.volume_id)
  t.is(await codeOf(d.csi.node.NodePublishVolume({ volume_id: vol.volume_id, staging_target_path: sp, target_path: tp, volume_capability: RW, readonly: false, volume_context: vol.volume_context })), grpc.status.INVALID_ARGUMENT)
  t.false(existsSync(tp), 'refused publish created nothing')
  await d.csi.node.NodePublishVolume({ volume_id: vol.volume_id, staging_target_path: sp, target_path: tp, volume_capability: RO, readonly: true, volume_context: vol.volume_context })
  t.true((await readFile(path.join(tp, 'model.bin'))).equals(data))
  await unmountVolume(d, vol.volume_id, { sp, tp })
  t.is(findMount(await readMountTable(), sp), undefined)
  await d.csi.controller.DeleteVolume({ volume_id: vol.volume_id })
})

test('a writable volume whose MFS directory does not exist is NOT_FOUND at stage, nothing mounted', async (t) => {
  const d = drivers[0] ?? await startDriver('writable-missing')
  const id = 'w-000000000000000000000000'
  const sp = d.stagingPath(id)
  t.is(await codeOf(d.csi.node.NodeStageVolume({ volume_id: id, staging_target_path: sp, volume_capability: RW, volume_context: { [CTX.kind]: 'writable' } })), grpc.status.NOT_FOUND)
  t.is(findMount(await readMountTable(), sp), undefined)
})

test('an expanded writable volume gets its new capacity at the next stage', async (t) => {
  const d = await startDriver('writable-expand')
  const created = await d.csi.controller.CreateVolume({ name: 'pvc-expand', volume_capabilities: [RW], capacity_range: { required_bytes: String(64 * MiB) } })
  const id: string = created.volume.volume_id
  const ctx = created.volume.volume_context
  const statfsBytes = async (dir: string): Promise<number> => {
    const { stdout } = await execFileP('stat', ['-f', '-c', '%S %b', dir])
    const [bsize, blocks] = stdout.trim().split(' ').map(Number)
    return (bsize ?? 0) * (blocks ?? 0)
  }
  let m = await mountVolume(d, id, ctx, 'pod-expand', false)
  t.is(await statfsBytes(m.tp), 64 * MiB)
  await unmountVolume(d, id, m)
  const expanded = await d.csi.controller.ControllerExpandVolume({ volume_id: id, capacity_range: { required_bytes: String(128 * MiB) }, volume_capability: RW })
  t.is(Number(expanded.capacity_bytes), 128 * MiB)
  // The PV keeps its original volume context (Kubernetes never rewrites it): the node must not trust it.
  m = await mountVolume(d, id, ctx, 'pod-expand', false)
  t.is(await statfsBytes(m.tp), 128 * MiB)
  await unmountVolume(d, id, m)
  await d.csi.controller.DeleteVolume({ volume_id: id })
})

test('a node with its own node-local Kubo keeps writable data in the storage Kubo (--storage-kubo-api)', async (t) => {
  const nodeKubo = await KuboDaemon.start({ name: 'node-local' })
  t.teardown(async () => { await nodeKubo.dispose() })
  const ctrl = await DriverProcess.start({ kuboApi: kubo.apiUrl, mode: 'controller', name: 'storage-ctrl' })
  drivers.push(ctrl)
  const node = await DriverProcess.start({ kuboApi: nodeKubo.apiUrl, mode: 'node', nodeId: 'node-b', name: 'node-b', extraArgs: ['--heal-interval-ms', '0', '--storage-kubo-api', kubo.apiUrl] })
  drivers.push(node)
  const created = await ctrl.csi.controller.CreateVolume({ name: 'pvc-node-local', volume_capabilities: [RW], capacity_range: { required_bytes: String(64 * MiB) } })
  const id: string = created.volume.volume_id
  const m = await mountVolume(node, id, created.volume.volume_context, 'pod-b', false)
  const data = randomBytes(300_000)
  await writeFile(path.join(m.tp, 'ckpt.bin'), data)
  await unmountVolume(node, id, m)
  // The bytes are in the storage Kubo's MFS; the node-local Kubo has no such MFS directory.
  t.true((await kubo.cliBytes(['files', 'read', `/ipfs-csi/volumes/${id}/ckpt.bin`])).equals(data))
  await t.throwsAsync(nodeKubo.cli(['files', 'stat', `/ipfs-csi/volumes/${id}`]))
  await ctrl.csi.controller.DeleteVolume({ volume_id: id })
})
