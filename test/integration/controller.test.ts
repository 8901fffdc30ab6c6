// The Controller service against a real Kubo: `ipfs-csi serve --mode controller` as a process,
// driven through its gRPC socket, every effect checked in Kubo itself (pins, MFS, repo size).
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { DriverProcess } from '../helpers/driver-process.js'
import { codeOf, mountCap, type CsiClient } from '../helpers/csi-client.js'
import { Code } from '../../driver/errors.js'
import { CTX, PIN_PREFIX } from '../../driver/constants.js'
import { mfsPathOf, volumePinName } from '../../driver/volume-id.js'

const MiB = 1024 * 1024
const STORAGE_MAX = 5_000_000_000

let kubo: KuboDaemon
let driver: DriverProcess
let csi: CsiClient
let work: string

test.before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-controller-test-'))
  kubo = await KuboDaemon.start({ name: 'controller', config: { 'Datastore.StorageMax': '5GB' } })
  driver = await DriverProcess.start({ kuboApi: kubo.apiUrl, mode: 'controller', name: 'controller' })
  csi = driver.csi
})

test.after.always(async () => {
  await driver?.stop()
  if (driver !== undefined) await rm(driver.dir, { recursive: true, force: true })
  await kubo?.dispose()
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

// ---- helpers: look at Kubo directly ----

async function api<T = any> (endpoint: string, args: Record<string, string | boolean> = {}): Promise<T> {
  const qs = new URLSearchParams(Object.entries(args).map(([k, v]): [string, string] => [k, String(v)]))
  const res = await fetch(`${kubo.apiUrl}/api/v0/${endpoint}?${qs.toString()}`, { method: 'POST' })
  const text = await res.text()
  if (!res.ok) throw new Error(`${endpoint}: ${text}`)
  return JSON.parse(text) as T
}

/** name → CID of every named recursive pin. */
async function namedPins (): Promise<Map<string, string[]>> {
  const res = await api<{ Keys?: Record<string, { Name: string }> }>('pin/ls', { type: 'recursive', names: true })
  const out = new Map<string, string[]>()
  for (const [cid, v] of Object.entries(res.Keys ?? {})) if (v.Name !== '') out.set(v.Name, [...(out.get(v.Name) ?? []), cid])
  return out
}
const ourPins = async (): Promise<string[]> => [...(await namedPins()).keys()].filter(n => n.startsWith(PIN_PREFIX.volume) || n.startsWith(PIN_PREFIX.snapshot)).sort()

async function mfsHash (p: string): Promise<string | undefined> {
  try { return (await api<{ Hash: string }>('files/stat', { arg: p, hash: true })).Hash } catch { return undefined }
}
async function mfsVolumeDirs (): Promise<string[]> {
  try { return ((await api<{ Entries: Array<{ Name: string }> | null }>('files/ls', { arg: '/ipfs-csi/volumes' })).Entries ?? []).map(e => e.Name).sort() } catch { return [] }
}
async function isPinned (cid: string): Promise<boolean> {
  try { await api('pin/ls', { arg: cid }); return true } catch { return false }
}
async function repoSize (): Promise<number> { return (await api<{ RepoSize: number }>('repo/stat', { 'size-only': true })).RepoSize }

/** A directory tree added unpinned (so only the driver's pins hold it). */
async function addTree (files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await mkdtemp(path.join(work, 'tree-'))
  for (const [rel, data] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true })
    await writeFile(path.join(dir, rel), data)
  }
  return await kubo.add(dir, ['--pin=false', '--cid-version=1'])
}

const reader = [mountCap('MULTI_NODE_READER_ONLY')]
const writer = [mountCap('SINGLE_NODE_WRITER')]
let seq = 0
const uniq = (p: string): string => `${p}-${process.pid}-${++seq}`

async function createContent (name: string, parameters: Record<string, string>, extra: Record<string, unknown> = {}): Promise<any> {
  return (await csi.controller.CreateVolume({ name, volume_capabilities: reader, parameters, ...extra })).volume
}

// ---- content volumes ----

