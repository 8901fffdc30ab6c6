// The monitoring configuration and the metrics plumbing: promtool on the alert rules and their
// tests, the generated PrometheusRule, runbooks, the dashboard's PromQL; the FUSE-metrics
// aggregation over real unix sockets; the per-RPC log line; the read latency histogram.
import test from 'ava'
import { EventEmitter } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { checkMonitoring, promqlProblems, ROOT } from '../../scripts/monitoring.js'
import { DRIVER_VERSION } from '../../driver/constants.js'
import { Code, CsiError } from '../../driver/errors.js'
import { createLightLogger } from '../../driver/light-logger.js'
import { createRegistry, RpcMetrics } from '../../driver/metrics.js'
import { parseListen, type MetricsServer } from '../../driver/metrics-server.js'
import { unary } from '../../driver/rpc-wrapper.js'
import { VolumeLocks } from '../../driver/volume-locks.js'
import { serveFuseMetrics, fuseRegistry } from '../../node-plugin/fuse/fuse-metrics.js'
import { metricsSocketOf } from '../../node-plugin/fuse/fuse-server.js'
import { FuseOpStats, LatencyHistogram } from '../../node-plugin/fuse/op-stats.js'
import { FuseMetricsCollector, OTHER_VOLUMES } from '../../node-plugin/fuse-metrics-collector.js'
import { VolumeStateStore } from '../../node-plugin/volume-state.js'

const quiet = createLightLogger('error', 'test', () => {})

test('alert rules pass promtool check and test (a firing and a silent case each), the PrometheusRule is generated from them, every alert has a runbook, the dashboard PromQL parses', async (t) => {
  t.deepEqual(await checkMonitoring(), [])
})

test('the dashboard check refuses PromQL that does not parse', async (t) => {
  const bad = await promqlProblems([{ panel: 'ok', expr: 'sum by (volume) (rate(ipfs_csi_fuse_reads_total{instance=~"$instance"}[$__rate_interval]))' }, { panel: 'broken', expr: 'sum by (volume (rate(x[5m]))' }])
  t.is(bad.length, 1)
  t.regex(bad[0] as string, /panel "broken"/)
})

test('build info carries the version GetPluginInfo reports, which is package.json\'s', async (t) => {
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
  t.is(DRIVER_VERSION, pkg.version)
  t.regex(await createRegistry('test', false).metrics(), new RegExp(`ipfs_csi_build_info\\{version="${DRIVER_VERSION.replace(/\./g, '\\.')}",component="test"\\} 1`))
})

test('--metrics-listen takes HOST:PORT, [v6]:PORT and :PORT; anything else is a clear problem', (t) => {
  const problems: string[] = []
  t.deepEqual(parseListen(problems, '127.0.0.1:9100'), { host: '127.0.0.1', port: 9100 })
  t.deepEqual(parseListen(problems, '[::1]:0'), { host: '::1', port: 0 })
  t.deepEqual(parseListen(problems, ':9100'), { host: '0.0.0.0', port: 9100 })
  t.is(parseListen(problems, undefined), undefined)
  t.deepEqual(problems, [])
  t.is(parseListen(problems, 'localhost'), undefined)
  t.is(parseListen(problems, 'h:99999'), undefined)
  t.deepEqual(problems, ['--metrics-listen must be HOST:PORT (got "localhost")', '--metrics-listen must be HOST:PORT (got "h:99999")'])
})

test('read latency buckets are cumulative in the exposition, with sum and count', async (t) => {
  const h = new LatencyHistogram([0.001, 0.01])
  for (const s of [0.0005, 0.005, 0.005, 2]) h.observe(s)
  t.deepEqual([...h.counts], [1, 2, 1])
  const ops = new FuseOpStats()
  for (const s of [0.00005, 0.003, 20]) ops.readLatency.observe(s)
  const text = await (await fuseRegistry({ mode: 'content', ops })).metrics()
  t.regex(text, /ipfs_csi_fuse_read_duration_seconds_bucket\{le="0.0001",mode="content"\} 1\n/)
  t.regex(text, /ipfs_csi_fuse_read_duration_seconds_bucket\{le="0.005",mode="content"\} 2\n/)
  t.regex(text, /ipfs_csi_fuse_read_duration_seconds_bucket\{le="10",mode="content"\} 2\n/)
  t.regex(text, /ipfs_csi_fuse_read_duration_seconds_bucket\{le="\+Inf",mode="content"\} 3\n/)
  t.regex(text, /ipfs_csi_fuse_read_duration_seconds_count\{mode="content"\} 3\n/)
})

