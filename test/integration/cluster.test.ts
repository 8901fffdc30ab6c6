// Many nodes, end to end on loopback: three storage Kubos each with an IPFS Cluster peer (CRDT),
// two node-local Kubos that only reach content over bitswap from their peers, node plugins on
// them, and a controller with --cluster-api. Replication, streaming through a node that had
// nothing, GC under a mount, a lost storage peer, a corrupted block, `content ls`.
import test from 'ava'
import { createHash, randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { open, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { CID } from 'multiformats/cid'
import { StorageCluster, type StoragePeer } from '../helpers/storage-cluster.js'
import { DriverProcess } from '../helpers/driver-process.js'
import { ContentMount } from '../helpers/content-mount.js'
import { CLI } from '../helpers/repo.js'
import { mountCap } from '../helpers/csi-client.js'
import { CTX } from '../../driver/constants.js'
import { contentVolumeId, snapshotPinName, volumePinName } from '../../driver/volume-id.js'
import { readMountTable } from '../../node-plugin/mount-table.js'
import { stagedPinName } from '../../node-plugin/staged-pins.js'
import type { ContentEntry } from '../../controller/content-command.js'

const execFileP = promisify(execFile)
const RO = mountCap('MULTI_NODE_READER_ONLY')

interface Fixture { sc: StorageCluster, controller: DriverProcess }
let fx: Fixture | undefined
const mounts: ContentMount[] = []

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

async function until<T> (what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v
    } catch (err) { last = err }
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms${last !== undefined ? ` (last error: ${(last as Error).message})` : ''}`)
    await sleep(500)
  }
}

/** Removes every mount under `dir` and kills FUSE servers whose spec lives there. */
async function cleanupMounts (dir: string): Promise<void> {
  const mine = (await readMountTable()).filter(e => e.mountPoint.startsWith(dir + '/')).sort((a, b) => b.mountPoint.length - a.mountPoint.length)
  for (const m of mine) await execFileP('umount', ['-l', m.mountPoint]).catch(async () => await execFileP('fusermount', ['-uz', m.mountPoint]).catch(() => {}))
  for (const pid of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(pid)) continue
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (cmd.includes('fuse-server') && cmd.includes(dir)) { try { process.kill(Number(pid), 'SIGKILL') } catch {} }
  }
}

/** Multihashes (hex) of every block of a DAG, from a Kubo that has it. */
async function dagBlocks (peer: StoragePeer, root: string): Promise<Set<string>> {
  const refs = (await peer.kubo.cli(['refs', '-r', '--unique', root])).split('\n').filter(l => l !== '')
  return new Set([root, ...refs].map(c => Buffer.from(CID.parse(c).multihash.bytes).toString('hex')))
}

async function localBlocks (kubo: { cli: (a: string[]) => Promise<string> }): Promise<Set<string>> {
  const refs = (await kubo.cli(['refs', 'local'])).split('\n').filter(l => l !== '')
  return new Set(refs.map(c => Buffer.from(CID.parse(c).multihash.bytes).toString('hex')))
}

async function contentLs (args: string[] = []): Promise<ContentEntry[]> {
  const sc = fx?.sc as StorageCluster
  const { stdout } = await execFileP(process.execPath, [CLI, 'content', 'ls', '--kubo-api', (sc.storage[0] as StoragePeer).kubo.apiUrl, '--cluster-api', sc.clusterApi,
    '--cluster-basic-auth-file', sc.authFile, ...sc.nodes.flatMap(n => ['--node-kubo-api', n.kubo.apiUrl]), '--json', ...args], { timeout: 60_000 })
  return (JSON.parse(stdout) as { entries: ContentEntry[] }).entries
}

async function createContentVolume (name: string, cid: string, params: Record<string, string> = {}): Promise<{ id: string, ctx: Record<string, string> }> {
  const c = (fx as Fixture).controller
  const res = await c.csi.controller.CreateVolume({ name, volume_capabilities: [RO], parameters: { cid, ...params } }, { deadlineMs: 180_000 })
  return { id: res.volume.volume_id as string, ctx: res.volume.volume_context as Record<string, string> }
}

test.before(async () => {
  const sc = await StorageCluster.start()
  try {
    const s0 = sc.storage[0] as StoragePeer
    const controller = await DriverProcess.start({
      kuboApi: s0.kubo.apiUrl, mode: 'controller', name: 'cluster-controller',
      extraArgs: ['--cluster-api', sc.clusterApi, '--cluster-basic-auth-file', sc.authFile, '--kubo-timeout-ms', '30000']
    })
    fx = { sc, controller }
  } catch (err) {
    await sc.dispose()
    throw err
  }
})

test.after.always(async () => {
  for (const m of mounts) await m.stop().catch(() => {})
  if (fx === undefined) return
  await fx.controller.stop().catch(() => {})
  for (const n of fx.sc.nodes) await n.driver.stop().catch(() => {})
  for (const n of fx.sc.nodes) await cleanupMounts(n.driver.dir)
  await cleanupMounts(fx.controller.dir)
  const dirs = [fx.controller.dir, ...fx.sc.nodes.map(n => n.driver.dir)]
  await fx.sc.dispose()
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

test.serial('a volume with replicationMin 2 is pinned on 2 storage peers, listed by content ls, unpinned on delete', async (t) => {
  const { sc, controller } = fx as Fixture
  const data = randomBytes(3 * 1024 * 1024 + 777)
  const cid = await (sc.storage[1] as StoragePeer).kubo.addBytes(data, ['--cid-version=1'])
  const { id, ctx } = await createContentVolume('pvc-repl', cid, {
    replicationMin: '2', replicationMax: '2', model: 'demo/model-a', expireIn: '720h',
    'csi.storage.k8s.io/pvc/name': 'weights', 'csi.storage.k8s.io/pvc/namespace': 'ml'
  })
  t.is(ctx[CTX.cid], cid)
  // CreateVolume returned: the Cluster already reports 2 peers with the whole DAG.
  const entries = await contentLs()
  const e = entries.find(x => x.name === volumePinName(id))
  t.truthy(e, JSON.stringify(entries))
  t.true(e?.record)
  t.is(e?.kind, 'volume')
  t.is(e?.content, cid)
  t.is(e?.sizeBytes, data.length)
  t.true((e?.cluster?.pinnedPeers ?? 0) >= 2, JSON.stringify(e?.cluster))
  t.is(e?.cluster?.replicationMin, 2)
  t.is(e?.cluster?.metadata['pvc-name'], 'weights')
  t.is(e?.cluster?.metadata['pvc-namespace'], 'ml')
  t.is(e?.cluster?.metadata.model, 'demo/model-a')
  t.true(Date.parse(e?.cluster?.expireAt ?? '') > Date.now() + 700 * 3600_000, e?.cluster?.expireAt)
  // Each peer the Cluster calls pinned really has every block of the content in its Kubo.
  const blocks = await dagBlocks(sc.storage[1] as StoragePeer, cid)
  for (const p of (e?.cluster?.peers ?? []).filter(p => p.status === 'pinned')) {
    const peer = sc.byClusterPeer(p.peer) as StoragePeer
    const local = await localBlocks(peer.kubo)
    t.true([...blocks].every(b => local.has(b)), `${peer.name} lacks blocks`)
  }
  // Repeated CreateVolume: same volume, no new pin.
  t.is((await createContentVolume('pvc-repl', cid, { replicationMin: '2', replicationMax: '2', model: 'demo/model-a', expireIn: '720h' })).id, id)
  // Storage capacity comes from the Cluster peers' free space.
  // (polled: a peer's freespace metric may be between two refreshes on a loaded machine)
  const cap = await until('capacity from the Cluster', 30_000, async () => {
    const res = await controller.csi.controller.GetCapacity({ volume_capabilities: [RO], parameters: { replicationMin: '2' } })
    return Number(res.available_capacity) > data.length ? Number(res.available_capacity) : undefined
  })
  t.true(cap > data.length)
  // Bad replication parameters are refused before anything is pinned.
  await t.throwsAsync(createContentVolume('pvc-bad', cid, { replicationMin: '3', replicationMax: '2' }), { message: /replicationMax/ })

  // A snapshot is replicated through the Cluster too, and its pin goes with DeleteSnapshot.
  const snap = (await controller.csi.controller.CreateSnapshot({ name: 'snap-repl', source_volume_id: id }, { deadlineMs: 180_000 })).snapshot as { snapshot_id: string }
  const se = (await contentLs()).find(x => x.name === snapshotPinName(snap.snapshot_id))
  t.is(se?.kind, 'snapshot')
  t.is(se?.content, cid)
  t.true(se?.record)
  t.true((se?.cluster?.pinnedPeers ?? 0) >= 1, JSON.stringify(se))
  await controller.csi.controller.DeleteSnapshot({ snapshot_id: snap.snapshot_id })

  await controller.csi.controller.DeleteVolume({ volume_id: id })
  const after = await contentLs()
  t.falsy(after.find(x => x.name === volumePinName(id)), JSON.stringify(after))
  t.falsy(after.find(x => x.name === snapshotPinName(snap.snapshot_id)), JSON.stringify(after))
})

test.serial('content added to one storage node streams byte-exact through a node-local Kubo that had none of it', async (t) => {
  const { sc } = fx as Fixture
  const node = sc.nodes[1] as NonNullable<typeof sc.nodes[number]>
  const data = randomBytes(24 * 1024 * 1024 + 4321) // ~100 leaves of 256 KiB
  const cid = await (sc.storage[2] as StoragePeer).kubo.addBytes(data, ['--cid-version=1', '--raw-leaves'])
  const total = (await dagBlocks(sc.storage[2] as StoragePeer, cid)).size
  t.true(total > 90)
  t.false((await localBlocks(node.kubo)).has(Buffer.from(CID.parse(cid).multihash.bytes).toString('hex')), 'node Kubo had the root already')
  // `ipfs-csi mount` on the node-local Kubo: no staged pin, so only reads fetch blocks.
  // As deployed: the node Kubo's blocks directory is readable; blocks it lacks are fetched by Kubo
  // (block/stat) and then read from that directory.
  const m = await ContentMount.start(cid, node.kubo.apiUrl, { name: 'cluster-stream', readTimeoutMs: 30_000, extraArgs: ['--kubo-blocks-dir', path.join(node.kubo.repo, 'blocks')] })
  mounts.push(m)
  const file = path.join(m.dir, cid) // a file root is served as a directory holding it
  const fh = await open(file, 'r')
  try {
    const first = Buffer.alloc(4096)
    const started = Date.now()
    const { bytesRead } = await fh.read(first, 0, first.length, 0)
    const ms = Date.now() - started
    const fetched = [...await localBlocks(node.kubo)].length
    t.log(`first 4 KiB in ${ms} ms; node Kubo holds ${fetched} of ${total} blocks at that moment`)
    t.is(bytesRead, 4096)
    t.true(first.equals(data.subarray(0, 4096)))
    t.true(fetched < total, `node Kubo already had ${fetched}/${total} blocks after the first read`)
  } finally {
    await fh.close()
  }
  t.is(sha(await readFile(file)), sha(data))
  await m.stop()
  const line = (await m.log()).split('\n').find(l => l.includes('read path totals')) ?? '{}'
  const totals = JSON.parse(line.slice(line.indexOf('{'))) as { localHits?: number, localBad?: number }
  // The reader's first leaves (before read-ahead starts at 2 MiB) come straight from block/get.
  t.true((totals.localHits ?? 0) >= total * 0.8, `blocks read from the node's disk after Kubo fetched them: ${line}`)
  t.is(totals.localBad, 0)
})