test('content volume by cid: the pin named after the volume holds the content until DeleteVolume', async (t) => {
  const root = await addTree({ 'a.txt': 'hello', 'sub/b.txt': 'world' })
  t.false(await isPinned(root))
  const vol = await createContent(uniq('pvc-cid'), { cid: root })
  t.regex(vol.volume_id, /^c-[0-9a-f]{24}$/)
  t.is(vol.volume_context[CTX.kind], 'content')
  t.is(vol.volume_context[CTX.cid], root)
  const size = (await api<{ CumulativeSize: number }>('files/stat', { arg: `/ipfs/${root}` })).CumulativeSize
  t.is(Number(vol.capacity_bytes), size)
  const pins = await namedPins()
  t.is(pins.get(volumePinName(vol.volume_id))?.length, 1)
  t.true(await isPinned(root), 'the record links the content, so the content is pinned (indirectly)')

  await csi.controller.DeleteVolume({ volume_id: vol.volume_id })
  t.false((await namedPins()).has(volumePinName(vol.volume_id)))
  t.false(await isPinned(root))
  t.is(await codeOf(csi.controller.DeleteVolume({ volume_id: vol.volume_id })), 'ok', 'deleting twice is fine')
})

test('content volume by cid + path pins the CID the path names; a missing path is NOT_FOUND', async (t) => {
  const root = await addTree({ 'models/m1/weights.bin': 'w1', 'models/m2/weights.bin': 'w2', 'other.txt': 'x' })
  const sub = (await api<{ Path: string }>('resolve', { arg: `/ipfs/${root}/models/m1` })).Path.replace('/ipfs/', '')
  const vol = await createContent(uniq('pvc-path'), { cid: root, path: 'models/m1' }, { capacity_range: { required_bytes: String(MiB) } })
  t.is(vol.volume_context[CTX.cid], sub)
  t.is(Number(vol.capacity_bytes), MiB, 'a nominal required size is honoured for content volumes')
  t.true(await isPinned(sub))
  t.false(await isPinned(root), 'only the subtree is pinned')
  await csi.controller.DeleteVolume({ volume_id: vol.volume_id })

  const before = await ourPins()
  t.is(await codeOf(createContent(uniq('pvc-nopath'), { cid: root, path: 'models/nope' })), Code.NOT_FOUND)
  t.deepEqual(await ourPins(), before)
})

test('content volume by ipns is resolved once: later publishes do not change it', async (t) => {
  const first = await addTree({ 'v.txt': 'version 1' })
  const second = await addTree({ 'v.txt': 'version 2' })
  const key = (await kubo.cli(['name', 'publish', '--allow-offline', '--key', 'self', '-Q', `/ipfs/${first}`])).trim()
  t.regex(key, /^k51/)
  const name = uniq('pvc-ipns')
  const vol = await createContent(name, { ipns: key })
  t.is(vol.volume_context[CTX.cid], first)
  await kubo.cli(['name', 'publish', '--allow-offline', '--key', 'self', '-Q', `/ipfs/${second}`])
  const again = await createContent(name, { ipns: key })
  t.deepEqual(again, vol, 'idempotent: same volume, still the first CID')
  await csi.controller.DeleteVolume({ volume_id: vol.volume_id })
})

test('CreateVolume is idempotent by name; a conflicting request is ALREADY_EXISTS', async (t) => {
  const root = await addTree({ 'f.txt': 'idem' })
  const other = await addTree({ 'f.txt': 'other' })
  const name = uniq('pvc-idem')
  const vol = await createContent(name, { cid: root })
  t.deepEqual(await createContent(name, { cid: root, 'csi.storage.k8s.io/pvc/name': 'x' }), vol)
  t.is(await codeOf(createContent(name, { cid: other })), Code.ALREADY_EXISTS)
  t.is(await codeOf(createContent(name, { cid: root }, { capacity_range: { required_bytes: String(10 * MiB), limit_bytes: String(10 * MiB) } })), Code.ALREADY_EXISTS)
  t.is(await codeOf(csi.controller.CreateVolume({ name, volume_capabilities: writer })), Code.ALREADY_EXISTS, 'same name as a writable volume')
  t.is((await namedPins()).get(volumePinName(vol.volume_id))?.length, 1)
  await csi.controller.DeleteVolume({ volume_id: vol.volume_id })

  const wname = uniq('pvc-idem-w')
  const cap = { required_bytes: String(64 * MiB), limit_bytes: String(64 * MiB) }
  const w = (await csi.controller.CreateVolume({ name: wname, volume_capabilities: writer, capacity_range: cap })).volume
  t.deepEqual((await csi.controller.CreateVolume({ name: wname, volume_capabilities: writer, capacity_range: cap })).volume, w)
  t.is(await codeOf(csi.controller.CreateVolume({ name: wname, volume_capabilities: writer, capacity_range: { required_bytes: String(128 * MiB) } })), Code.ALREADY_EXISTS)
  await csi.controller.DeleteVolume({ volume_id: w.volume_id })
})

