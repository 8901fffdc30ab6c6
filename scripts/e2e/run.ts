// `make e2e`: starts the single-node cluster, builds and imports the local images, installs
// deploy/overlays/e2e, runs every workload (one JUnit test case each, test-results/e2e.xml), and
// always tears down. On any failure the logs of the control plane, the driver and every pod are
// kept under test-results/e2e/.
//   node dist/scripts/e2e/run.js [--only SUBSTRING] [--keep]   (--keep: leave the cluster running)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { startCluster, stopCluster, snapshotCrdFiles, kubectl, clusterPaths, mountsUnder, type ClusterPaths } from './cluster.js'
import { buildAndImportImages } from './images.js'
import { checkImagesPinned, installDeploy, collectLogs, NAMESPACE, type InstallOptions } from './deploy.js'
import { WORKLOADS, WORKLOAD_NS, addContent, deleteWorkloads, type Content } from './workloads.js'
import { writeJunit, type CaseResult } from './junit.js'
import { API_WORKLOADS } from './api-workloads.js'
import { gatewayPublished } from './gateway.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const RESULTS = path.join(REPO, 'test-results')
const LOG_DIR = path.join(RESULTS, 'e2e')

const started = Date.now()
const log = (m: string): void => { console.error(`[e2e ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${m}`) }

export interface Phase { name: string, ms: number }

/** Runs fn, recording its duration; failures propagate. */
export async function timed<T> (phases: Phase[], name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now()
  try { return await fn() } finally { phases.push({ name, ms: Date.now() - t0 }) }
}

/** Cluster up, images in, deploy/ installed: what both `make e2e` and `make bench-e2e` need. */
export async function bringUp (phases: Phase[], opts: InstallOptions = {}): Promise<{ p: ClusterPaths, driverToken: string }> {
  const p = await timed(phases, 'cluster start (etcd, control plane, containerd, kubelet Ready)', async () => await startCluster(log, snapshotCrdFiles(REPO)))
  const digests = await timed(phases, 'images built and imported', async () =>
    await buildAndImportImages({ repo: REPO, workDir: path.join(p.root, 'images'), containerdSocket: p.containerdSocket, log }))
  const installed = await timed(phases, 'deploy/overlays/e2e installed and ready', async () => await installDeploy(p, REPO, log, digests, opts))
  log(`${checkImagesPinned(p, digests)} containers of deploy/ run images pinned by digest`)
  kubectl(p, ['create', 'namespace', WORKLOAD_NS])
  return { p, driverToken: installed.driverToken }
}

/** Workloads, then the driver, then the cluster: deletes never hang on a driver that is gone. */
export async function tearDown (p: ClusterPaths | undefined, failed: boolean, keep: boolean, logDir = LOG_DIR): Promise<void> {
  const paths = p ?? clusterPaths()
  if (failed) {
    log(`keeping logs under ${path.relative(REPO, logDir)}/`)
    collectLogs(paths, logDir, log)
  }
  if (keep) { log(`--keep: cluster left running (kubectl --kubeconfig ${paths.kubeconfig})`); return }
  if (p !== undefined) {
    await deleteWorkloads(p, log)
    try { kubectl(p, ['delete', 'namespace', NAMESPACE, '--timeout=120s']) } catch (err) { log(`delete ${NAMESPACE}: ${(err as Error).message.split('\n')[0] ?? ''}`) }
  }
  await stopCluster(log)
  const left = mountsUnder(paths.root)
  if (left.length > 0) throw new Error(`teardown left mounts: ${left.join(', ')}`)
}

async function main (): Promise<number> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, keep: { type: 'boolean', default: false } } })
  rmSync(LOG_DIR, { recursive: true, force: true })
  mkdirSync(RESULTS, { recursive: true })
  const phases: Phase[] = []
  const results: CaseResult[] = []
  let p: ClusterPaths | undefined
  let failed = false
  const contentDir = mkdtempSync(path.join(tmpdir(), 'ipfs-csi-e2e-content-'))
  try {
    const up = await bringUp(phases)
    p = up.p
    const content: Content = await timed(phases, 'test content added to the storage Kubo', async () => addContent(REPO, path.join(contentDir, 'tree'), up.driverToken))
    log(`content ${content.rootCid}: ${content.files.length} files, ${(content.files.reduce((s, f) => s + f.size, 0) / 1048576).toFixed(0)} MiB`)
    for (const w of [...WORKLOADS, ...API_WORKLOADS, gatewayPublished]) {
      if (values.only !== undefined && !w.name.includes(values.only)) continue
      const t0 = Date.now()
      try {
        const detail = await w.run({ p, content, log })
        results.push({ name: w.name, ms: Date.now() - t0, detail })
        log(`PASS ${w.name} (${((Date.now() - t0) / 1000).toFixed(1)} s): ${detail}`)
      } catch (err) {
        failed = true
        results.push({ name: w.name, ms: Date.now() - t0, failure: (err as Error).message })
        log(`FAIL ${w.name} (${((Date.now() - t0) / 1000).toFixed(1)} s): ${(err as Error).message}`)
      }
    }
  } catch (err) {
    failed = true
    results.push({ name: 'cluster and deploy/ set-up', ms: Date.now() - started, failure: (err as Error).stack ?? String(err) })
    log(`set-up failed: ${(err as Error).message}`)
  } finally {
    try {
      await timed(phases, 'teardown', async () => await tearDown(p, failed, values.keep === true))
    } catch (err) {
      failed = true
      results.push({ name: 'teardown leaves no mounts, processes or containerd tasks', ms: 0, failure: (err as Error).message })
      log(`teardown failed: ${(err as Error).message}`)
    }
    rmSync(contentDir, { recursive: true, force: true })
  }
  writeJunit(path.join(RESULTS, 'e2e.xml'), 'e2e', results)
  const summary = [
    '', 'e2e durations:',
    ...phases.map((ph) => `  ${(ph.ms / 1000).toFixed(1).padStart(7)} s  ${ph.name}`),
    ...results.map((r) => `  ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${r.failure === undefined ? 'PASS' : 'FAIL'} ${r.name}`),
    `  ${((Date.now() - started) / 1000).toFixed(1).padStart(7)} s  total`, ''
  ].join('\n')
  console.log(summary)
  writeFileSync(path.join(RESULTS, 'e2e-durations.txt'), summary)
  return failed ? 1 : 0
}

if (process.argv[1] !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  main().then((code) => process.exit(code), (err: Error) => { console.error(err); process.exit(1) })
}