test.serial('a staged volume on a node-local Kubo is pinned by the node; repo gc never breaks a read; unstage releases it', async (t) => {
  const { sc } = fx as Fixture
  const node = sc.nodes[0] as NonNullable<typeof sc.nodes[number]>
  const data = randomBytes(6 * 1024 * 1024 + 99)
  const cid = await (sc.storage[1] as StoragePeer).kubo.addBytes(data, ['--cid-version=1'])
  const { id, ctx } = await createContentVolume('pvc-gc', cid, { replicationMin: '1' })
  const sp = node.driver.stagingPath(id)
  const started = Date.now()
  await node.driver.csi.node.NodeStageVolume({ volume_id: id, staging_target_path: sp, volume_capability: RO, volume_context: ctx })
  t.log(`NodeStageVolume took ${Date.now() - started} ms`)
  const pinName = stagedPinName(id)
  // Reads and GC interleaved: every read is byte-exact while GC runs several times.
  const reads = (async () => {
    for (let i = 0; i < 4; i++) t.is(sha(await readFile(path.join(sp, cid))), sha(data), `read ${i}`)
  })()
  for (let i = 0; i < 3; i++) await node.kubo.cli(['repo', 'gc', '--quiet'], undefined, 120_000)
  await reads
  // The staged pin completes in the background; after it GC keeps every block of the volume.
  await until('staged pin', 60_000, async () => {
    const out = JSON.parse(await node.kubo.cli(['pin', 'ls', '--type=recursive', '--names', '--enc=json'])) as { Keys: Record<string, { Name?: string }> }
    return Object.values(out.Keys ?? {}).some(v => v.Name === pinName)
  })
  for (let i = 0; i < 3; i++) await node.kubo.cli(['repo', 'gc', '--quiet'], undefined, 120_000)
  const blocks = await dagBlocks(sc.storage[1] as StoragePeer, cid)
  const local = await localBlocks(node.kubo)
  t.true([...blocks].every(b => local.has(b)), 'GC removed blocks of a staged volume')
  t.is(sha(await readFile(path.join(sp, cid))), sha(data))
  // content ls: the node-local Kubo holds the volume's content.
  const e = (await contentLs()).find(x => x.name === volumePinName(id))
  t.true(e?.nodes.find(n => n.kuboApi === node.kubo.apiUrl)?.pinned, JSON.stringify(e))

  const pinOf = async (): Promise<string | undefined> => {
    const out = JSON.parse(await node.kubo.cli(['pin', 'ls', '--type=recursive', '--names', '--enc=json'])) as { Keys: Record<string, { Name?: string }> }
    const k = Object.entries(out.Keys ?? {}).find(([c]) => CID.parse(c).equals(CID.parse(cid)))
    return k === undefined ? undefined : k[1].Name ?? ''
  }
  // A second volume (a static handle) on the same root: unstaging the first hands the pin over.
  const sp2 = node.driver.stagingPath(cid)
  await node.driver.csi.node.NodeStageVolume({ volume_id: cid, staging_target_path: sp2, volume_capability: RO })
  await node.driver.csi.node.NodeUnstageVolume({ volume_id: id, staging_target_path: sp })
  t.is(await pinOf(), stagedPinName(cid))
  t.is(sha(await readFile(path.join(sp2, cid))), sha(data))
  await node.driver.csi.node.NodeUnstageVolume({ volume_id: cid, staging_target_path: sp2 })
  t.is(await pinOf(), undefined)
  // A root pinned by someone else (a preload) keeps its pin and name across stage and unstage.
  await node.kubo.cli(['pin', 'add', '--name', 'preload:test-model', cid])
  await node.driver.csi.node.NodeStageVolume({ volume_id: id, staging_target_path: sp, volume_capability: RO, volume_context: ctx })
  await sleep(1000) // lets the background pin run (the assertion must hold whether it ran or not)
  await node.driver.csi.node.NodeUnstageVolume({ volume_id: id, staging_target_path: sp })
  t.is(await pinOf(), 'preload:test-model')
  await node.kubo.cli(['pin', 'rm', cid])
  await (fx as Fixture).controller.csi.controller.DeleteVolume({ volume_id: id })
})