// ---- writable volumes ----

test('writable volume: MFS directory and record on create, expansion re-pins the record, delete removes both', async (t) => {
  const vol = (await csi.controller.CreateVolume({ name: uniq('pvc-rw'), volume_capabilities: writer, capacity_range: { required_bytes: String(64 * MiB) } })).volume
  t.regex(vol.volume_id, /^w-[0-9a-f]{24}$/)
  t.is(vol.capacity_bytes, String(64 * MiB))
  t.is(vol.volume_context[CTX.kind], 'writable')
  t.is(vol.volume_context[CTX.capacity], String(64 * MiB))
  const dir = mfsPathOf(vol.volume_id)
  t.truthy(await mfsHash(dir))
  const pinName = volumePinName(vol.volume_id)
  const firstRecord = (await namedPins()).get(pinName)
  t.is(firstRecord?.length, 1)

  const grown = await csi.controller.ControllerExpandVolume({ volume_id: vol.volume_id, capacity_range: { required_bytes: String(128 * MiB) } })
  t.is(grown.capacity_bytes, String(128 * MiB))
  t.false(grown.node_expansion_required)
  const after = (await namedPins()).get(pinName)
  t.is(after?.length, 1, 'one record per volume after expansion')
  t.notDeepEqual(after, firstRecord)
  const listed = (await csi.controller.ListVolumes({})).entries.map((e: any) => e.volume).find((v: any) => v.volume_id === vol.volume_id)
  t.is(listed?.capacity_bytes, String(128 * MiB))
  const shrink = await csi.controller.ControllerExpandVolume({ volume_id: vol.volume_id, capacity_range: { required_bytes: String(MiB) } })
  t.is(shrink.capacity_bytes, String(128 * MiB), 'shrinking keeps the current capacity')
  t.is(await codeOf(csi.controller.ControllerExpandVolume({ volume_id: vol.volume_id })), Code.INVALID_ARGUMENT, 'no capacity range')
  t.is(await codeOf(csi.controller.ControllerExpandVolume({ volume_id: '', capacity_range: { required_bytes: '1' } })), Code.INVALID_ARGUMENT)
  t.is(await codeOf(csi.controller.ControllerExpandVolume({ volume_id: 'w-000000000000000000000000', capacity_range: { required_bytes: '1' } })), Code.NOT_FOUND)
  t.is(await codeOf(csi.controller.ControllerExpandVolume({ volume_id: vol.volume_id, capacity_range: { required_bytes: String(2 * 1024 ** 4) } })), Code.OUT_OF_RANGE)

  await csi.controller.DeleteVolume({ volume_id: vol.volume_id })
  t.is(await mfsHash(dir), undefined)
  t.false((await namedPins()).has(pinName))
})

test('a content volume cannot be expanded', async (t) => {
  const vol = await createContent(uniq('pvc-noexpand'), { cid: await addTree({ 'x': 'y' }) })
  t.is(await codeOf(csi.controller.ControllerExpandVolume({ volume_id: vol.volume_id, capacity_range: { required_bytes: String(GiB()) } })), Code.INVALID_ARGUMENT)
  await csi.controller.DeleteVolume({ volume_id: vol.volume_id })
})
function GiB (): number { return 1024 ** 3 }

