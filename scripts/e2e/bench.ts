// `make bench-e2e`: on the e2e cluster, in one run, the time from pod creation to Ready plus a full
// read (sha256 of every byte) of a 1 GiB model, for
//   (a) ours: a PVC of ipfs-csi provisioned by CID (a content volume, FUSE, blocks fetched by the
//       node-local Kubo from the storage tier over bitswap), and
//   (b) the usual baseline: an init container that runs `ipfs get` into an emptyDir, then the same
//       read. `ipfs get` needs a Kubo of its own (no storage-tier token allows `get`): a "download"
//       Kubo configured like the node-local one (same kubo-init.sh, same settings ConfigMap, same
//       private network and peering, same resources), on other loopback ports.
// Cold cache on both sides: the model is fresh random bytes added to the storage Kubo just before,
// the node-local Kubo and the download Kubo are checked (block/stat --offline) not to hold its root,
// and the FUSE mount is new (empty kernel page cache for it). The storage Kubo's blocks are in the
// host page cache for both sides alike (just written). Prints both and the ratio; writes
// test-results/bench-e2e.{txt,json}. A benchmark: it asserts that both reads verify, not a time.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Fatal, kubectl, waitUntil, type ClusterPaths } from './cluster.js'
import { NAMESPACE, E2E_PORTS } from './deploy.js'
import { IMAGES } from './images.js'
import { bringUp, tearDown, type Phase } from './run.js'
import { WORKLOAD_NS, addContent, apply, contentClass, podLogs, podManifest, pvc, type SourceFile } from './workloads.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const RESULTS = path.join(REPO, 'test-results')
const MiB = 1024 * 1024
/** 1 GiB in four shards, as models are usually split. */
const MODEL: Record<string, number> = Object.fromEntries([1, 2, 3, 4].map((i) => [`model/model-0000${i}-of-00004.safetensors`, 256 * MiB]))
/** The download Kubo's ports (the storage Kubo keeps 4001/5001/8080, the node-local one 4101/5101/8180). */
const DL = { swarm: 4201, api: 5201, gateway: 8280 } as const

const started = Date.now()
const log = (m: string): void => { console.error(`[bench-e2e ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${m}`) }

/** Reads every file of the model once, hashing as it reads; prints when it started and ended (epoch ms). */
const READER = `
const fs = require('fs'), path = require('path'), crypto = require('crypto')
const startMs = Date.now(), dir = process.env.MODEL_DIR, want = JSON.parse(process.env.EXPECTED)
let bytes = 0
const buf = Buffer.allocUnsafe(1 << 20)
for (const [rel, sha] of Object.entries(want)) {
  const h = crypto.createHash('sha256'), fd = fs.openSync(path.join(dir, rel), 'r')
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) { h.update(buf.subarray(0, n)); bytes += n }
  fs.closeSync(fd)
  if (h.digest('hex') !== sha) { console.log('MISMATCH ' + rel); process.exit(1) }
}
console.log(JSON.stringify({ startMs, endMs: Date.now(), bytes, files: Object.keys(want).length }))
`

interface Timing { readyMs: number, readMs: number, totalMs: number, bytes: number }

/** Creates the pod, waits for it to finish, and takes its times from the reader's own clock (the host's). */
async function timePod (p: ClusterPaths, manifest: Record<string, unknown>, name: string, wantBytes: number): Promise<Timing> {
  const t0 = Date.now()
  apply(p, manifest)
  await waitUntil(`${name} to finish`, 1_200_000, () => {
    const ph = kubectl(p, ['-n', WORKLOAD_NS, 'get', 'pod', name, '-o', 'jsonpath={.status.phase}']).trim()
    if (ph === 'Failed') throw new Fatal(`${name} failed:\n${podLogs(p, name)}`)
    return ph === 'Succeeded' ? true : undefined
  }, 1000)
  const out = kubectl(p, ['-n', WORKLOAD_NS, 'logs', name, '-c', 'check']).trim().split('\n').pop() ?? ''
  const r = JSON.parse(out) as { startMs: number, endMs: number, bytes: number }
  if (r.bytes !== wantBytes) throw new Error(`${name} read ${r.bytes} bytes, the model has ${wantBytes}`)
  return { readyMs: r.startMs - t0, readMs: r.endMs - r.startMs, totalMs: r.endMs - t0, bytes: r.bytes }
}

