// The CSI Node service on content volumes, end to end: a real Kubo, `ipfs-csi serve --mode
// node` as a child process, real FUSE and bind mounts under a temporary kubelet dir.
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
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
import { POD_NAMESPACE_KEY } from '../../node-plugin/inline-policy.js'
import { STAGED_PIN_PREFIX } from '../../node-plugin/staged-pins.js'
import { policyPath, writePolicy } from '../helpers/inline-policy.js'

const execFileP = promisify(execFile)
const RO = mountCap('MULTI_NODE_READER_ONLY')

interface Fixture { kubo: KuboDaemon, driver: DriverProcess, src: string, root: string, files: Record<string, Buffer>, policy: string }
let fx: Fixture

const mountedUnder = async (dir: string): Promise<string[]> => (await readMountTable()).filter(e => e.mountPoint.startsWith(dir + '/')).map(e => e.mountPoint)

test.before(async () => {
  const kubo = await KuboDaemon.start({ name: 'node-content' })
  const src = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-node-src-'))
  const files: Record<string, Buffer> = {
    'hello.txt': Buffer.from('hello from ipfs-csi\n'),
    'sub/path/big.bin': randomBytes(3 * 1024 * 1024 + 12345), // several 256 KiB leaves
    'sub/path/small.txt': Buffer.from('small'),
    'sub/empty.txt': Buffer.alloc(0)
  }
  for (const [rel, data] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(src, rel)), { recursive: true })
    await writeFile(path.join(src, rel), data)
  }
  const root = await kubo.add(src, ['--cid-version=1'])
  // The inline volume policy file does not exist yet: the inline test writes it.
  const policy = policyPath()
  const driver = await DriverProcess.start({ kuboApi: kubo.apiUrl, mode: 'node', name: 'node-content', extraArgs: ['--heal-interval-ms', '0', '--kubo-timeout-ms', '5000', '--max-volumes-per-node', '32', '--fuse-max-heap-mib', '192', '--inline-policy-file', policy] })
  fx = { kubo, driver, src, root, files, policy }
})

test.after.always(async () => {
  if (fx === undefined) return
  await fx.driver.stop().catch(() => {})
  await cleanupMounts(fx.driver.dir)
  await rm(fx.driver.dir, { recursive: true, force: true })
  await rm(fx.src, { recursive: true, force: true })
  await rm(path.dirname(fx.policy), { recursive: true, force: true })
  await fx.kubo.dispose()
})

async function stage (volumeId: string, ctx: Record<string, string> = {}, cap = RO): Promise<string> {
  const sp = fx.driver.stagingPath(volumeId)
  await fx.driver.csi.node.NodeStageVolume({ volume_id: volumeId, staging_target_path: sp, volume_capability: cap, volume_context: ctx })
  return sp
}

async function publish (volumeId: string, sp: string, pod: string, ctx: Record<string, string> = {}): Promise<string> {
  const tp = fx.driver.targetPath(pod, volumeId)
  await fx.driver.csi.node.NodePublishVolume({ volume_id: volumeId, staging_target_path: sp, target_path: tp, volume_capability: RO, readonly: true, volume_context: ctx })
  return tp
}

async function teardown (volumeId: string, sp: string, targets: string[]): Promise<void> {
  for (const tp of targets) await fx.driver.csi.node.NodeUnpublishVolume({ volume_id: volumeId, target_path: tp })
  await fx.driver.csi.node.NodeUnstageVolume({ volume_id: volumeId, staging_target_path: sp })
}

test('node info and capabilities', async (t) => {
  const info = await fx.driver.csi.node.NodeGetInfo({})
  t.is(info.node_id, 'test-node')
  t.is(info.max_volumes_per_node, '32', 'from --max-volumes-per-node')
  t.deepEqual(info.accessible_topology.segments, { 'topology.ipfs.csi.dev/node': 'test-node' })
  const caps = await fx.driver.csi.node.NodeGetCapabilities({})
  t.deepEqual(caps.capabilities.map((c: any) => c.rpc.type).sort(), ['GET_VOLUME_STATS', 'SINGLE_NODE_MULTI_WRITER', 'STAGE_UNSTAGE_VOLUME', 'VOLUME_CONDITION'])
  t.is(await codeOf(fx.driver.csi.node.NodeExpandVolume({ volume_id: fx.root, volume_path: '/x' })), grpc.status.UNIMPLEMENTED)
})