test('snapshot of a writable volume names its data; restore and clone have the same bytes and stay independent', async (t) => {
  const src = (await csi.controller.CreateVolume({ name: uniq('pvc-src'), volume_capabilities: writer, capacity_range: { required_bytes: String(64 * MiB) } })).volume
  const srcDir = mfsPathOf(src.volume_id)
  await kubo.cli(['files', 'write', '--create', '--parents', `${srcDir}/data/hello.txt`], 'hello from the source volume')
  const srcHash = await mfsHash(srcDir)

  const snapName = uniq('snap')
  const snap = (await csi.controller.CreateSnapshot({ name: snapName, source_volume_id: src.volume_id })).snapshot
  t.true(snap.snapshot_id.endsWith(`-${srcHash}`), `${snap.snapshot_id} names ${srcHash}`)
  t.true(snap.ready_to_use)
  t.is(snap.source_volume_id, src.volume_id)
  t.true(Number(snap.size_bytes) > 0)
  t.true(Number(snap.creation_time.seconds) > 1_600_000_000)
  t.deepEqual((await csi.controller.CreateSnapshot({ name: snapName, source_volume_id: src.volume_id })).snapshot, snap, 'idempotent')
  const other = (await csi.controller.CreateVolume({ name: uniq('pvc-other'), volume_capabilities: writer })).volume
  t.is(await codeOf(csi.controller.CreateSnapshot({ name: snapName, source_volume_id: other.volume_id })), Code.ALREADY_EXISTS)

  const restored = (await csi.controller.CreateVolume({ name: uniq('pvc-restore'), volume_capabilities: writer, capacity_range: { required_bytes: String(64 * MiB) }, volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } } })).volume
  t.deepEqual(restored.content_source, { snapshot: { snapshot_id: snap.snapshot_id }, type: 'snapshot' })
  const clone = (await csi.controller.CreateVolume({ name: uniq('pvc-clone'), volume_capabilities: writer, capacity_range: { required_bytes: String(64 * MiB) }, volume_content_source: { volume: { volume_id: src.volume_id } } })).volume
  t.deepEqual(clone.content_source, { volume: { volume_id: src.volume_id }, type: 'volume' })
  for (const v of [restored, clone]) {
    t.is(await mfsHash(mfsPathOf(v.volume_id)), srcHash)
    t.is(await kubo.cli(['files', 'read', `${mfsPathOf(v.volume_id)}/data/hello.txt`]), 'hello from the source volume')
  }
  // Writes to the clone and the restored volume do not reach the source, nor each other.
  await kubo.cli(['files', 'write', '--create', `${mfsPathOf(clone.volume_id)}/data/hello.txt`, '--truncate'], 'changed in the clone')
  await kubo.cli(['files', 'write', '--create', `${mfsPathOf(restored.volume_id)}/new.txt`], 'new in the restore')
  t.is(await mfsHash(srcDir), srcHash)
  t.is(await kubo.cli(['files', 'read', `${srcDir}/data/hello.txt`]), 'hello from the source volume')
  t.is(await kubo.cli(['files', 'read', `${mfsPathOf(restored.volume_id)}/data/hello.txt`]), 'hello from the source volume')
  t.not(await mfsHash(mfsPathOf(clone.volume_id)), srcHash)

  // A snapshot outlives its source volume.
  await csi.controller.DeleteVolume({ volume_id: src.volume_id })
  t.true(await isPinned(srcHash as string))
  const bySource = (await csi.controller.ListSnapshots({ source_volume_id: src.volume_id })).entries.map((e: any) => e.snapshot.snapshot_id)
  t.deepEqual(bySource, [snap.snapshot_id])
  t.is((await csi.controller.ListSnapshots({ snapshot_id: snap.snapshot_id })).entries.length, 1)
  t.is((await csi.controller.ListSnapshots({ snapshot_id: 's-000000000000000000000000-' + srcHash })).entries.length, 0)
  t.is((await csi.controller.ListSnapshots({ snapshot_id: 'nonsense' })).entries.length, 0)
  t.is((await csi.controller.ListSnapshots({ source_volume_id: 'w-000000000000000000000000' })).entries.length, 0)
  t.is(await codeOf(csi.controller.ListSnapshots({ starting_token: 'invalid-token' })), Code.ABORTED)

  await csi.controller.DeleteSnapshot({ snapshot_id: snap.snapshot_id })
  t.is((await csi.controller.ListSnapshots({ snapshot_id: snap.snapshot_id })).entries.length, 0)
  t.is(await codeOf(csi.controller.DeleteSnapshot({ snapshot_id: snap.snapshot_id })), 'ok')
  t.is(await codeOf(csi.controller.DeleteSnapshot({ snapshot_id: 'garbage' })), 'ok')
  t.is(await codeOf(csi.controller.DeleteSnapshot({ snapshot_id: '' })), Code.INVALID_ARGUMENT)
  t.is(await codeOf(csi.controller.CreateSnapshot({ name: uniq('snap-missing'), source_volume_id: 'w-000000000000000000000000' })), Code.NOT_FOUND)
  t.is(await codeOf(csi.controller.CreateSnapshot({ name: '', source_volume_id: clone.volume_id })), Code.INVALID_ARGUMENT)
  t.is(await codeOf(csi.controller.CreateSnapshot({ name: uniq('snap-nosrc'), source_volume_id: '' })), Code.INVALID_ARGUMENT)
  for (const v of [restored, clone, other]) await csi.controller.DeleteVolume({ volume_id: v.volume_id })
})