/** The generated ConfigMap whose name starts with prefix (kustomize adds a hash suffix). */
function configMapNamed (p: ClusterPaths, prefix: string): string {
  const cms = JSON.parse(kubectl(p, ['-n', NAMESPACE, 'get', 'configmaps', '-o', 'json'])) as { items: Array<{ metadata: { name: string } }> }
  const name = cms.items.map((i) => i.metadata.name).find((n) => n === prefix || new RegExp(`^${prefix}-[a-z0-9]{10}$`).test(n))
  if (name === undefined) throw new Error(`no ConfigMap ${prefix} in ${NAMESPACE}`)
  return name
}

/** The download Kubo of the baseline, configured like the node-local Kubo (kubo-init.sh + its settings). */
function downloadKubo (p: ClusterPaths, token: string): Array<Record<string, unknown>> {
  const restricted = { runAsUser: 10001, runAsGroup: 10001, runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } }
  return [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bench-download-kubo-tokens', namespace: NAMESPACE }, stringData: { bench: token } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'bench-download-kubo-paths', namespace: NAMESPACE }, data: { 'download.conf': 'bench: id get block/stat\n' } },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'bench-download-kubo', namespace: NAMESPACE },
      spec: {
        hostNetwork: true,
        dnsPolicy: 'Default',
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        securityContext: { fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
        initContainers: [{
          name: 'kubo-init',
          image: IMAGES.kubo,
          command: ['sh', '/scripts/kubo-init.sh'],
          envFrom: [{ configMapRef: { name: configMapNamed(p, 'ipfs-node-kubo-settings') } }],
          env: [
            { name: 'IPFS_PATH', value: '/data/ipfs' },
            { name: 'KUBO_SWARM_KEY_FILE', value: '/secrets/swarm/swarm.key' },
            { name: 'KUBO_TOKENS_DIR', value: '/secrets/tokens' },
            { name: 'KUBO_ALLOWED_PATHS_FILE', value: '/allowed-paths/download.conf' },
            { name: 'KUBO_PEERS_FILE', value: '/peers/kubo-peers' },
            { name: 'KUBO_API_ADDR', value: `/ip4/127.0.0.1/tcp/${DL.api}` },
            { name: 'KUBO_GATEWAY_ADDR', value: `/ip4/127.0.0.1/tcp/${DL.gateway}` },
            { name: 'KUBO_SWARM_ADDR', value: `/ip4/127.0.0.1/tcp/${DL.swarm}` }
          ],
          securityContext: restricted,
          resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
          volumeMounts: [
            { name: 'repo', mountPath: '/data/ipfs' },
            { name: 'scripts', mountPath: '/scripts', readOnly: true },
            { name: 'swarm-key', mountPath: '/secrets/swarm', readOnly: true },
            { name: 'tokens', mountPath: '/secrets/tokens', readOnly: true },
            { name: 'paths', mountPath: '/allowed-paths', readOnly: true },
            { name: 'peers', mountPath: '/peers', readOnly: true },
            { name: 'tmp', mountPath: '/tmp' }
          ]
        }],
        containers: [{
          name: 'kubo',
          image: IMAGES.kubo,
          args: ['daemon', '--migrate=true', '--enable-gc'],
          env: [{ name: 'IPFS_PATH', value: '/data/ipfs' }, { name: 'LIBP2P_FORCE_PNET', value: '1' }, { name: 'IPFS_TELEMETRY', value: 'off' }, { name: 'GOMEMLIMIT', value: '536870912' }],
          readinessProbe: { exec: { command: ['wget', '-q', '-O', '/dev/null', '-T', '4', `http://127.0.0.1:${DL.gateway}/ipfs/bafkqaaa`] }, periodSeconds: 2 },
          securityContext: restricted,
          // The node-local Kubo's resources in deploy/overlays/dev (what the e2e cluster runs).
          resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } },
          volumeMounts: [{ name: 'repo', mountPath: '/data/ipfs' }, { name: 'swarm-key', mountPath: '/secrets/swarm', readOnly: true }, { name: 'tmp', mountPath: '/tmp' }]
        }],
        volumes: [
          { name: 'repo', emptyDir: {} },
          { name: 'tmp', emptyDir: {} },
          { name: 'scripts', configMap: { name: configMapNamed(p, 'ipfs-kubo-scripts') } },
          { name: 'swarm-key', secret: { secretName: 'ipfs-swarm-key', defaultMode: 0o440 } },
          { name: 'tokens', secret: { secretName: 'bench-download-kubo-tokens', defaultMode: 0o440 } },
          { name: 'paths', configMap: { name: 'bench-download-kubo-paths' } },
          { name: 'peers', configMap: { name: 'ipfs-peers', items: [{ key: 'kubo-peers', path: 'kubo-peers' }] } }
        ]
      }
    }
  ]
}