/** The command lines of this driver's FUSE servers (their spec lies under its state dir). */
async function fuseServerCmdlines (): Promise<string[][]> {
  const out: string[][] = []
  for (const pid of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(pid)) continue
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0')
    if (argv.includes('fuse-server') && argv.some(a => a.startsWith(fx.driver.stateDir + '/'))) out.push(argv)
  }
  return out
}

test('each FUSE server runs with the --fuse-max-heap-mib heap limit', async (t) => {
  const sp = await stage(fx.root)
  t.teardown(async () => { await fx.driver.csi.node.NodeUnstageVolume({ volume_id: fx.root, staging_target_path: sp }).catch(() => {}) })
  const lines = await fuseServerCmdlines()
  t.is(lines.length, 1)
  t.true(lines[0]?.includes('--max-old-space-size=192'), JSON.stringify(lines))
})

test('static CID handle: stage, publish read-only twice, read byte-exact, unpublish both, unstage cleans up', async (t) => {
  const id = fx.root
  const sp = await stage(id)
  const t1 = await publish(id, sp, 'pod-a')
  const t2 = await publish(id, sp, 'pod-b')
  t.teardown(async () => { await cleanupMounts(path.dirname(sp)) })
  for (const target of [sp, t1, t2]) {
    for (const [rel, data] of Object.entries(fx.files)) t.true((await readFile(path.join(target, rel))).equals(data), `${target}/${rel}`)
  }
  t.deepEqual((await readdir(t1)).sort(), ['hello.txt', 'sub'])
  const table = await readMountTable()
  for (const target of [t1, t2]) {
    // ro,nosuid,nodev on every bind into a pod, as the mount table shows it (issue 12 item 4).
    const opts = findMount(table, target)?.options ?? []
    t.true(['ro', 'nosuid', 'nodev'].every(f => opts.includes(f)), `${target} is bound ${opts.join(',')}`)
  }
  await t.throwsAsync(writeFile(path.join(t1, 'new.txt'), 'x'), { code: 'EROFS' })
  // Idempotent: the same stage and the same publish again are OK.
  await stage(id)
  await publish(id, sp, 'pod-a')
  // Incompatible publish (read-write) of content is refused.
  t.is(await codeOf(fx.driver.csi.node.NodePublishVolume({ volume_id: id, staging_target_path: sp, target_path: fx.driver.targetPath('pod-c', id), volume_capability: mountCap('SINGLE_NODE_WRITER'), readonly: false })), grpc.status.INVALID_ARGUMENT)
  // Staging the same volume at another path is refused: one staging path per volume.
  t.is(await codeOf(fx.driver.csi.node.NodeStageVolume({ volume_id: id, staging_target_path: fx.driver.stagingPath('other'), volume_capability: RO })), grpc.status.FAILED_PRECONDITION)

  await fx.driver.csi.node.NodeUnpublishVolume({ volume_id: id, target_path: t1 })
  t.false(existsSync(t1), 'target dir removed')
  t.is(findMount(await readMountTable(), t1), undefined)
  t.true((await readFile(path.join(t2, 'hello.txt'))).equals(fx.files['hello.txt'] as Buffer), 'the other target still reads')
  await fx.driver.csi.node.NodeUnpublishVolume({ volume_id: id, target_path: t1 }) // idempotent
  await fx.driver.csi.node.NodeUnpublishVolume({ volume_id: id, target_path: t2 })
  await fx.driver.csi.node.NodeUnstageVolume({ volume_id: id, staging_target_path: sp })
  await fx.driver.csi.node.NodeUnstageVolume({ volume_id: id, staging_target_path: sp }) // idempotent
  t.deepEqual(await mountedUnder(fx.driver.kubeletDir), [], 'no mount left under the kubelet dir')
  t.false(existsSync(path.join(fx.driver.stateDir, 'volumes', volumeKey(id))), 'state dir removed')
})

test('/ipfs/<cid>/sub/path handle serves the subdirectory', async (t) => {
  const id = `/ipfs/${fx.root}/sub/path`
  const sp = await stage(id)
  t.teardown(async () => { await cleanupMounts(path.dirname(sp)) })
  const tp = await publish(id, sp, 'pod-path')
  t.deepEqual((await readdir(tp)).sort(), ['big.bin', 'small.txt'])
  t.true((await readFile(path.join(tp, 'big.bin'))).equals(fx.files['sub/path/big.bin'] as Buffer))
  await teardown(id, sp, [tp])
  t.deepEqual(await mountedUnder(fx.driver.kubeletDir), [])
})