test('a snapshot of a content volume is its CID, and restores as a content or a writable volume', async (t) => {
  const root = await addTree({ 'r.txt': 'read me' })
  const vol = await createContent(uniq('pvc-c-snap'), { cid: root })
  const snap = (await csi.controller.CreateSnapshot({ name: uniq('snap-c'), source_volume_id: vol.volume_id })).snapshot
  t.true(snap.snapshot_id.endsWith(`-${root}`))
  const asContent = await createContent(uniq('pvc-c-restore'), { kind: 'content' }, { volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } } })
  t.is(asContent.volume_context[CTX.cid], root)
  const asWritable = (await csi.controller.CreateVolume({ name: uniq('pvc-w-restore'), volume_capabilities: writer, volume_content_source: { snapshot: { snapshot_id: snap.snapshot_id } } })).volume
  t.is(await mfsHash(mfsPathOf(asWritable.volume_id)), root)
  for (const v of [vol, asContent, asWritable]) await csi.controller.DeleteVolume({ volume_id: v.volume_id })
  await csi.controller.DeleteSnapshot({ snapshot_id: snap.snapshot_id })
  t.false(await isPinned(root))
})

test('a writable volume seeded from a cid parameter starts with that content and keeps it pinned', async (t) => {
  const root = await addTree({ 'seed/a.txt': 'seeded data' })
  const fileCid = (await api<{ Path: string }>('resolve', { arg: `/ipfs/${root}/seed/a.txt` })).Path.replace('/ipfs/', '')
  const vol = (await csi.controller.CreateVolume({ name: uniq('pvc-seeded'), volume_capabilities: writer, parameters: { kind: 'writable', cid: root } })).volume
  t.is(vol.volume_context[CTX.kind], 'writable')
  const dir = mfsPathOf(vol.volume_id)
  t.is(await mfsHash(dir), root)
  t.is(await kubo.cli(['files', 'read', `${dir}/seed/a.txt`]), 'seeded data')
  t.true(await isPinned(root), 'the record links the seed')
  await kubo.cli(['files', 'write', '--create', `${dir}/seed/b.txt`], 'more')
  t.not(await mfsHash(dir), root)
  await csi.controller.DeleteVolume({ volume_id: vol.volume_id })
  t.is(await mfsHash(dir), undefined)
  t.false(await isPinned(root))
  const before = await mfsVolumeDirs()
  t.is(await codeOf(csi.controller.CreateVolume({ name: uniq('pvc-seed-file'), volume_capabilities: writer, parameters: { kind: 'writable', cid: fileCid } })), Code.INVALID_ARGUMENT, 'a file cannot be a volume root')
  t.is(await codeOf(csi.controller.CreateVolume({ name: uniq('pvc-seed-content'), volume_capabilities: reader, parameters: { kind: 'content' } })), Code.INVALID_ARGUMENT, 'a content volume needs content')
  t.deepEqual(await mfsVolumeDirs(), before)
})

test('static content handles can be cloned and snapshotted', async (t) => {
  const root = await addTree({ 'docs/readme.md': '# static' })
  const docs = (await api<{ Path: string }>('resolve', { arg: `/ipfs/${root}/docs` })).Path.replace('/ipfs/', '')
  const clone = (await csi.controller.CreateVolume({ name: uniq('pvc-from-static'), volume_capabilities: writer, volume_content_source: { volume: { volume_id: `/ipfs/${root}/docs` } } })).volume
  t.is(await mfsHash(mfsPathOf(clone.volume_id)), docs)
  const snap = (await csi.controller.CreateSnapshot({ name: uniq('snap-static'), source_volume_id: `${root}/docs` })).snapshot
  t.true(snap.snapshot_id.endsWith(`-${docs}`))
  t.true(await isPinned(docs))
  await csi.controller.DeleteSnapshot({ snapshot_id: snap.snapshot_id })
  await csi.controller.DeleteVolume({ volume_id: clone.volume_id })
  t.is(await codeOf(csi.controller.DeleteVolume({ volume_id: `/ipfs/${root}` })), 'ok', 'deleting a static handle is a no-op')
  t.false(await isPinned(docs))
})