test('the node service re-exports its FUSE servers\' metrics with a volume label; past the cap they sum under _other, which never goes down when a server leaves', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-fuse-metrics-'))
  const servers: MetricsServer[] = []
  t.teardown(async () => { for (const s of servers) await s.close(); await rm(dir, { recursive: true, force: true }) })
  const store = new VolumeStateStore(dir)
  const stats: Record<string, FuseOpStats> = {}
  for (const [id, reads] of [['vol-a', 5], ['vol-b', 7], ['vol-c', 11]] as const) {
    await store.write({ version: 1, volumeId: id, kind: 'content', source: 'x', stagingPath: '/x', ephemeral: false, readOnly: true, targets: {}, stagedAt: '' })
    const ops = new FuseOpStats()
    ops.reads = reads
    ops.readBytes = reads * 1000
    stats[id] = ops
    servers.push(await serveFuseMetrics({ mode: 'content', ops }, { path: metricsSocketOf(store.specPath(id)) }, quiet))
  }
  const collector = new FuseMetricsCollector({ store, log: quiet, maxVolumes: 1 })
  const reads = async (): Promise<Record<string, number>> => {
    const json = await (await collector.collect()).getMetricsAsJSON()
    const m = json.find(x => x.name === 'ipfs_csi_fuse_reads_total')
    return Object.fromEntries((m?.values ?? []).map(v => [String(v.labels.volume), v.value]))
  }
  const first = await reads()
  t.is(Object.keys(first).length, 2, 'one labelled volume and _other')
  t.is(first[OTHER_VOLUMES], 5 + 7 + 11 - (Object.entries(first).find(([k]) => k !== OTHER_VOLUMES)?.[1] ?? 0))
  t.is(collector.servers.answering, 3)
  const own = Object.keys(first).find(k => k !== OTHER_VOLUMES) as string
  const others = ['vol-a', 'vol-b', 'vol-c'].filter(v => v !== own)
  // One _other volume is unstaged: its server and state go away; _other keeps its reads.
  const gone = others[0] as string
  await servers[['vol-a', 'vol-b', 'vol-c'].indexOf(gone)]?.close()
  await store.remove(gone)
  ;(stats[others[1] as string] as FuseOpStats).reads += 100
  const after = await reads()
  t.is(after[OTHER_VOLUMES], (first[OTHER_VOLUMES] as number) + 100)
  t.is(after[own], first[own])
  // A staged volume whose server does not answer is reported silent, with its last values.
  await servers[['vol-a', 'vol-b', 'vol-c'].indexOf(own)]?.close()
  const silent = await reads()
  t.is(silent[own], first[own])
  t.is(collector.servers.silent, 1)
})

test('every completed RPC logs one info line with component, method, volumeId, code and ms, and is counted', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const log = createLightLogger('info', 'node', (l) => { lines.push(JSON.parse(l)) })
  const registry = createRegistry('test', false)
  const deps = { log, locks: new VolumeLocks(), metrics: new RpcMetrics(registry) }
  const call = (req: unknown): any => Object.assign(new EventEmitter(), { request: req, getDeadline: () => Infinity })
  const run = async (handler: grpcHandler, req: unknown): Promise<unknown> => await new Promise(resolve => handler(call(req), (err: unknown) => resolve(err)))
  type grpcHandler = (call: any, cb: (err: unknown) => void) => void
  await run(unary(deps, 'NodeStageVolume', async () => ({})) as grpcHandler, { volume_id: 'vol-1' })
  await run(unary(deps, 'NodeStageVolume', async () => { throw new CsiError(Code.NOT_FOUND, 'no such content') }) as grpcHandler, { volume_id: 'vol-2' })
  await run(unary(deps, 'NodeUnstageVolume', async () => { throw new Error('boom') }) as grpcHandler, { volume_id: 'vol-3' })
  const info = lines.map(({ timestamp, requestId, stack, ...rest }) => { t.is(typeof requestId, 'string'); t.true(typeof rest.ms === 'number'); delete rest.ms; return rest })
  t.deepEqual(info, [
    { component: 'node', level: 'info', message: 'rpc done', method: 'NodeStageVolume', volumeId: 'vol-1', code: 'OK' },
    { component: 'node', level: 'info', message: 'rpc refused', method: 'NodeStageVolume', volumeId: 'vol-2', code: 'NOT_FOUND', error: 'no such content' },
    { component: 'node', level: 'error', message: 'rpc failed', method: 'NodeUnstageVolume', volumeId: 'vol-3', code: 'INTERNAL', error: 'boom' }
  ])
  const text = await registry.metrics()
  t.regex(text, /ipfs_csi_grpc_requests_total\{method="NodeStageVolume",code="OK"\} 1/)
  t.regex(text, /ipfs_csi_grpc_requests_total\{method="NodeStageVolume",code="NOT_FOUND"\} 1/)
  t.regex(text, /ipfs_csi_grpc_request_duration_seconds_count\{method="NodeUnstageVolume",code="INTERNAL"\} 1/)
  t.regex(text, /ipfs_csi_grpc_requests_in_flight\{method="NodeStageVolume"\} 0/)
})
