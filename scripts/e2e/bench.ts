// `make bench-e2e`: on the e2e cluster, time from pod creation to Ready plus a full read of a
// 1 GiB model (4 files), for (a) a PVC of ipfs-csi and (b) the usual baseline, an init container
// running `ipfs get` from the storage Kubo into an emptyDir. Same cluster, same content, one run;
// prints both and the ratio (baseline / ours: above 1 means the PVC is faster).
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Fatal, kubectl, waitUntil, type ClusterPaths } from './cluster.js'
import { E2E_PORTS } from './deploy.js'
import { IMAGES } from './images.js'
import { bringUp, tearDown, type Phase } from './run.js'
import { WORKLOAD_NS, addContent, apply, contentClass, podLogs, podManifest, pvc } from './workloads.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const MODEL_FILES = { 'model/shard-1.bin': 256 * 1024 ** 2, 'model/shard-2.bin': 256 * 1024 ** 2, 'model/shard-3.bin': 256 * 1024 ** 2, 'model/shard-4.bin': 256 * 1024 ** 2 }
const log = (m: string): void => { console.error(`[bench-e2e] ${m}`) }

const READ_ALL = 'set -e; for f in /models/*; do cat "$f" > /dev/null; done; echo "read $(du -sk /models | cut -f1) KiB"'

interface Timing { readyMs: number, doneMs: number }

/** Creates the pod and polls (250 ms) until it is Ready, then until it has read everything and exited. */
async function timePod (p: ClusterPaths, manifest: Record<string, unknown>, name: string): Promise<Timing> {
  const t0 = Date.now()
  apply(p, manifest)
  let readyMs = -1
  await waitUntil(`${name} finished`, 900_000, () => {
    const j = JSON.parse(kubectl(p, ['-n', WORKLOAD_NS, 'get', 'pod', name, '-o', 'json'])) as { status: { phase?: string, conditions?: Array<{ type: string, status: string }> } }
    if (readyMs < 0 && j.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) readyMs = Date.now() - t0
    if (j.status.phase === 'Failed') throw new Fatal(`${name} failed:\n${podLogs(p, name)}`)
    return j.status.phase === 'Succeeded' ? true : undefined
  }, 250)
  const doneMs = Date.now() - t0
  // A pod that finished between two polls was Ready for less than a poll: count it Ready at the end.
  return { readyMs: readyMs < 0 ? doneMs : readyMs, doneMs }
}

async function main (): Promise<number> {
  const phases: Phase[] = []
  let p: ClusterPaths | undefined
  let failed = false
  const dir = mkdtempSync(path.join(tmpdir(), 'ipfs-csi-bench-e2e-'))
  try {
    const up = await bringUp(phases)
    p = up.p
    const content = addContent(REPO, path.join(dir, 'tree'), up.driverToken, MODEL_FILES)
    const cid = `${content.rootCid}`
    log(`model ${cid}/model: 4 x 256 MiB`)
    apply(p, [contentClass('bench-model', cid, 'model'), pvc('bench-model', 'bench-model', 'ReadOnlyMany', '2Gi')])
    await waitUntil('PVC bound', 180_000, () => kubectl(p as ClusterPaths, ['-n', WORKLOAD_NS, 'get', 'pvc', 'bench-model', '-o', 'jsonpath={.status.phase}']).trim() === 'Bound' ? true : undefined, 500)
    const ours = podManifest({ name: 'bench-pvc', script: READ_ALL, volumes: [{ name: 'vol', persistentVolumeClaim: { claimName: 'bench-model', readOnly: true } }], mounts: [{ name: 'vol', mountPath: '/models', readOnly: true }] })
    const pvcTiming = await timePod(p, ours, 'bench-pvc')
    log(`PVC: Ready ${pvcTiming.readyMs} ms, read done ${pvcTiming.doneMs} ms`)
    // Baseline: the init container reaches the storage Kubo's RPC on loopback (hostNetwork, as in this cluster).
    const baseline = podManifest({
      name: 'bench-init-get',
      script: READ_ALL,
      volumes: [{ name: 'vol', emptyDir: {} }],
      mounts: [{ name: 'vol', mountPath: '/models' }],
      initContainers: [{
        name: 'ipfs-get',
        image: IMAGES.kubo,
        command: ['sh', '-c', `ipfs --api /ip4/127.0.0.1/tcp/${E2E_PORTS.storageApi} --api-auth "bearer:$TOKEN" get -o /models-dl "${cid}/model" >/dev/null && cp -r /models-dl/. /models/ && rm -rf /models-dl`],
        env: [{ name: 'TOKEN', value: up.driverToken }, { name: 'HOME', value: '/tmp' }, { name: 'IPFS_PATH', value: '/tmp/ipfs' }],
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: false, capabilities: { drop: ['ALL'] } },
        resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '2', memory: '1Gi' } },
        volumeMounts: [{ name: 'vol', mountPath: '/models' }]
      }]
    })
    const spec = baseline.spec as Record<string, unknown>
    spec.hostNetwork = true
    spec.dnsPolicy = 'Default'
    const baseTiming = await timePod(p, baseline, 'bench-init-get')
    log(`init container ipfs get: Ready ${baseTiming.readyMs} ms, read done ${baseTiming.doneMs} ms`)
    const ratio = baseTiming.doneMs / pvcTiming.doneMs
    const report = [
      'bench-e2e: time to pod Ready + full read of a 1 GiB model (4 x 256 MiB), one run each',
      `  ipfs-csi PVC                     Ready ${(pvcTiming.readyMs / 1000).toFixed(1)} s, read done ${(pvcTiming.doneMs / 1000).toFixed(1)} s`,
      `  init container ipfs get+emptyDir Ready ${(baseTiming.readyMs / 1000).toFixed(1)} s, read done ${(baseTiming.doneMs / 1000).toFixed(1)} s`,
      `  ratio (init container / PVC): ${ratio.toFixed(2)}x  (above 1: the PVC is faster)`
    ].join('\n')
    console.log(report)
    mkdirSync(path.join(REPO, 'bench/results'), { recursive: true })
    writeFileSync(path.join(REPO, 'bench/results/e2e-latest.txt'), report + '\n')
  } catch (err) {
    failed = true
    log(`failed: ${(err as Error).stack ?? String(err)}`)
  } finally {
    await tearDown(p, failed, false).catch((err: Error) => { failed = true; log(`teardown: ${err.message}`) })
    rmSync(dir, { recursive: true, force: true })
  }
  return failed ? 1 : 0
}

main().then((code) => process.exit(code), (err: Error) => { console.error(err); process.exit(1) })