test('cloning a large volume is O(1): no block is added to the repo', async (t) => {
  const big = randomBytes(24 * MiB)
  const bigCid = await kubo.addBytes(big, ['--pin=false'])
  const src = (await csi.controller.CreateVolume({ name: uniq('pvc-big'), volume_capabilities: writer, capacity_range: { required_bytes: String(256 * MiB) } })).volume
  await kubo.cli(['files', 'cp', `/ipfs/${bigCid}`, `${mfsPathOf(src.volume_id)}/big.bin`])
  const before = await repoSize()
  const clone = (await csi.controller.CreateVolume({ name: uniq('pvc-big-clone'), volume_capabilities: writer, capacity_range: { required_bytes: String(256 * MiB) }, volume_content_source: { volume: { volume_id: src.volume_id } } })).volume
  const grown = (await repoSize()) - before
  t.log(`repo grew by ${grown} bytes while cloning a 24 MiB volume`)
  t.true(grown < 2 * MiB, `repo grew by ${grown} bytes`)
  const st = await api<{ CumulativeSize: number, Hash: string }>('files/stat', { arg: mfsPathOf(clone.volume_id), hash: true })
  t.true(st.CumulativeSize >= 24 * MiB)
  t.is(st.Hash, await mfsHash(mfsPathOf(src.volume_id)) ?? "")
  t.is(await codeOf(csi.controller.CreateVolume({ name: uniq('pvc-big-small'), volume_capabilities: writer, capacity_range: { required_bytes: String(MiB) }, volume_content_source: { volume: { volume_id: src.volume_id } } })), Code.OUT_OF_RANGE, 'a clone smaller than its source')
  for (const v of [src, clone]) await csi.controller.DeleteVolume({ volume_id: v.volume_id })
})

test('missing sources are NOT_FOUND', async (t) => {
  const before = await ourPins()
  t.is(await codeOf(csi.controller.CreateVolume({ name: uniq('pvc-nosnap'), volume_capabilities: writer, volume_content_source: { snapshot: { snapshot_id: 'no-such-snapshot' } } })), Code.NOT_FOUND)
  t.is(await codeOf(csi.controller.CreateVolume({ name: uniq('pvc-nosnap2'), volume_capabilities: writer, volume_content_source: { snapshot: { snapshot_id: 's-000000000000000000000000-bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi' } } })), Code.NOT_FOUND)
  t.is(await codeOf(csi.controller.CreateVolume({ name: uniq('pvc-novol'), volume_capabilities: writer, volume_content_source: { volume: { volume_id: 'w-000000000000000000000000' } } })), Code.NOT_FOUND)
  t.is(await codeOf(csi.controller.CreateVolume({ name: uniq('pvc-novol2'), volume_capabilities: writer, volume_content_source: { volume: { volume_id: 'some-volume' } } })), Code.NOT_FOUND)
  t.deepEqual(await ourPins(), before)
})

// ---- listing, capacity, validation ----

test('ListVolumes pages through every volume with max_entries and next_token', async (t) => {
  const made: string[] = []
  for (let i = 0; i < 5; i++) made.push((await csi.controller.CreateVolume({ name: uniq('pvc-list'), volume_capabilities: writer })).volume.volume_id)
  const seen: string[] = []
  let token = ''
  let pages = 0
  do {
    const res = await csi.controller.ListVolumes({ max_entries: 2, starting_token: token })
    t.true(res.entries.length <= 2)
    seen.push(...res.entries.map((e: any) => e.volume.volume_id))
    token = res.next_token
    pages++
  } while (token !== '' && pages < 100)
  for (const id of made) t.true(seen.includes(id), id)
  t.is(new Set(seen).size, seen.length, 'no volume twice')
  t.true(pages >= 3)
  t.is(await codeOf(csi.controller.ListVolumes({ starting_token: 'invalid-token' })), Code.ABORTED)
  for (const id of made) await csi.controller.DeleteVolume({ volume_id: id })
  const rest = (await csi.controller.ListVolumes({})).entries.map((e: any) => e.volume.volume_id)
  for (const id of made) t.false(rest.includes(id))
})

