// Monitoring end to end with a real Prometheus (Debian's package): it scrapes `ipfs-csi serve`
// (controller and node service, whose scrape carries its FUSE servers' metrics), the fuse-host
// that starts those servers, a preloader, an `ipfs-csi mount` and Kubo itself, evaluates the
// rules of deploy/monitoring/ipfs-csi.rules.yaml, while the test reads through a staged volume
// (blocks from the node Kubo's disk), a volume the controller pinned through an IPFS Cluster on a
// storage Kubo (blocks over bitswap), a writable volume and the mount (blocks through the API),
// hits a corrupted block, stages content nobody has, has a FUSE server killed and healed, edits
// the preloader's desired state and stops the Cluster. Then every metric family the code
// registers (test/helpers/metric-families.ts) is asked from Prometheus' HTTP API for non-zero
// values, alerts must fire, and the dashboard is rendered from the data with every panel drawn.
import test from 'ava'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { addTree, cleanupMounts } from '../helpers/cleanup-mounts.js'
import { ContentMount } from '../helpers/content-mount.js'
import { mountCap } from '../helpers/csi-client.js'
import { DriverProcess } from '../helpers/driver-process.js'
import { freePort } from '../helpers/free-port.js'
import { ClusterPeer } from '../helpers/ipfs-cluster.js'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { READ_PATH_FAMILIES } from '../helpers/metric-families.js'
import { Prometheus, startLogged, waitFor } from '../helpers/prometheus.js'
import { CLI, RESULTS_DIR } from '../helpers/repo.js'
import { stopProcess } from '../helpers/stop-process.js'
import { RULES } from '../../scripts/monitoring.js'
import { renderDashboard } from '../../scripts/render-dashboard.js'