test('volume context cid + path (as the controller or a StorageClass gives it)', async (t) => {
  const id = 'pv-static-ctx'
  const ctx = { [CTX.cid]: fx.root, [CTX.path]: 'sub' }
  const sp = await stage(id, ctx)
  t.teardown(async () => { await cleanupMounts(path.dirname(sp)) })
  const tp = await publish(id, sp, 'pod-ctx', ctx)
  t.deepEqual((await readdir(tp)).sort(), ['empty.txt', 'path'])
  t.is((await readFile(path.join(tp, 'empty.txt'))).length, 0)
  t.true((await readFile(path.join(tp, 'path/small.txt'))).equals(fx.files['sub/path/small.txt'] as Buffer))
  // Same id, other content: incompatible re-stage.
  t.is(await codeOf(fx.driver.csi.node.NodeStageVolume({ volume_id: id, staging_target_path: sp, volume_capability: RO, volume_context: { [CTX.cid]: fx.root } })), grpc.status.ALREADY_EXISTS)
  await teardown(id, sp, [tp])
  t.deepEqual(await mountedUnder(fx.driver.kubeletDir), [])
})

test('a path that does not exist in the DAG is NOT_FOUND and leaves nothing behind', async (t) => {
  const id = `${fx.root}/no/such/dir`
  const sp = fx.driver.stagingPath(id)
  t.teardown(async () => { await cleanupMounts(path.dirname(sp)) })
  t.is(await codeOf(fx.driver.csi.node.NodeStageVolume({ volume_id: id, staging_target_path: sp, volume_capability: RO })), grpc.status.NOT_FOUND)
  t.deepEqual(await mountedUnder(fx.driver.kubeletDir), [])
  t.false(existsSync(path.join(fx.driver.stateDir, 'volumes', volumeKey(id))))
})

test('content that cannot be fetched fails the stage within the deadline (DEADLINE_EXCEEDED), nothing left behind', async (t) => {
  // A CID no node has: hashed, never stored. Kubo has no peers, so the fetch can only time out.
  const missing = (await fx.kubo.cli(['add', '-Q', '--only-hash', '--cid-version=1'], randomBytes(4096))).trim()
  const sp = fx.driver.stagingPath(missing)
  t.teardown(async () => { await cleanupMounts(path.dirname(sp)) })
  const started = Date.now()
  const first = codeOf(fx.driver.csi.node.NodeStageVolume({ volume_id: missing, staging_target_path: sp, volume_capability: RO }))
  // While the first call works on the volume, a second one on the same volume is ABORTED (the CO retries).
  // (the first call is in Kubo for --kubo-timeout-ms = 5 s; 1 s leaves wide margins both sides)
  await new Promise(resolve => setTimeout(resolve, 1000))
  t.is(await codeOf(fx.driver.csi.node.NodeStageVolume({ volume_id: missing, staging_target_path: sp, volume_capability: RO })), grpc.status.ABORTED)
  t.is(await first, grpc.status.DEADLINE_EXCEEDED)
  const ms = Date.now() - started
  t.true(ms < 60_000 + 5000, `stage gave up after ${ms} ms`)
  t.is(findMount(await readMountTable(), sp), undefined)
  t.false(existsSync(path.join(fx.driver.stateDir, 'volumes', volumeKey(missing))))
})