test('GetCapacity is the Kubo repo\'s StorageMax minus RepoSize', async (t) => {
  const res = await csi.controller.GetCapacity({})
  const st = await api<{ RepoSize: number, StorageMax: number }>('repo/stat', { 'size-only': true })
  t.is(st.StorageMax, STORAGE_MAX)
  const got = Number(res.available_capacity)
  t.true(Math.abs(got - (STORAGE_MAX - st.RepoSize)) < 16 * MiB, `${got} vs ${STORAGE_MAX - st.RepoSize}`)
  t.is((await csi.controller.GetCapacity({ volume_capabilities: [{ block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] })).available_capacity, '0')
  const caps = (await csi.controller.ControllerGetCapabilities({})).capabilities.map((c: any) => c.rpc.type).sort()
  t.deepEqual(caps, ['CLONE_VOLUME', 'CREATE_DELETE_SNAPSHOT', 'CREATE_DELETE_VOLUME', 'EXPAND_VOLUME', 'GET_CAPACITY', 'GET_SNAPSHOT', 'LIST_SNAPSHOTS', 'LIST_VOLUMES', 'SINGLE_NODE_MULTI_WRITER'])
  t.is(await codeOf(csi.controller.GetSnapshot({ snapshot_id: '' })), Code.INVALID_ARGUMENT)
  t.is(await codeOf(csi.controller.GetSnapshot({ snapshot_id: 's-000000000000000000000000-bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi' })), Code.NOT_FOUND)
  t.is(await codeOf(csi.controller.ControllerPublishVolume({ volume_id: 'x', node_id: 'n' })), Code.UNIMPLEMENTED)
  t.is(await codeOf(csi.controller.ControllerGetVolume({ volume_id: 'x' })), Code.UNIMPLEMENTED)
})

test('ValidateVolumeCapabilities confirms only what the volume supports', async (t) => {
  const root = await addTree({ 'v.txt': 'validate' })
  const vol = await createContent(uniq('pvc-validate'), { cid: root })
  const ok = await csi.controller.ValidateVolumeCapabilities({ volume_id: vol.volume_id, volume_context: vol.volume_context, volume_capabilities: reader })
  t.truthy(ok.confirmed)
  const rw = await csi.controller.ValidateVolumeCapabilities({ volume_id: vol.volume_id, volume_capabilities: writer })
  t.is(rw.confirmed, null)
  t.regex(rw.message, /read-only/)
  const ctxMismatch = await csi.controller.ValidateVolumeCapabilities({ volume_id: vol.volume_id, volume_context: { ...vol.volume_context, [CTX.cid]: await addTree({ 'o': 'o' }) }, volume_capabilities: reader })
  t.is(ctxMismatch.confirmed, null)
  const paramMismatch = await csi.controller.ValidateVolumeCapabilities({ volume_id: vol.volume_id, parameters: { cid: await addTree({ 'p': 'p' }) }, volume_capabilities: reader })
  t.is(paramMismatch.confirmed, null)
  const block = await csi.controller.ValidateVolumeCapabilities({ volume_id: vol.volume_id, volume_capabilities: [{ block: {}, access_mode: { mode: 'MULTI_NODE_READER_ONLY' } }] })
  t.is(block.confirmed, null)
  t.truthy((await csi.controller.ValidateVolumeCapabilities({ volume_id: `/ipfs/${root}/v.txt`, volume_capabilities: reader })).confirmed, 'static handle')
  t.is(await codeOf(csi.controller.ValidateVolumeCapabilities({ volume_id: 'c-000000000000000000000000', volume_capabilities: reader })), Code.NOT_FOUND)
  t.is(await codeOf(csi.controller.ValidateVolumeCapabilities({ volume_id: 'whatever', volume_capabilities: reader })), Code.NOT_FOUND)
  t.is(await codeOf(csi.controller.ValidateVolumeCapabilities({ volume_id: vol.volume_id, volume_capabilities: [] })), Code.INVALID_ARGUMENT)
  t.is(await codeOf(csi.controller.ValidateVolumeCapabilities({ volume_id: '', volume_capabilities: reader })), Code.INVALID_ARGUMENT)
  await csi.controller.DeleteVolume({ volume_id: vol.volume_id })
})

test('every bad input is INVALID_ARGUMENT and leaves nothing pinned or created', async (t) => {
  const root = await addTree({ 'ok.txt': 'ok' })
  const pinsBefore = await ourPins()
  const dirsBefore = await mfsVolumeDirs()
  const cases: Array<[string, Record<string, unknown>]> = [
    ['invalid CID', { name: uniq('bad'), volume_capabilities: reader, parameters: { cid: 'QmNotACid' } }],
    ['path with ..', { name: uniq('bad'), volume_capabilities: reader, parameters: { cid: root, path: 'a/../../etc' } }],
    ['path with a comma', { name: uniq('bad'), volume_capabilities: reader, parameters: { cid: root, path: 'a,b' } }],
    ['unknown parameter', { name: uniq('bad'), volume_capabilities: reader, parameters: { cid: root, replicas: '3' } }],
    ['missing name', { name: '', volume_capabilities: reader, parameters: { cid: root } }],
    ['missing capabilities', { name: uniq('bad'), volume_capabilities: [], parameters: { cid: root } }],
    ['block access type', { name: uniq('bad'), volume_capabilities: [{ block: {}, access_mode: { mode: 'MULTI_NODE_READER_ONLY' } }], parameters: { cid: root } }],
    ['writer mode on a content volume', { name: uniq('bad'), volume_capabilities: writer, parameters: { cid: root } }],
    ['limit below required', { name: uniq('bad'), volume_capabilities: writer, capacity_range: { required_bytes: String(2 * MiB), limit_bytes: String(MiB) } }],
    ['cid and ipns together', { name: uniq('bad'), volume_capabilities: reader, parameters: { cid: root, ipns: 'docs.ipfs.tech' } }],
    ['bad ipns name', { name: uniq('bad'), volume_capabilities: reader, parameters: { ipns: 'not a name!' } }],
    ['multi-node writer on a writable volume', { name: uniq('bad'), volume_capabilities: [mountCap('MULTI_NODE_MULTI_WRITER')] }]
  ]
  for (const [what, req] of cases) t.is(await codeOf(csi.controller.CreateVolume(req)), Code.INVALID_ARGUMENT, what)
  t.is(await codeOf(csi.controller.CreateVolume({ name: uniq('bad'), volume_capabilities: writer, capacity_range: { required_bytes: String(2 * 1024 ** 4) } })), Code.OUT_OF_RANGE)
  t.is(await codeOf(csi.controller.DeleteVolume({ volume_id: '' })), Code.INVALID_ARGUMENT)
  t.is(await codeOf(csi.controller.DeleteVolume({ volume_id: 'not-ours' })), 'ok')
  t.is(await codeOf(csi.controller.DeleteVolume({ volume_id: 'c-000000000000000000000000' })), 'ok')
  t.deepEqual(await ourPins(), pinsBefore)
  t.deepEqual(await mfsVolumeDirs(), dirsBefore)
})

test('content that cannot be fetched in time is DEADLINE_EXCEEDED and leaves no pin; a retry succeeds', async (t) => {
  // Root and one leaf are local, the other leaf's block is gone (no peers to fetch it from).
  const root = await addTree({ 'present.txt': 'here', 'missing.txt': 'this block will be removed' })
  const missing = (await api<{ Path: string }>('resolve', { arg: `/ipfs/${root}/missing.txt` })).Path.replace('/ipfs/', '')
  const block = await kubo.cliBytes(['block', 'get', missing])
  await kubo.cli(['block', 'rm', missing])
  const name = uniq('pvc-slow')
  const before = await ourPins()
  const code = await codeOf(csi.controller.CreateVolume({ name, volume_capabilities: reader, parameters: { cid: root } }, { deadlineMs: 4000 }))
  t.is(code, Code.DEADLINE_EXCEEDED)
  // The server cleans up after the client gave up: poll until its pin attempt is gone.
  const deadline = Date.now() + 60_000
  let pins = await ourPins()
  while (Date.now() < deadline && JSON.stringify(pins) !== JSON.stringify(before)) {
    await new Promise(resolve => setTimeout(resolve, 250))
    pins = await ourPins()
  }
  t.deepEqual(pins, before)
  await kubo.cli(['block', 'put', '--cid-codec', 'raw'], block)
  const vol = await createContent(name, { cid: root })
  t.is(vol.volume_context[CTX.cid], root)
  t.true(await isPinned(root))
  await csi.controller.DeleteVolume({ volume_id: vol.volume_id })
})