const MiB = 1024 * 1024
const RO = mountCap('MULTI_NODE_READER_ONLY')
const RW = mountCap('SINGLE_NODE_WRITER')
const children: ChildProcess[] = []
let work = ''
let kubo: KuboDaemon | undefined
let storage: KuboDaemon | undefined
let cluster: ClusterPeer | undefined
let driver: DriverProcess | undefined
let mount: ContentMount | undefined
const mounts: ContentMount[] = []

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))
const startChild = (name: string, args: string[]): ChildProcess => { const c = startLogged(`monitoring-${name}`, args); children.push(c); return c }
const httpOk = async (url: string): Promise<true | undefined> => (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok ? true : undefined
/** No public routing: the node Kubo gets what it lacks from the storage Kubo it peers with, over bitswap. */
const PRIVATE_KUBO = { 'Routing.Type': 'none', 'Discovery.MDNS.Enabled': false, 'Swarm.RelayClient.Enabled': false, 'Swarm.RelayService.Enabled': false, 'AutoNAT.ServiceMode': 'disabled' }

test.after.always(async () => {
  await mount?.stop().catch(() => {})
  for (const m of mounts) await m.stop().catch(() => {})
  await driver?.stop().catch(() => {})
  for (const c of children.reverse()) await stopProcess(c, 10_000).catch(() => {})
  await cluster?.dispose().catch(() => {})
  await storage?.dispose().catch(() => {})
  if (driver !== undefined) {
    await cleanupMounts(driver.dir)
    await rm(driver.dir, { recursive: true, force: true })
  }
  await kubo?.dispose()
  if (work !== '') await rm(work, { recursive: true, force: true })
})

test('Prometheus scrapes every part under real reads: each metric family moves, alerts fire, the dashboard renders', async (t) => {
  work = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-monitoring-'))
  // The storage tier: a Kubo with one IPFS Cluster peer. The node Kubo peers with it and nothing else.
  storage = await KuboDaemon.start({ name: 'monitoring-storage', config: PRIVATE_KUBO })
  const sid = JSON.parse(await storage.cli(['id'])) as { ID: string, Addresses: string[] | null }
  const storageAddrs = (sid.Addresses ?? []).filter(a => a.startsWith('/ip4/127.0.0.1/tcp/')).map(a => a.replace(/\/p2p\/.*$/, ''))
  const basicAuth = { user: 'csi', password: randomBytes(12).toString('hex') }
  cluster = await ClusterPeer.init({ name: 'monitoring-storage', kuboApi: storage.apiUrl, secret: randomBytes(32).toString('hex'), basicAuth })
  await cluster.configure([cluster])
  await cluster.launch()
  kubo = await KuboDaemon.start({ name: 'monitoring', config: { ...PRIVATE_KUBO, 'Peering.Peers': [{ ID: sid.ID, Addrs: storageAddrs }] } })
  // Peering dials in the background (with backoff): on a loaded machine the first bitswap read could
  // otherwise start before there is anyone to ask, and spend its whole Kubo deadline waiting.
  await waitFor('node Kubo peered with the storage Kubo', async () =>
    (await kubo?.cli(['swarm', 'peers']) ?? '').includes(sid.ID) ? true : undefined)
  // On the storage Kubo only: a model the node fetches over bitswap when a pod reads it, and a dataset the preloader warms.
  const remote = randomBytes(8 * MiB)
  const remoteTree = await addTree(storage, { 'remote.bin': remote }, 'ipfs-csi-monitoring-remote-', ['--cid-version=1', '--raw-leaves'])
  await rm(remoteTree.dir, { recursive: true, force: true })
  const datasetCid = await storage.addBytes(randomBytes(16 * MiB), ['--cid-version=1', '--raw-leaves'])
  const fetched = randomBytes(8 * MiB)
  const fetchedCid = await storage.addBytes(fetched, ['--cid-version=1', '--raw-leaves'])
  // Content nobody has: its stage waits for the root until the read deadline (a call in flight), then fails.
  const nowhereCid = (await kubo.cli(['add', '-Q', '--only-hash', '--cid-version=1'], randomBytes(1000))).trim()
  const files = { 'model/weights.bin': randomBytes(24 * MiB), 'model/shard2.bin': randomBytes(12 * MiB), 'victim.bin': randomBytes(MiB), 'config.json': Buffer.from('{"ok":true}') }
  const tree = await addTree(kubo, files, 'ipfs-csi-monitoring-src-', ['--cid-version=1', '--raw-leaves'])
  const root = tree.cid
  await rm(tree.dir, { recursive: true, force: true })
  // One leaf of victim.bin is corrupted on disk: reading it must be refused and counted.
  const victim = (await kubo.cli(['resolve', '-r', `/ipfs/${root}/victim.bin`])).trim().replace('/ipfs/', '')
  const leaf = (await kubo.cli(['refs', victim])).trim().split('\n')[1] as string
  const leafFile = await kubo.blockFile(leaf)
  await writeFile(leafFile, randomBytes((await readFile(leafFile)).length))

  const [pNode, pHost, pPreload, pMount, pMount2] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()]
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-mon-drv-'))
  const hostSock = path.join(dir, 'fuse-host.sock')
  const authFile = path.join(work, 'cluster-auth')
  await writeFile(authFile, `${basicAuth.user}:${basicAuth.password}\n`, { mode: 0o600 })
  startChild('fuse-host', [CLI, 'fuse-host', '--socket', hostSock, '--state-dir', path.join(dir, 'state'), '--metrics-listen', `127.0.0.1:${pHost}`])
  await waitFor('fuse-host metrics', async () => await httpOk(`http://127.0.0.1:${pHost}/metrics`))
  driver = await DriverProcess.start({
    kuboApi: kubo.apiUrl,
    mode: 'all',
    dir,
    name: 'monitoring',
    // The node cache bound is below what the node Kubo holds: GC runs (and finds only pinned content).
    extraArgs: ['--metrics-listen', `127.0.0.1:${pNode}`, '--fuse-launcher', `unix://${hostSock}`, '--kubo-blocks-dir', path.join(kubo.repo, 'blocks'),
      '--heal-interval-ms', '1000', '--node-cache-max-bytes', String(32 * MiB), '--read-timeout-ms', '5000', '--kubo-timeout-ms', '10000',
      '--cluster-api', cluster.restUrl, '--cluster-basic-auth-file', authFile]
  })
  const desired = path.join(work, 'desired.json')
  // The preloader warms the model directory only: it would refetch the corrupted block (and wait on bitswap for it).
  const modelCid = (await kubo.cli(['resolve', '-r', `/ipfs/${root}/model`])).trim().replace('/ipfs/', '')
  // model: already on the node; dataset: over bitswap; nowhere: retried, then failed; bad: not a CID.
  // One block at a time, so the fetch queue is seen holding the rest.
  const desiredEntries = [{ name: 'model', cid: modelCid }, { name: 'dataset', cid: datasetCid }, { name: 'nowhere', cid: nowhereCid }, { name: 'bad', cid: 'not-a-cid' }]
  await writeFile(desired, JSON.stringify({ entries: desiredEntries }))
  mount = await ContentMount.start(`${root}/model`, kubo.apiUrl, { name: 'monitoring', extraArgs: ['--metrics-listen', `127.0.0.1:${pMount}`] })
  await waitFor('mount metrics', async () => await httpOk(`http://127.0.0.1:${pMount}/metrics`))
  // A mount reading the node Kubo's disk (--kubo-blocks-dir) of content only the storage Kubo has:
  // each block missing on disk is fetched by the node Kubo over bitswap, then read from disk.
  // (A staged volume's blocks mostly arrive through its background pin first, counted as disk.)
  const mountBitswap = await ContentMount.start(fetchedCid, kubo.apiUrl, { name: 'monitoring-bitswap', extraArgs: ['--kubo-blocks-dir', path.join(kubo.repo, 'blocks'), '--metrics-listen', `127.0.0.1:${pMount2}`] })
  mounts.push(mountBitswap)
  await waitFor('bitswap mount metrics', async () => await httpOk(`http://127.0.0.1:${pMount2}/metrics`))

  const p = await Prometheus.start(work, {
    'ipfs-csi-node': `127.0.0.1:${pNode}`,
    'ipfs-csi-fuse-host': `127.0.0.1:${pHost}`,
    'ipfs-csi-preloader': `127.0.0.1:${pPreload}`,
    'ipfs-csi-mount': `127.0.0.1:${pMount}`,
    'ipfs-csi-mount-bitswap': `127.0.0.1:${pMount2}`,
    kubo: `${new URL(kubo.apiUrl).host}/debug/metrics/prometheus`
  }, [RULES], 'monitoring')
  children.push(p.child)
  const prom = p.url
  const query = async (q: string): Promise<Array<{ metric: Record<string, string>, value: [number, string] }>> => await p.query(q)
  const started = Date.now() / 1000
  await p.allUp(5)
  // The preloader starts once Prometheus scrapes: its fetch queue is only busy at first.
  startChild('preloader', [CLI, 'preload', 'serve', '--desired', desired, '--kubo-api', kubo.apiUrl, '--node-name', 'test-node', '--listen', '127.0.0.1:0', '--metrics-listen', `127.0.0.1:${pPreload}`, '--poll-interval-ms', '500', '--kubo-timeout-ms', '2000', '--concurrency', '1'])
  await p.allUp(6)

  // A stage of content nobody has, in the background: in flight until the read deadline, then refused.
  const nowhereStage = driver.csi.node.NodeStageVolume({ volume_id: nowhereCid, staging_target_path: driver.stagingPath(nowhereCid), volume_capability: RO, volume_context: {} })
    .then(() => 'staged', (err: Error) => err.message)

  // Stage and publish the content as a pod would, then read through the pod's path.
  const volumeId = root
  const sp = driver.stagingPath(volumeId)
  await driver.csi.node.NodeStageVolume({ volume_id: volumeId, staging_target_path: sp, volume_capability: RO, volume_context: {} })
  const tp = driver.targetPath('pod-a', volumeId)
  await driver.csi.node.NodePublishVolume({ volume_id: volumeId, staging_target_path: sp, target_path: tp, volume_capability: RO, readonly: true, volume_context: {} })
  // Each phase waits for Prometheus to have scraped the one before: counters are seen rising
  // (not born non-zero), and the dashboard shows the phases apart.
  const scraped = async (what: string, q: string, timeoutMs = 60_000): Promise<void> => { await p.scraped(what, q, timeoutMs) }
  await scraped('the new FUSE server', `ipfs_csi_fuse_reads_total{volume="${volumeId}"}`)
  t.true((await readFile(path.join(tp, 'model/weights.bin'))).equals(files['model/weights.bin']))
  await scraped('the volume read', `ipfs_csi_fuse_read_bytes_total{volume="${volumeId}"} >= ${24 * MiB}`)
  await t.throwsAsync(readFile(path.join(tp, 'victim.bin')), { code: 'EIO' })
  await scraped('the refused block', 'ipfs_csi_fuse_verification_failures_total > 0')
  // Through the mount (no blocks dir: every block through the API).
  t.true((await readFile(mount.path('weights.bin'))).equals(files['model/weights.bin']))
  await scraped('the mount read', `ipfs_csi_fuse_read_bytes_total{job="ipfs-csi-mount"} >= ${24 * MiB}`)
  await t.throwsAsync(stat(path.join(tp, 'no-such-file')), { code: 'ENOENT' })
  t.not(await nowhereStage, 'staged', 'content nobody has cannot be staged')

  // A volume the controller created and pinned through the Cluster on the storage Kubo: the node
  // Kubo has none of it and gets it over bitswap (through the stage's background pin, mostly).
  const created = (await driver.csi.controller.CreateVolume({ name: 'pvc-remote-model', volume_capabilities: [RO], parameters: { cid: remoteTree.cid, replicationMin: '1', replicationMax: '1' } }, { deadlineMs: 180_000 })).volume
  const rid = created.volume_id as string
  const rsp = driver.stagingPath(rid)
  const rtp = driver.targetPath('pod-b', rid)
  await driver.csi.node.NodeStageVolume({ volume_id: rid, staging_target_path: rsp, volume_capability: RO, volume_context: created.volume_context })
  await driver.csi.node.NodePublishVolume({ volume_id: rid, staging_target_path: rsp, target_path: rtp, volume_capability: RO, readonly: true, volume_context: created.volume_context })
  t.true((await readFile(path.join(rtp, 'remote.bin'))).equals(remote))
  const [fetchedName] = await readdir(mountBitswap.dir)
  t.true((await readFile(path.join(mountBitswap.dir, fetchedName as string))).equals(fetched))
  await scraped('blocks over bitswap', 'ipfs_csi_fuse_blocks_total{job="ipfs-csi-mount-bitswap",source="bitswap"} > 0')

  // A writable volume (an MFS directory): a pod writes a file and reads it back.
  const wv = (await driver.csi.controller.CreateVolume({ name: 'pvc-scratch', volume_capabilities: [RW], capacity_range: { required_bytes: String(64 * MiB) }, parameters: {} })).volume
  const wid = wv.volume_id as string
  const wsp = driver.stagingPath(wid)
  const wtp = driver.targetPath('pod-c', wid)
  await driver.csi.node.NodeStageVolume({ volume_id: wid, staging_target_path: wsp, volume_capability: RW, volume_context: wv.volume_context })
  await driver.csi.node.NodePublishVolume({ volume_id: wid, staging_target_path: wsp, target_path: wtp, volume_capability: RW, readonly: false, volume_context: wv.volume_context })
  const written = randomBytes(2 * MiB)
  await writeFile(path.join(wtp, 'checkpoint.bin'), written)
  t.true((await readFile(path.join(wtp, 'checkpoint.bin'))).equals(written))
  await scraped('the writes', `ipfs_csi_fuse_write_bytes_total >= ${2 * MiB}`)

  // A sequential reader that stays open: read-ahead window and open handles are live while scraped.
  const fh = await open(path.join(tp, 'model/shard2.bin'), 'r')
  try {
    const buf = Buffer.alloc(MiB)
    for (let i = 0; i < 6; i++) await fh.read(buf, 0, MiB, i * MiB)
    await waitFor('open handle and read-ahead window scraped', async () => {
      const r = await query('max(ipfs_csi_fuse_open_handles{job="ipfs-csi-node"}) > 0 and max(ipfs_csi_fuse_read_ahead_window_bytes{job="ipfs-csi-node"}) > 0')
      return r.length > 0 ? true : undefined
    })
  } finally {
    await fh.close()
  }

  // The FUSE server dies under the mount: the fuse-host sees the exit, the healer remounts.
  const statusFile = path.join(driver.stateDir, 'volumes')
  const { volumeKey } = await import('../../node-plugin/volume-state.js')
  const fuseStatus = path.join(statusFile, volumeKey(volumeId), 'fuse-status.json')
  const oldPid = (JSON.parse(await readFile(fuseStatus, 'utf8')) as { pid: number }).pid
  process.kill(oldPid, 'SIGKILL')
  await waitFor('heal', async () => {
    const pid = (JSON.parse(await readFile(fuseStatus, 'utf8')) as { pid: number }).pid
    if (pid === oldPid) return undefined
    // The new server writes its status before the healer binds the targets again: a read of the
    // pod's path right then still meets the dead bind (ENOTCONN). Done when the target serves.
    return await readFile(path.join(tp, 'config.json')).then(() => true, () => undefined)
  })
  // The new server writes its status once mounted; the healer binds the target again after
  // that: the pod's path serves again once the bind is back (a read before it finds the bare dir).
  await waitFor('the target bound again', async () => await readFile(path.join(tp, 'config.json'), 'utf8').then(() => true))
  t.deepEqual(JSON.parse(await readFile(path.join(tp, 'config.json'), 'utf8')), { ok: true })
  t.true((await readFile(path.join(tp, 'model/shard2.bin'))).equals(files['model/shard2.bin']))

  // The preloader's desired state changes: unreadable for a while, then without the dataset (unpinned).
  await scraped('the dataset preloaded', 'ipfs_csi_preload_entry_state{entry="dataset",state="ready"} == 1', 90_000)
  await writeFile(desired, '{"entries": [ not json')
  await scraped('the desired file error', 'ipfs_csi_preload_desired_file_error == 1')
  await writeFile(desired, JSON.stringify({ entries: desiredEntries.filter(e => e.name !== 'dataset') }))
  await scraped('the dataset unpinned', 'ipfs_csi_preload_unpinned_total >= 1')

  // The controller's Cluster poll (every 30 s) saw the volume's pin; then the Cluster stops and the next poll fails.
  await scraped('the Cluster pin', 'ipfs_csi_cluster_pins{state="ok"} >= 1', 90_000)
  await cluster.stop()

  // Every family the code registers (test/helpers/metric-families.ts), from Prometheus, with
  // values above zero at some point of the run (max over time: gauges move, and the healed
  // volume's new FUSE server started its counters again).
  const missing = await p.missing(READ_PATH_FAMILIES, 90_000)
  t.deepEqual(missing, [], 'families with no non-zero series')

  // The rules ran on this data: the corrupt block and the dead FUSE server fired their alerts
  // (asked from the ALERTS series: the verification alert resolves once the healed server's counters restart).
  const firing = await waitFor('alerts fired', async () => {
    const names = new Set((await query('max_over_time(ALERTS{alertstate="firing"}[10m])')).map(s => s.metric.alertname))
    return names.has('IpfsCsiBlockVerificationFailed') && names.has('IpfsCsiFuseServerRestarted') ? [...names].sort() : undefined
  }, 30_000).catch(async (err: Error) => {
    const rules = await (await fetch(`${prom}/api/v1/rules`)).json() as { data: { groups: Array<{ rules: Array<{ name: string, health: string, lastError?: string, state?: string }> }> } }
    t.log(JSON.stringify(rules.data.groups.flatMap(g => g.rules).map(r => [r.name, r.health, r.state, r.lastError])))
    throw err
  })
  t.true(firing.includes('IpfsCsiBlockVerificationFailed'))
  t.false(firing.includes('IpfsKuboDown'), 'Kubo is up: its alert stays silent')

  // The node cache bound is below what the node Kubo holds.
  t.true((await p.alertsSeen()).includes('IpfsCsiNodeCacheNearLimit'), 'IpfsCsiNodeCacheNearLimit pending or firing')

  // The dashboard, drawn from this Prometheus: every panel has data.
  await mkdir(RESULTS_DIR, { recursive: true })
  const panels = await renderDashboard(prom, started, Date.now() / 1000, path.join(RESULTS_DIR, 'dashboard.png'), '10s')
  t.deepEqual(panels.filter(p => p.series === 0).map(p => p.title), [], 'dashboard panels without data')

  for (const [id, target] of [[rid, rtp], [wid, wtp]] as const) await driver.csi.node.NodeUnpublishVolume({ volume_id: id, target_path: target })
  for (const [id, staging] of [[rid, rsp], [wid, wsp]] as const) await driver.csi.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging })

  // Logs: every completed RPC gave exactly one line (as many as the calls counted), with the same
  // fields everywhere: component, method, code, ms, and the volume for volume calls.
  const lines = (await readFile(driver.logPath, 'utf8')).split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as Record<string, unknown>)
  const rpcLines = lines.filter(l => ['rpc done', 'rpc refused', 'rpc failed'].includes(l.message as string))
  const counted = (await (await fetch(`http://127.0.0.1:${pNode}/metrics`)).text()).split('\n')
    .filter(l => l.startsWith('ipfs_csi_grpc_requests_total{')).reduce((n, l) => n + Number(l.split(' ').pop()), 0)
  t.is(rpcLines.length, counted, 'one log line per RPC the metrics counted')
  const bad = rpcLines.filter(l => !['identity', 'controller', 'node'].includes(l.component as string) || typeof l.method !== 'string' || typeof l.code !== 'string' || typeof l.ms !== 'number' ||
    (/^(Node(Stage|Unstage|Publish|Unpublish)Volume|CreateVolume)$/.test(l.method as string) && typeof l.volumeId !== 'string') || (l.message === 'rpc done' && l.level !== 'info'))
  t.deepEqual(bad, [], 'RPC log lines missing component, method, code, ms or volumeId')
  t.deepEqual(lines.filter(l => 'service' in l), [], 'no log line names its part `service`: it is `component` everywhere')
  await driver.csi.node.NodeUnpublishVolume({ volume_id: volumeId, target_path: tp })
  await driver.csi.node.NodeUnstageVolume({ volume_id: volumeId, staging_target_path: sp })
})