/** Throws unless the Kubo at port answers that it does not hold cid (offline: no fetching to find out). */
async function assertCold (what: string, port: number, token: string, cid: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v0/block/stat?arg=${cid}&offline=true`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) })
  const body = await res.text()
  if (res.ok) throw new Error(`${what} already holds ${cid}: the cache is not cold`)
  if (!/not found|block was not found|offline/i.test(body)) throw new Error(`${what}: block/stat answered ${res.status} ${body.slice(0, 200)}`)
}

function secretValue (p: ClusterPaths, secret: string, key: string): string {
  return Buffer.from(kubectl(p, ['-n', NAMESPACE, 'get', 'secret', secret, '-o', `jsonpath={.data.${key}}`]).trim(), 'base64').toString('utf8')
}

const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

async function main (): Promise<number> {
  const phases: Phase[] = []
  let p: ClusterPaths | undefined
  let failed = false
  const dir = mkdtempSync(path.join(tmpdir(), 'ipfs-csi-bench-e2e-'))
  try {
    const up = await bringUp(phases)
    p = up.p
    const content = addContent(REPO, path.join(dir, 'tree'), up.driverToken, MODEL)
    rmSync(path.join(dir, 'tree'), { recursive: true, force: true })
    const modelCid = content.dirCids.model
    if (modelCid === undefined) throw new Error('no CID for model/')
    const files: SourceFile[] = content.files.map((f) => ({ ...f, rel: f.rel.slice('model/'.length) }))
    const total = files.reduce((n, f) => n + f.size, 0)
    const expected = JSON.stringify(Object.fromEntries(files.map((f) => [f.rel, f.sha256])))
    log(`model ${modelCid}: ${files.length} files, ${total / MiB} MiB`)

    // Both fetching Kubos are up and cold before either side starts.
    const dlToken = randomBytes(24).toString('hex')
    apply(p, downloadKubo(p, dlToken))
    await waitUntil('download Kubo ready', 300_000, () => kubectl(p as ClusterPaths, ['-n', NAMESPACE, 'get', 'pod', 'bench-download-kubo', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']).trim() === 'True' ? true : undefined, 1000)
    const nodeToken = secretValue(p, 'ipfs-node-kubo-api-tokens', 'node')
    await assertCold('the node-local Kubo', 5101, nodeToken, modelCid)
    await assertCold('the download Kubo', DL.api, dlToken, modelCid)
    log('both Kubos cold (block/stat --offline of the model root: not found)')

    // (a) ours: a PVC provisioned by CID.
    const tBind = Date.now()
    apply(p, [contentClass('bench-model', content.rootCid, 'model'), pvc('bench-model', 'bench-model', 'ReadOnlyMany', '2Gi')])
    await waitUntil('PVC bench-model Bound', 180_000, () => kubectl(p as ClusterPaths, ['-n', WORKLOAD_NS, 'get', 'pvc', 'bench-model', '-o', 'jsonpath={.status.phase}']).trim() === 'Bound' ? true : undefined, 1000)
    const bindMs = Date.now() - tBind
    log(`PVC bound in ${s(bindMs)} (once per model, before the pod: not counted)`)
    const reader = { image: IMAGES.project, command: ['node', '-e', READER], script: '' }
    const ours = await timePod(p, podManifest({
      name: 'bench-pvc',
      ...reader,
      env: { EXPECTED: expected, MODEL_DIR: '/models' },
      volumes: [{ name: 'vol', persistentVolumeClaim: { claimName: 'bench-model', readOnly: true } }],
      mounts: [{ name: 'vol', mountPath: '/models', readOnly: true }]
    }), 'bench-pvc', total)
    log(`PVC: Ready ${s(ours.readyMs)}, read ${s(ours.readMs)}, total ${s(ours.totalMs)}`)

    // (b) the baseline: init container `ipfs get` into an emptyDir (host network: the download
    // Kubo's RPC is on loopback; there is no Service routing here), then the same read.
    const baseline = podManifest({
      name: 'bench-init-get',
      ...reader,
      env: { EXPECTED: expected, MODEL_DIR: '/data/model' },
      volumes: [{ name: 'vol', emptyDir: {} }],
      mounts: [{ name: 'vol', mountPath: '/data', readOnly: true }],
      initContainers: [{
        name: 'ipfs-get',
        image: IMAGES.kubo,
        command: ['sh', '-c', `exec ipfs --api /ip4/127.0.0.1/tcp/${DL.api} --api-auth "bearer:$TOKEN" get --progress=false -o /data/model ${modelCid}`],
        env: [{ name: 'TOKEN', value: dlToken }, { name: 'IPFS_PATH', value: '/tmp/no-repo' }, { name: 'HOME', value: '/tmp' }],
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '1', memory: '512Mi' } },
        volumeMounts: [{ name: 'vol', mountPath: '/data' }, { name: 'tmp', mountPath: '/tmp' }]
      }]
    })
    Object.assign(baseline.spec as Record<string, unknown>, { hostNetwork: true, dnsPolicy: 'Default' })
    const base = await timePod(p, baseline, 'bench-init-get', total)
    log(`init container: Ready ${s(base.readyMs)}, read ${s(base.readMs)}, total ${s(base.totalMs)}`)

    const ratio = base.totalMs / ours.totalMs
    const report = [
      `bench-e2e: pod created → Ready → full read (sha256) of a ${total / MiB} MiB model (${files.length} files), cold caches, one run each`,
      `  ipfs-csi PVC (content volume by CID)     Ready ${s(ours.readyMs).padStart(8)}  read ${s(ours.readMs).padStart(8)}  total ${s(ours.totalMs).padStart(8)}`,
      `  init container ipfs get → emptyDir       Ready ${s(base.readyMs).padStart(8)}  read ${s(base.readMs).padStart(8)}  total ${s(base.totalMs).padStart(8)}`,
      `  ratio (init container total / PVC total): ${ratio.toFixed(2)}x  (above 1: the PVC is faster)`,
      `  (the PVC was provisioned and bound beforehand, once per model: ${s(bindMs)}, not counted)`
    ].join('\n')
    console.log(report)
    mkdirSync(RESULTS, { recursive: true })
    writeFileSync(path.join(RESULTS, 'bench-e2e.txt'), report + '\n')
    writeFileSync(path.join(RESULTS, 'bench-e2e.json'), JSON.stringify({ date: new Date().toISOString(), modelBytes: total, files: files.length, pvc: { ...ours, bindMs }, initContainer: base, ratio }, null, 2) + '\n')
  } catch (err) {
    failed = true
    log(`failed: ${(err as Error).stack ?? String(err)}`)
  } finally {
    // The download Kubo lives in the driver's namespace: tearDown deletes that namespace.
    await tearDown(p, failed, false).catch((err: Error) => { failed = true; log(`teardown: ${err.message}`) })
    rmSync(dir, { recursive: true, force: true })
  }
  return failed ? 1 : 0
}

main().then((code) => process.exit(code), (err: Error) => { console.error(err); process.exit(1) })
