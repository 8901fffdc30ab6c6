// Monitoring end to end with a real Prometheus (Debian's package): it scrapes `ipfs-csi serve`
// (node service, whose scrape carries its FUSE servers' metrics), the fuse-host that starts
// those servers, a preloader, an `ipfs-csi mount` and Kubo itself, evaluates the rules of
// deploy/monitoring/ipfs-csi.rules.yaml, while the test reads through a staged volume (blocks
// from the node Kubo's disk) and the mount (blocks through the API), hits a corrupted block and
// has a FUSE server killed and healed. Then every metric family is asked from Prometheus' HTTP
// API for non-zero values, two alerts must fire, and the dashboard is rendered from the data.
import test from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { stringify } from 'yaml'
import { addTree, cleanupMounts } from '../helpers/cleanup-mounts.js'
import { ContentMount } from '../helpers/content-mount.js'
import { mountCap } from '../helpers/csi-client.js'
import { DriverProcess } from '../helpers/driver-process.js'
import { freePort } from '../helpers/free-port.js'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { CLI, RESULTS_DIR, logFile } from '../helpers/repo.js'
import { stopProcess } from '../helpers/stop-process.js'
import { RULES } from '../../scripts/monitoring.js'
import { renderDashboard } from '../../scripts/render-dashboard.js'

const MiB = 1024 * 1024
const RO = mountCap('MULTI_NODE_READER_ONLY')
const children: ChildProcess[] = []
let work = ''
let kubo: KuboDaemon | undefined
let driver: DriverProcess | undefined
let mount: ContentMount | undefined

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

function startChild (name: string, args: string[], bin = process.execPath): ChildProcess {
  const out = createWriteStream(logFile(`monitoring-${name}`))
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout?.pipe(out)
  child.stderr?.pipe(out)
  children.push(child)
  return child
}

async function waitFor<T> (what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(250)
  }
}

const httpOk = async (url: string): Promise<true | undefined> => (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok ? true : undefined

interface Sample { metric: Record<string, string>, value: [number, string] }
/** Series of a selector (or an expression, as a subquery) that were above zero in the last 10 minutes. */
const nonZero = (q: string): string => /^[a-z_:]+(\{[^}]*\})?$/.test(q) ? `max_over_time(${q}[10m]) > 0` : `max_over_time((${q})[10m:1s]) > 0`

async function query (prom: string, q: string): Promise<Sample[]> {
  const res = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(10_000) })
  const body = await res.json() as { status: string, error?: string, data: { result: Sample[] } }
  if (body.status !== 'success') throw new Error(`${q}: ${body.error ?? ''}`)
  return body.data.result
}

test.after.always(async () => {
  await mount?.stop().catch(() => {})
  await driver?.stop().catch(() => {})
  for (const c of children.reverse()) await stopProcess(c, 10_000).catch(() => {})
  if (driver !== undefined) {
    await cleanupMounts(driver.dir)
    await rm(driver.dir, { recursive: true, force: true })
  }
  await kubo?.dispose()
  if (work !== '') await rm(work, { recursive: true, force: true })
})