test.serial('a stopped storage peer: IPFS Cluster restores replication and reads through a node mount never fail', async (t) => {
  const { sc } = fx as Fixture
  const node = sc.nodes[1] as NonNullable<typeof sc.nodes[number]>
  const data = randomBytes(2 * 1024 * 1024 + 5)
  const cid = await (sc.storage[2] as StoragePeer).kubo.addBytes(data, ['--cid-version=1'])
  const { id } = await createContentVolume('pvc-failover', cid, { replicationMin: '2', replicationMax: '2' })
  const before = (await contentLs()).find(x => x.name === volumePinName(id))
  const pinned = (before?.cluster?.peers ?? []).filter(p => p.status === 'pinned').map(p => p.peer)
  t.true(pinned.length >= 2, JSON.stringify(before))
  // Stop a pinned peer other than the one the controller and `content ls` talk to.
  const victim = sc.storage.find(s => s !== sc.storage[0] && pinned.includes(s.cluster.peerId)) as StoragePeer
  t.truthy(victim)
  const m = await ContentMount.start(cid, node.kubo.apiUrl, { name: 'cluster-failover', readTimeoutMs: 30_000, extraArgs: ['--kubo-blocks-dir', path.join(node.kubo.repo, 'blocks')] })
  mounts.push(m)
  let stop = false
  let reads = 0
  const reader = (async () => {
    while (!stop) {
      // GC first, so each read fetches through bitswap again from whichever peers remain.
      await node.kubo.cli(['repo', 'gc', '--quiet'], undefined, 120_000)
      t.is(sha(await readFile(path.join(m.dir, cid))), sha(data), `read ${reads}`)
      reads++
      await sleep(200)
    }
  })()
  try {
    await victim.cluster.stop()
    await victim.kubo.stop()
    const started = Date.now()
    const restored = await until('replication restored', 120_000, async () => {
      const e = (await contentLs()).find(x => x.name === volumePinName(id))
      const live = (e?.cluster?.peers ?? []).filter(p => p.status === 'pinned' && p.peer !== victim.cluster.peerId)
      return live.length >= 2 ? live : undefined
    })
    t.log(`replication restored on ${restored.map(p => p.peername).join(', ')} in ${Date.now() - started} ms; ${reads} reads so far`)
    t.true(restored.length >= 2)
  } finally {
    stop = true
    await reader
  }
  t.true(reads >= 1)
  await (fx as Fixture).controller.csi.controller.DeleteVolume({ volume_id: id })
})