test('a stage whose FUSE server fails tells the user a short cause and a code, with no Kubo address and no server log text', async (t) => {
  // A dag-cbor root: Kubo has the block (the stage's checks pass), the FUSE server cannot serve it.
  const cid = (await fx.kubo.cli(['dag', 'put', '--store-codec', 'dag-cbor', '--input-codec', 'dag-json'], JSON.stringify({ served: 'never', kubo: fx.kubo.apiUrl }))).trim()
  const sp = fx.driver.stagingPath(cid)
  t.teardown(async () => { await cleanupMounts(path.dirname(sp)) })
  const err = await fx.driver.csi.node.NodeStageVolume({ volume_id: cid, staging_target_path: sp, volume_capability: RO }).then(() => undefined, (e: grpc.ServiceError) => e)
  t.truthy(err, 'the stage fails')
  const message = err?.details ?? ''
  t.not(err?.code, grpc.status.INTERNAL, message)
  t.regex(message, /\((INVALID_ARGUMENT|FAILED_PRECONDITION|NOT_FOUND|DATA_LOSS); details in the node plugin's log\)$/)
  t.notRegex(message, /https?:|127\.0\.0\.1|"level"|"msg"|\n|\bat .*\.js/, 'no address, no log line, no stack')
  t.true(message.length < 300, message)
  // The detail the user does not see is in the node's log, next to the request.
  const driverLog = await readFile(fx.driver.logPath, 'utf8')
  const line = driverLog.split('\n').find(l => l.includes('rpc ') && l.includes(cid) && l.includes('"detail"'))
  t.truthy(line, 'the node plugin logs the detail')
  t.false(existsSync(path.join(fx.driver.stateDir, 'volumes', volumeKey(cid))))
})

test('a stage whose content Kubo cannot fetch names neither Kubo\'s address nor its error text', async (t) => {
  const missing = (await fx.kubo.cli(['add', '-Q', '--only-hash', '--cid-version=1'], randomBytes(4096))).trim()
  const sp = fx.driver.stagingPath(`${missing}-quiet`)
  t.teardown(async () => { await cleanupMounts(path.dirname(sp)) })
  const err = await fx.driver.csi.node.NodeStageVolume({ volume_id: missing, staging_target_path: sp, volume_capability: RO }).then(() => undefined, (e: grpc.ServiceError) => e)
  t.is(err?.code, grpc.status.DEADLINE_EXCEEDED)
  const message = err?.details ?? ''
  t.regex(message, /content unavailable: block fetch timed out \(DEADLINE_EXCEEDED/)
  t.notRegex(message, /https?:|127\.0\.0\.1|kubo |api\/v0|did not finish/i, message)
})

test('CSI inline ephemeral volume: refused (PERMISSION_DENIED, nothing left) without a policy and for what the policy does not name; allowed: published without staging, not pinned, unpublish tears it down', async (t) => {
  const id = 'csi-0a1b2c3d4e5f'
  const tp = fx.driver.targetPath('pod-inline', id)
  t.teardown(async () => { await cleanupMounts(fx.driver.dir) })
  // kubelet sends SINGLE_NODE_WRITER and readonly=false for inline volumes; content is served read-only.
  const inlineReq = (ns: string, cid = fx.root): Record<string, unknown> => ({ volume_id: id, target_path: tp, volume_capability: mountCap('SINGLE_NODE_WRITER'), readonly: false, volume_context: { [CTX.ephemeral]: 'true', [CTX.cid]: cid, [CTX.path]: 'sub/path', 'csi.storage.k8s.io/pod.name': 'pod-inline', [POD_NAMESPACE_KEY]: ns } })
  const refused = async (req: Record<string, unknown>, why: string): Promise<void> => {
    t.is(await codeOf(fx.driver.csi.node.NodePublishVolume(req)), grpc.status.PERMISSION_DENIED, why)
    t.is(findMount(await readMountTable(), tp), undefined, `${why}: nothing mounted`)
    t.false(existsSync(path.join(fx.driver.stateDir, 'volumes', volumeKey(id))), `${why}: no state left`)
  }
  await refused(inlineReq('team-a'), 'no policy file')
  const other = await fx.kubo.addBytes(Buffer.from('content the policy does not name'), ['--cid-version=1'])
  writePolicy(fx.policy, [{ namespaces: ['team-a'], cids: [fx.root] }])
  await refused(inlineReq('team-b'), 'a namespace the policy does not name')
  await refused(inlineReq('team-a', other), 'a CID the policy does not name')
  const req = inlineReq('team-a')
  await fx.driver.csi.node.NodePublishVolume(req)
  await fx.driver.csi.node.NodePublishVolume(req) // idempotent
  t.true((await readFile(path.join(tp, 'big.bin'))).equals(fx.files['sub/path/big.bin'] as Buffer))
  t.true(findMount(await readMountTable(), tp)?.options.includes('ro'))
  const stats = await fx.driver.csi.node.NodeGetVolumeStats({ volume_id: id, volume_path: tp })
  t.false(stats.volume_condition.abnormal, stats.volume_condition.message)
  // A staged volume's pin of this root would be made within moments of the mount: none comes.
  const pins = async (): Promise<string> => await fx.kubo.cli(['pin', 'ls', '--type', 'recursive', '--names'])
  for (const until = Date.now() + 3000; Date.now() < until;) {
    t.false((await pins()).includes(`${STAGED_PIN_PREFIX}${id}`), 'an inline volume is not pinned into the node repo')
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  await fx.driver.csi.node.NodeUnpublishVolume({ volume_id: id, target_path: tp })
  t.false(existsSync(tp))
  t.deepEqual(await mountedUnder(fx.driver.dir), [], 'neither the bind nor the private FUSE mount is left')
  t.false(existsSync(path.join(fx.driver.stateDir, 'volumes', volumeKey(id))))
})

test('NodeGetVolumeStats: usage, path checks, abnormal once the FUSE server is killed', async (t) => {
  const id = `${fx.root}/sub`
  const sp = await stage(id)
  t.teardown(async () => { await cleanupMounts(path.dirname(sp)) })
  const tp = await publish(id, sp, 'pod-stats')
  const ok = await fx.driver.csi.node.NodeGetVolumeStats({ volume_id: id, volume_path: tp })
  t.false(ok.volume_condition.abnormal, ok.volume_condition.message)
  const bytes = ok.usage.find((u: any) => u.unit === 'BYTES')
  const inodes = ok.usage.find((u: any) => u.unit === 'INODES')
  t.truthy(bytes, JSON.stringify(ok.usage))
  t.truthy(inodes)
  t.true(Number(bytes.total) >= Number(bytes.used))
  t.is(await codeOf(fx.driver.csi.node.NodeGetVolumeStats({ volume_id: id, volume_path: path.join(fx.driver.kubeletDir, 'elsewhere') })), grpc.status.NOT_FOUND)
  t.is(await codeOf(fx.driver.csi.node.NodeGetVolumeStats({ volume_id: 'not-staged-here', volume_path: tp })), grpc.status.NOT_FOUND)
  t.is(await codeOf(fx.driver.csi.node.NodeGetVolumeStats({ volume_id: id, volume_path: '' })), grpc.status.INVALID_ARGUMENT)

  // Kubo frozen: the mount is alive, but data not yet cached cannot be read; the condition says so.
  fx.kubo.pause()
  let frozen: any
  try {
    frozen = await fx.driver.csi.node.NodeGetVolumeStats({ volume_id: id, volume_path: tp })
  } finally {
    fx.kubo.resume()
  }
  t.true(frozen.volume_condition.abnormal)
  t.regex(frozen.volume_condition.message, /IPFS daemon is unreachable/)
  // Namespace users read conditions in events: Kubo's address stays in the node's log.
  t.false(frozen.volume_condition.message.includes(new URL(fx.kubo.apiUrl).host), frozen.volume_condition.message)
  t.notRegex(frozen.volume_condition.message, /https?:|127\.0\.0\.1/)
  // Resumed: normal again once Kubo answers (a loaded machine can take seconds after SIGCONT).
  let back: any
  const backBy = Date.now() + 30_000
  do {
    back = await fx.driver.csi.node.NodeGetVolumeStats({ volume_id: id, volume_path: tp })
  } while (back.volume_condition.abnormal === true && Date.now() < backBy && await new Promise(resolve => setTimeout(() => resolve(true), 200)))
  t.false(back.volume_condition.abnormal, back.volume_condition.message)

  const status = JSON.parse(await readFile(path.join(fx.driver.stateDir, 'volumes', volumeKey(id), 'fuse-status.json'), 'utf8')) as { pid: number }
  process.kill(status.pid, 'SIGKILL')
  const deadline = Date.now() + 30_000
  let bad: any
  while (Date.now() < deadline) {
    bad = await fx.driver.csi.node.NodeGetVolumeStats({ volume_id: id, volume_path: tp })
    if (bad.volume_condition.abnormal === true) break
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  t.true(bad.volume_condition.abnormal)
  t.regex(bad.volume_condition.message, /FUSE server|not connected/)
  // Unpublish and unstage still clean up a volume whose server died.
  await teardown(id, sp, [tp])
  t.deepEqual(await mountedUnder(fx.driver.kubeletDir), [])
})

test('NodePublishVolume on a volume whose FUSE server died heals it first: old and new targets read the content, read-only', async (t) => {
  const id = fx.root
  const sp = await stage(id)
  t.teardown(async () => { await cleanupMounts(path.dirname(sp)); await cleanupMounts(path.join(fx.driver.kubeletDir, 'pods')) })
  const tpA = await publish(id, sp, 'pod-heal-a')
  const statusFile = path.join(fx.driver.stateDir, 'volumes', volumeKey(id), 'fuse-status.json')
  const dead = JSON.parse(await readFile(statusFile, 'utf8')) as { pid: number }
  process.kill(dead.pid, 'SIGKILL')
  // Wait (bounded) until the process is gone (or a zombie), so the publish below meets a dead mount.
  const gone = async (pid: number): Promise<boolean> => {
    const st = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
    return st === undefined || st.slice(st.lastIndexOf(')') + 2).startsWith('Z')
  }
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline && !(await gone(dead.pid))) await new Promise(resolve => setTimeout(resolve, 50))
  t.true(await gone(dead.pid))
  const tpB = await publish(id, sp, 'pod-heal-b')
  const healed = JSON.parse(await readFile(statusFile, 'utf8')) as { pid: number }
  t.not(healed.pid, dead.pid)
  const table = await readMountTable()
  for (const tp of [tpA, tpB]) {
    t.deepEqual(await readFile(path.join(tp, 'hello.txt')), fx.files['hello.txt'])
    const m = findMount(table, tp)
    t.truthy(m, tp)
    t.true(m?.options.includes('ro'), `${tp}: ${m?.options.join(',') ?? 'not mounted'}`)
  }
  await teardown(id, sp, [tpA, tpB])
  t.deepEqual(await mountedUnder(fx.driver.kubeletDir), [])
})

test('bad input is INVALID_ARGUMENT and nothing is mounted or created', async (t) => {
  const node = fx.driver.csi.node
  const k = fx.driver.kubeletDir
  const sp = path.join(k, 'plugins/bad/globalmount')
  const tp = path.join(k, 'pods/bad/mount')
  const before = await mountedUnder(fx.driver.dir)
  const stageCases: Array<[string, Record<string, unknown>]> = [
    ['missing volume id', { staging_target_path: sp, volume_capability: RO }],
    ['missing staging path', { volume_id: fx.root, volume_capability: RO }],
    ['missing capability', { volume_id: fx.root, staging_target_path: sp }],
    ['block access', { volume_id: fx.root, staging_target_path: sp, volume_capability: { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } } }],
    ['invalid CID', { volume_id: 'bafybeigarbage', staging_target_path: sp, volume_capability: RO }],
    ['handle with ..', { volume_id: `${fx.root}/../x`, staging_target_path: sp, volume_capability: RO }],
    ['handle with comma', { volume_id: `${fx.root}/a,b`, staging_target_path: sp, volume_capability: RO }],
    ['path outside kubelet dir', { volume_id: fx.root, staging_target_path: path.join(fx.driver.dir, 'outside'), volume_capability: RO }],
    ['path with ..', { volume_id: fx.root, staging_target_path: `${k}/../outside`, volume_capability: RO }]
  ]
  for (const [name, req] of stageCases) t.is(await codeOf(node.NodeStageVolume(req)), grpc.status.INVALID_ARGUMENT, `stage: ${name}`)
  const publishCases: Array<[string, Record<string, unknown>]> = [
    ['missing volume id', { staging_target_path: sp, target_path: tp, volume_capability: RO }],
    ['missing target', { volume_id: fx.root, staging_target_path: sp, volume_capability: RO }],
    ['missing capability', { volume_id: fx.root, staging_target_path: sp, target_path: tp }],
    ['block access', { volume_id: fx.root, staging_target_path: sp, target_path: tp, volume_capability: { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } } }],
    ['target outside kubelet dir', { volume_id: fx.root, staging_target_path: sp, target_path: '/tmp/ipfs-csi-evil', volume_capability: RO }],
    ['inline with invalid CID', { volume_id: 'csi-bad', target_path: tp, volume_capability: RO, volume_context: { [CTX.ephemeral]: 'true', [CTX.cid]: 'nope' } }]
  ]
  for (const [name, req] of publishCases) t.is(await codeOf(node.NodePublishVolume(req)), grpc.status.INVALID_ARGUMENT, `publish: ${name}`)
  t.is(await codeOf(node.NodeUnpublishVolume({ volume_id: fx.root })), grpc.status.INVALID_ARGUMENT)
  t.is(await codeOf(node.NodeUnstageVolume({ staging_target_path: sp })), grpc.status.INVALID_ARGUMENT)
  t.is(await codeOf(node.NodeGetVolumeStats({ volume_path: sp })), grpc.status.INVALID_ARGUMENT)
  // Publishing a volume that was never staged.
  t.is(await codeOf(node.NodePublishVolume({ volume_id: fx.root, staging_target_path: sp, target_path: tp, volume_capability: RO, readonly: true })), grpc.status.FAILED_PRECONDITION)
  t.deepEqual(await mountedUnder(fx.driver.dir), before, 'no new mount')
  t.false(existsSync(sp))
  t.false(existsSync(tp))
  t.false(existsSync('/tmp/ipfs-csi-evil'))
})