test('Prometheus scrapes every part under real reads: each metric family moves, alerts fire, the dashboard renders', async (t) => {
  work = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-monitoring-'))
  kubo = await KuboDaemon.start({ name: 'monitoring' })
  const files = { 'model/weights.bin': randomBytes(24 * MiB), 'model/shard2.bin': randomBytes(12 * MiB), 'victim.bin': randomBytes(MiB), 'config.json': Buffer.from('{"ok":true}') }
  const tree = await addTree(kubo, files, 'ipfs-csi-monitoring-src-', ['--cid-version=1', '--raw-leaves'])
  const root = tree.cid
  await rm(tree.dir, { recursive: true, force: true })
  // One leaf of victim.bin is corrupted on disk: reading it must be refused and counted.
  const victim = (await kubo.cli(['resolve', '-r', `/ipfs/${root}/victim.bin`])).trim().replace('/ipfs/', '')
  const leaf = (await kubo.cli(['refs', victim])).trim().split('\n')[1] as string
  const leafFile = await kubo.blockFile(leaf)
  await writeFile(leafFile, randomBytes((await readFile(leafFile)).length))

  const [pNode, pHost, pPreload, pMount, pProm] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()]
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-mon-drv-'))
  const hostSock = path.join(dir, 'fuse-host.sock')
  startChild('fuse-host', [CLI, 'fuse-host', '--socket', hostSock, '--state-dir', path.join(dir, 'state'), '--metrics-listen', `127.0.0.1:${pHost}`])
  await waitFor('fuse-host metrics', async () => await httpOk(`http://127.0.0.1:${pHost}/metrics`))
  driver = await DriverProcess.start({
    kuboApi: kubo.apiUrl,
    mode: 'all',
    dir,
    name: 'monitoring',
    extraArgs: ['--metrics-listen', `127.0.0.1:${pNode}`, '--fuse-launcher', `unix://${hostSock}`, '--kubo-blocks-dir', path.join(kubo.repo, 'blocks'),
      '--heal-interval-ms', '1000', '--node-cache-max-bytes', String(10 * 1024 * MiB), '--read-timeout-ms', '5000']
  })
  const desired = path.join(work, 'desired.json')
  // The preloader warms the model directory only: it would refetch the corrupted block (and wait on bitswap for it).
  const modelCid = (await kubo.cli(['resolve', '-r', `/ipfs/${root}/model`])).trim().replace('/ipfs/', '')
  await writeFile(desired, JSON.stringify({ entries: [{ name: 'model', cid: modelCid }] }))
  startChild('preloader', [CLI, 'preload', 'serve', '--desired', desired, '--kubo-api', kubo.apiUrl, '--node-name', 'test-node', '--listen', '127.0.0.1:0', '--metrics-listen', `127.0.0.1:${pPreload}`, '--poll-interval-ms', '500'])
  mount = await ContentMount.start(`${root}/model`, kubo.apiUrl, { name: 'monitoring', extraArgs: ['--metrics-listen', `127.0.0.1:${pMount}`] })
  await waitFor('mount metrics', async () => await httpOk(`http://127.0.0.1:${pMount}/metrics`))

  const kuboHostPort = new URL(kubo.apiUrl).host
  const targets = (job: string, port: number | string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ job_name: job, static_configs: [{ targets: [typeof port === 'number' ? `127.0.0.1:${port}` : port] }], ...extra })
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: [RULES],
    scrape_configs: [targets('ipfs-csi-node', pNode, { scrape_timeout: '1s' }), targets('ipfs-csi-fuse-host', pHost), targets('ipfs-csi-preloader', pPreload), targets('ipfs-csi-mount', pMount),
      targets('kubo', kuboHostPort, { metrics_path: '/debug/metrics/prometheus' })]
  }
  await writeFile(path.join(work, 'prometheus.yml'), stringify(config))
  const prom = `http://127.0.0.1:${pProm}`
  startChild('prometheus', ['--config.file', path.join(work, 'prometheus.yml'), '--storage.tsdb.path', path.join(work, 'tsdb'), '--web.listen-address', `127.0.0.1:${pProm}`, '--log.level', 'warn'], 'prometheus')
  await waitFor('Prometheus ready', async () => await httpOk(`${prom}/-/ready`))
  const started = Date.now() / 1000
  await waitFor('every target up', async () => {
    const up = await query(prom, 'up')
    return up.length === 5 && up.every(s => s.value[1] === '1') ? true : undefined
  })

  // Stage and publish the content as a pod would, then read through the pod's path.
  const volumeId = root
  const sp = driver.stagingPath(volumeId)
  await driver.csi.node.NodeStageVolume({ volume_id: volumeId, staging_target_path: sp, volume_capability: RO, volume_context: {} })
  const tp = driver.targetPath('pod-a', volumeId)
  await driver.csi.node.NodePublishVolume({ volume_id: volumeId, staging_target_path: sp, target_path: tp, volume_capability: RO, readonly: true, volume_context: {} })
  // Each phase waits for Prometheus to have scraped the one before: counters are seen rising
  // (not born non-zero), and the dashboard shows the phases apart.
  const scraped = async (what: string, q: string): Promise<void> => { await waitFor(what, async () => (await query(prom, q)).length > 0 ? true : undefined) }
  await scraped('the new FUSE server', `ipfs_csi_fuse_reads_total{volume="${volumeId}"}`)
  t.true((await readFile(path.join(tp, 'model/weights.bin'))).equals(files['model/weights.bin']))
  await scraped('the volume read', `ipfs_csi_fuse_read_bytes_total{volume="${volumeId}"} >= ${24 * MiB}`)
  await t.throwsAsync(readFile(path.join(tp, 'victim.bin')), { code: 'EIO' })
  await scraped('the refused block', 'ipfs_csi_fuse_verification_failures_total > 0')
  // Through the mount (no blocks dir: every block through the API).
  t.true((await readFile(mount.path('weights.bin'))).equals(files['model/weights.bin']))
  await scraped('the mount read', `ipfs_csi_fuse_read_bytes_total{job="ipfs-csi-mount"} >= ${24 * MiB}`)

  // A sequential reader that stays open: read-ahead window and open handles are live while scraped.
  const fh = await open(path.join(tp, 'model/shard2.bin'), 'r')
  try {
    const buf = Buffer.alloc(MiB)
    for (let i = 0; i < 6; i++) await fh.read(buf, 0, MiB, i * MiB)
    await waitFor('open handle and read-ahead window scraped', async () => {
      const r = await query(prom, 'max(ipfs_csi_fuse_open_handles{job="ipfs-csi-node"}) > 0 and max(ipfs_csi_fuse_read_ahead_window_bytes{job="ipfs-csi-node"}) > 0')
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

  // Every family, from Prometheus, with values above zero at some point of the run (max over
  // time: gauges move, and the healed volume's new FUSE server started its counters again).
  const families: Record<string, string> = {
    'gRPC calls by method and code': 'ipfs_csi_grpc_requests_total{job="ipfs-csi-node",method="NodeStageVolume",code="OK"}',
    'gRPC latency histogram': 'ipfs_csi_grpc_request_duration_seconds_count{job="ipfs-csi-node",method="NodePublishVolume",code="OK"}',
    'volumes staged': 'ipfs_csi_node_volumes_staged{kind="content"}',
    'volumes published': 'ipfs_csi_node_volumes_published{kind="content"}',
    'reads served (volume label)': `ipfs_csi_fuse_reads_total{job="ipfs-csi-node",volume="${volumeId}"}`,
    'bytes served': 'ipfs_csi_fuse_read_bytes_total{job="ipfs-csi-node"}',
    'bytes served by the mount': 'ipfs_csi_fuse_read_bytes_total{job="ipfs-csi-mount"}',
    'read latency histogram': 'ipfs_csi_fuse_read_duration_seconds_count{job="ipfs-csi-node"}',
    'read latency buckets': 'ipfs_csi_fuse_read_duration_seconds_bucket{job="ipfs-csi-mount",le="+Inf"}',
    'blocks from disk': 'ipfs_csi_fuse_blocks_total{job="ipfs-csi-node",source="disk"}',
    'blocks from the API': 'ipfs_csi_fuse_blocks_total{job="ipfs-csi-mount",source="api"}',
    'blocks from the block cache': 'ipfs_csi_fuse_blocks_total{source="cache"}',
    'cache hit ratio (recording rule)': 'ipfs_csi:fuse_block_cache_hit_ratio:rate5m',
    'verification failures': 'ipfs_csi_fuse_verification_failures_total{job="ipfs-csi-node",source="disk"}',
    'EIO by cause': 'ipfs_csi_fuse_eio_total{job="ipfs-csi-node",cause="verification"}',
    'read-ahead window': 'ipfs_csi_fuse_read_ahead_window_bytes{job="ipfs-csi-node"}',
    'read-ahead bytes': 'ipfs_csi_fuse_read_ahead_bytes_total',
    'open handles': 'ipfs_csi_fuse_open_handles{job="ipfs-csi-node"}',
    'FUSE server RSS': 'ipfs_csi_fuse_resident_memory_bytes{job="ipfs-csi-node"}',
    'FUSE server CPU': 'ipfs_csi_fuse_cpu_seconds_total{job="ipfs-csi-mount"}',
    'FUSE servers answering': 'ipfs_csi_node_fuse_servers{state="answering"}',
    'heals': 'ipfs_csi_node_heals_total{result="healed"}',
    'fuse-host spawns': 'ipfs_csi_fuse_host_spawn_requests_total{result="started"}',
    'fuse-host exits by signal': 'ipfs_csi_fuse_host_server_exits_total{reason="signal"}',
    'node cache size': 'ipfs_csi_node_cache_bytes',
    'node cache bound': 'ipfs_csi_node_cache_max_bytes',
    'Kubo up (driver)': 'ipfs_csi_kubo_up{job="ipfs-csi-node"}',
    'Kubo up (preloader)': 'ipfs_csi_kubo_up{job="ipfs-csi-preloader"}',
    'preload progress': 'ipfs_csi_preload_bytes_fetched{entry="model"}',
    'preload ready': 'ipfs_csi_preload_entry_state{entry="model",state="ready"}',
    'process metrics': 'process_resident_memory_bytes{job="ipfs-csi-node"}',
    'build info': 'ipfs_csi_build_info{job="ipfs-csi-fuse-host",component="fuse-host"}'
  }
  const missing = await waitFor('every family non-zero in Prometheus', async () => {
    const bad: string[] = []
    for (const [what, q] of Object.entries(families)) {
      const r = await query(prom, nonZero(q))
      if (r.length === 0) bad.push(`${what}: ${q}`)
    }
    return bad.length === 0 ? bad : undefined
  }, 60_000).catch(async (err: Error) => {
    const bad: string[] = []
    for (const [what, q] of Object.entries(families)) if ((await query(prom, nonZero(q))).length === 0) bad.push(`${what}: ${q}`)
    t.log(err.message)
    return bad
  })
  t.deepEqual(missing, [], 'families with no non-zero series')

  // The rules ran on this data: the corrupt block and the dead FUSE server fired their alerts
  // (asked from the ALERTS series: the verification alert resolves once the healed server's counters restart).
  const firing = await waitFor('alerts fired', async () => {
    const names = new Set((await query(prom, 'max_over_time(ALERTS{alertstate="firing"}[10m])')).map(s => s.metric.alertname))
    return names.has('IpfsCsiBlockVerificationFailed') && names.has('IpfsCsiFuseServerRestarted') ? [...names].sort() : undefined
  }, 30_000).catch(async (err: Error) => {
    const rules = await (await fetch(`${prom}/api/v1/rules`)).json() as { data: { groups: Array<{ rules: Array<{ name: string, health: string, lastError?: string, state?: string }> }> } }
    t.log(JSON.stringify(rules.data.groups.flatMap(g => g.rules).map(r => [r.name, r.health, r.state, r.lastError])))
    throw err
  })
  t.true(firing.includes('IpfsCsiBlockVerificationFailed'))
  t.false(firing.includes('IpfsKuboDown'), 'Kubo is up: its alert stays silent')

  // The dashboard, drawn from this Prometheus: every read-path panel has data.
  await mkdir(RESULTS_DIR, { recursive: true })
  const panels = await renderDashboard(prom, started, Date.now() / 1000, path.join(RESULTS_DIR, 'dashboard.png'), '10s')
  const empty = panels.filter(p => p.series === 0).map(p => p.title)
  for (const title of ['Bytes served', 'Read latency', 'Blocks by source', 'Reads per second', 'Block cache hit ratio', 'Read-ahead window', 'Open files', 'FUSE server memory (RSS)', 'Volumes on nodes', 'CSI calls by method and code', 'Preload progress']) {
    t.false(empty.includes(title), `dashboard panel "${title}" has data`)
  }
  t.log(`dashboard panels without data: ${empty.join(', ') || 'none'}`)

  await driver.csi.node.NodeUnpublishVolume({ volume_id: volumeId, target_path: tp })
  await driver.csi.node.NodeUnstageVolume({ volume_id: volumeId, staging_target_path: sp })
})