test.serial('a corrupted block on a storage node is never served through a mount', async (t) => {
  const { sc } = fx as Fixture
  const source = sc.storage.find(s => s !== sc.storage[0] && s.kubo.child?.exitCode === null && s.kubo.child?.signalCode === null) as StoragePeer
  t.truthy(source)
  const node = sc.nodes[0] as NonNullable<typeof sc.nodes[number]>
  const data = randomBytes(4 * 256 * 1024) // 4 raw leaves
  const cid = await source.kubo.addBytes(data, ['--cid-version=1', '--raw-leaves'])
  const leaves = (await source.kubo.cli(['refs', cid])).split('\n').filter(l => l !== '')
  t.is(leaves.length, 4)
  const bad = await source.kubo.blockFile(leaves[2] as string)
  const orig = await readFile(bad)
  const wrong = Buffer.from(orig); wrong[100] = (wrong[100] as number) ^ 0xff
  await writeFile(bad, wrong)
  const region = 2 * 256 * 1024
  const check = async (m: ContentMount, label: string): Promise<void> => {
    const fh = await open(path.join(m.dir, cid), 'r')
    try {
      const ok = Buffer.alloc(4096)
      await fh.read(ok, 0, 4096, 0)
      t.true(ok.equals(data.subarray(0, 4096)), `${label}: intact leaf`)
      const buf = Buffer.alloc(4096)
      try {
        await fh.read(buf, 0, 4096, region)
        t.true(buf.equals(data.subarray(region, region + 4096)), `${label}: wrong bytes served`)
      } catch (err) {
        t.is((err as NodeJS.ErrnoException).code, 'EIO', `${label}: ${(err as Error).message}`)
      }
    } finally {
      await fh.close()
    }
  }
  // Through a node-local Kubo (bitswap from the storage node) and straight on the storage Kubo.
  const viaNode = await ContentMount.start(cid, node.kubo.apiUrl, { name: 'cluster-corrupt-node', readTimeoutMs: 5000 })
  mounts.push(viaNode)
  await check(viaNode, 'node-local')
  const direct = await ContentMount.start(cid, source.kubo.apiUrl, { name: 'cluster-corrupt-direct', readTimeoutMs: 5000 })
  mounts.push(direct)
  await check(direct, 'storage')
})

test.serial('replicationMin the Cluster cannot reach: a retryable code, no record; DeleteVolume removes what the attempt left', async (t) => {
  const { sc, controller } = fx as Fixture
  const live = sc.storage.filter(s => s.kubo.child?.exitCode === null && s.kubo.child?.signalCode === null)
  const data = randomBytes(64 * 1024)
  const cid = await (live[0] as StoragePeer).kubo.addBytes(data, ['--cid-version=1'])
  const name = 'pvc-too-many'
  const code = await controller.csi.controller.CreateVolume({ name, volume_capabilities: [RO], parameters: { cid, replicationMin: String(sc.storage.length + 1) } }, { deadlineMs: 15_000 })
    .then(() => 'ok', (err: { code: number }) => err.code)
  t.true(code === 14 || code === 4, `code ${String(code)}`) // UNAVAILABLE or DEADLINE_EXCEEDED: the CO retries
  const id = contentVolumeId(name)
  const listed = await controller.csi.controller.ListVolumes({})
  t.false((listed.entries as Array<{ volume: { volume_id: string } }>).some(e => e.volume.volume_id === id))
  const e = (await contentLs()).find(x => x.name === volumePinName(id))
  t.true(e === undefined || !e.record, JSON.stringify(e))
  await until('controller idle', 30_000, async () => (await controller.csi.controller.DeleteVolume({ volume_id: id }).then(() => true, () => false)))
  t.falsy((await contentLs()).find(x => x.name === volumePinName(id)))
})
