// The e2e workloads: each one real pods, whose containers check the bytes they read (sha256 against
// the source files the runner added to the storage Kubo). Pods live in the namespace `e2e`, run as
// non-root with no service-account token, and have no network beyond their own sandbox.
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { type ClusterPaths, Fatal, NODE_NAME, kubectl, sleep, waitUntil } from './cluster.js'
import { E2E_PORTS, NAMESPACE } from './deploy.js'
import { IMAGES } from './images.js'

export const WORKLOAD_NS = 'e2e'

export interface SourceFile { rel: string, size: number, sha256: string }
export interface Content {
  rootCid: string
  /** CID of every directory, by path relative to the root ('' is the root). */
  dirCids: Record<string, string>
  files: SourceFile[]
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** Files of the test tree (relative path → size). The stream file is large enough to be read across a node plugin restart. */
export const TREE: Record<string, number> = {
  'data/blob.bin': 48 * 1024 * 1024,
  'model/config.json': 0, // written as JSON below
  'model/tokenizer.json': 2 * 1024 * 1024 + 17,
  'model/weights-00001-of-00002.safetensors': 40 * 1024 * 1024,
  'model/weights-00002-of-00002.safetensors': 24 * 1024 * 1024 + 4093,
  'stream/large.bin': 256 * 1024 * 1024
}

/** Writes random files under dir, adds them to the storage Kubo, returns the root CID and each file's sha256. */
export function addContent (repo: string, dir: string, token: string, tree: Record<string, number> = TREE): Content {
  const files: SourceFile[] = []
  for (const [rel, size] of Object.entries(tree)) {
    const file = path.join(dir, rel)
    mkdirSync(path.dirname(file), { recursive: true })
    const data = rel.endsWith('config.json') ? Buffer.from(JSON.stringify({ architecture: 'e2e-tiny', layers: 2, hidden: 64, seed: randomBytes(8).toString('hex') }, null, 2)) : randomBytes(size)
    writeFileSync(file, data)
    files.push({ rel, size: data.length, sha256: sha256(data) })
  }
  const ipfs = path.join(repo, '.tools/bin/ipfs')
  const out = execFileSync(ipfs, ['--api', `/ip4/127.0.0.1/tcp/${E2E_PORTS.storageApi}`, '--api-auth', `bearer:${token}`, 'add', '-r', '--quieter=false', '--progress=false', '--cid-version=1', dir],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, env: { ...process.env, IPFS_PATH: path.join(dir, '..', 'no-repo') } })
  // "added <cid> <name>/<rel>" per file and directory; the last line is the root.
  const dirCids: Record<string, string> = {}
  const top = path.basename(dir)
  for (const m of out.matchAll(/^added (\S+) (.+)$/gm)) {
    const rel = m[2] === top ? '' : (m[2] ?? '').slice(top.length + 1)
    if (rel === '' || !files.some((f) => f.rel === rel)) dirCids[rel] = m[1] ?? ''
  }
  const rootCid = dirCids[''] ?? ''
  if (!/^baf[a-z2-7]{50,}$/.test(rootCid)) throw new Error(`unexpected output from ipfs add: ${out.slice(-300)}`)
  return { rootCid, dirCids, files }
}

// --- pods ---

type Obj = Record<string, unknown>

const restricted = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] }
}

export interface PodOptions {
  name: string
  script: string
  image?: string
  command?: string[]
  volumes: Obj[]
  mounts: Obj[]
  env?: Record<string, string>
  initContainers?: Obj[]
  /** More pod spec fields (host network, service account, ...). */
  podSpec?: Obj
}

export function podManifest (o: PodOptions): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: o.name, namespace: WORKLOAD_NS, labels: { 'app.kubernetes.io/part-of': 'ipfs-csi-e2e' } },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
      ...(o.initContainers !== undefined ? { initContainers: o.initContainers } : {}),
      containers: [{
        name: 'check',
        image: o.image ?? IMAGES.busybox,
        command: o.command ?? ['sh', '-c', o.script],
        env: Object.entries(o.env ?? {}).map(([name, value]) => ({ name, value })),
        securityContext: restricted,
        resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '1', memory: '512Mi' } },
        volumeMounts: [...o.mounts, { name: 'tmp', mountPath: '/tmp' }]
      }],
      volumes: [...o.volumes, { name: 'tmp', emptyDir: {} }],
      ...o.podSpec
    }
  }
}

export function apply (p: ClusterPaths, obj: Obj | Obj[]): void {
  const items = Array.isArray(obj) ? obj : [obj]
  kubectl(p, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }))
}

function phase (p: ClusterPaths, name: string): string {
  return kubectl(p, ['-n', WORKLOAD_NS, 'get', 'pod', name, '-o', 'jsonpath={.status.phase}']).trim()
}

export function podLogs (p: ClusterPaths, name: string): string {
  try { return kubectl(p, ['-n', WORKLOAD_NS, 'logs', name, '--all-containers']) } catch (err) { return `(no logs: ${(err as Error).message.split('\n')[0] ?? ''})` }
}

/** Creates the pod, waits until it ran to completion, and returns its logs; a failed pod throws with them. */
export async function runPod (p: ClusterPaths, o: PodOptions, timeoutMs = 300_000): Promise<{ logs: string, ms: number }> {
  const t0 = Date.now()
  apply(p, podManifest(o))
  const end = await waitUntil(`pod ${o.name} to finish`, timeoutMs, () => {
    const ph = phase(p, o.name)
    return ph === 'Succeeded' || ph === 'Failed' ? ph : undefined
  }, 1000)
  const logs = podLogs(p, o.name)
  if (end !== 'Succeeded') throw new Error(`pod ${o.name} failed:\n${logs}`)
  return { logs, ms: Date.now() - t0 }
}

/** A shell check that every listed file under dir has its source sha256 (exits 1 on the first mismatch). */
export function shaCheckScript (dir: string, files: SourceFile[]): string {
  const lines = files.map((f) => `${f.sha256}  ${dir}/${f.rel}`).join('\n')
  return `set -e\ncat > /tmp/sums <<'EOF'\n${lines}\nEOF\nsha256sum -c /tmp/sums\necho "verified ${files.length} files"`
}

export function pvc (name: string, storageClassName: string, accessMode: string, size: string, dataSource?: Obj): Obj {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: WORKLOAD_NS },
    spec: { accessModes: [accessMode], storageClassName, resources: { requests: { storage: size } }, ...(dataSource !== undefined ? { dataSource } : {}) }
  }
}

export function contentClass (name: string, cid: string, subPath?: string): Obj {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name },
    provisioner: 'ipfs.csi.dev',
    parameters: { kind: 'content', cid, ...(subPath !== undefined ? { path: subPath } : {}) },
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'Immediate'
  }
}

const claimVolume = (claimName: string, readOnly = true): Obj => ({ name: 'vol', persistentVolumeClaim: { claimName, readOnly } })

export interface WorkloadContext {
  p: ClusterPaths
  content: Content
  log: (msg: string) => void
}

export interface Workload { name: string, run: (ctx: WorkloadContext) => Promise<string> }

const under = (files: SourceFile[], prefix: string): SourceFile[] => files.filter((f) => f.rel.startsWith(prefix + '/')).map((f) => ({ ...f, rel: f.rel.slice(prefix.length + 1) }))

const staticPv: Workload = {
  name: 'static PV by CID',
  async run ({ p, content }) {
    apply(p, [{
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'e2e-static' },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadOnlyMany'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: '',
        claimRef: { namespace: WORKLOAD_NS, name: 'static' },
        csi: { driver: 'ipfs.csi.dev', volumeHandle: 'e2e-static-root', readOnly: true, volumeAttributes: { cid: content.rootCid } }
      }
    }, { ...pvc('static', '', 'ReadOnlyMany', '1Gi'), spec: { accessModes: ['ReadOnlyMany'], storageClassName: '', volumeName: 'e2e-static', resources: { requests: { storage: '1Gi' } } } }])
    const files = content.files.filter((f) => !f.rel.startsWith('stream/'))
    const r = await runPod(p, { name: 'static-reader', script: shaCheckScript('/mnt', files), volumes: [claimVolume('static')], mounts: [{ name: 'vol', mountPath: '/mnt', readOnly: true }] })
    return `${r.logs.trim().split('\n').pop() ?? ''} in ${r.ms} ms`
  }
}

const dynamicPvc: Workload = {
  name: 'PVC provisioned from a StorageClass with cid + path',
  async run ({ p, content }) {
    apply(p, [contentClass('e2e-content-data', content.rootCid, 'data'), pvc('dynamic', 'e2e-content-data', 'ReadOnlyMany', '1Gi')])
    await waitUntil('PVC dynamic Bound', 180_000, () => kubectl(p, ['-n', WORKLOAD_NS, 'get', 'pvc', 'dynamic', '-o', 'jsonpath={.status.phase}']).trim() === 'Bound' ? true : undefined, 1000)
    const r = await runPod(p, {
      name: 'dynamic-reader',
      // The volume root is the `data` directory: blob.bin at the top, nothing from model/.
      script: `${shaCheckScript('/mnt', under(content.files, 'data'))}\ntest ! -e /mnt/model || { echo "path parameter ignored: model/ visible"; exit 1; }`,
      volumes: [claimVolume('dynamic')],
      mounts: [{ name: 'vol', mountPath: '/mnt', readOnly: true }]
    })
    return `${r.logs.trim().split('\n').pop() ?? ''} in ${r.ms} ms`
  }
}

const inlineEphemeral: Workload = {
  name: 'CSI inline ephemeral volume',
  async run ({ p, content }) {
    const r = await runPod(p, {
      name: 'inline-reader',
      script: shaCheckScript('/model', under(content.files, 'model')),
      volumes: [{ name: 'vol', csi: { driver: 'ipfs.csi.dev', readOnly: true, volumeAttributes: { cid: content.rootCid, path: 'model' } } }],
      mounts: [{ name: 'vol', mountPath: '/model', readOnly: true }]
    })
    return `${r.logs.trim().split('\n').pop() ?? ''} in ${r.ms} ms`
  }
}

/** What the writer pod writes (the runner computes the same bytes to know their sha256). */
const WRITTEN = {
  numbers: Array.from({ length: 200_000 }, (_, i) => `${i + 1}\n`).join(''),
  note: 'written by the e2e writer pod\n'
}
const writtenFiles = (): SourceFile[] => [
  { rel: 'numbers.txt', size: WRITTEN.numbers.length, sha256: sha256(Buffer.from(WRITTEN.numbers)) },
  { rel: 'sub/note.txt', size: WRITTEN.note.length, sha256: sha256(Buffer.from(WRITTEN.note)) }
]

const writable: Workload = {
  name: 'writable PVC written by one pod and read by the next',
  async run ({ p }) {
    apply(p, pvc('scratch', 'ipfs-writable', 'ReadWriteOnce', '1Gi'))
    const w = await runPod(p, {
      name: 'writer',
      script: 'set -e\nseq 1 200000 > /data/numbers.txt\nmkdir -p /data/sub\nprintf \'written by the e2e writer pod\\n\' > /data/sub/note.txt\nsync\nls -l /data /data/sub\necho written',
      volumes: [claimVolume('scratch', false)],
      mounts: [{ name: 'vol', mountPath: '/data' }]
    })
    const r = await runPod(p, { name: 'next-reader', script: shaCheckScript('/data', writtenFiles()), volumes: [claimVolume('scratch', false)], mounts: [{ name: 'vol', mountPath: '/data' }] })
    return `writer ${w.ms} ms; reader: ${r.logs.trim().split('\n').pop() ?? ''} in ${r.ms} ms`
  }
}

const snapshotRestore: Workload = {
  name: 'VolumeSnapshot of the writable PVC restored into a new PVC',
  async run ({ p }) {
    apply(p, { apiVersion: 'snapshot.storage.k8s.io/v1', kind: 'VolumeSnapshot', metadata: { name: 'scratch-snap', namespace: WORKLOAD_NS }, spec: { volumeSnapshotClassName: 'ipfs-snapshots', source: { persistentVolumeClaimName: 'scratch' } } })
    const t0 = Date.now()
    await waitUntil('VolumeSnapshot readyToUse', 180_000, () => kubectl(p, ['-n', WORKLOAD_NS, 'get', 'volumesnapshot', 'scratch-snap', '-o', 'jsonpath={.status.readyToUse}']).trim() === 'true' ? true : undefined, 1000)
    const snapMs = Date.now() - t0
    apply(p, pvc('scratch-restored', 'ipfs-writable', 'ReadWriteOnce', '1Gi', { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'scratch-snap' }))
    const r = await runPod(p, { name: 'restored-reader', script: shaCheckScript('/data', writtenFiles()), volumes: [claimVolume('scratch-restored', false)], mounts: [{ name: 'vol', mountPath: '/data' }] })
    return `snapshot ready in ${snapMs} ms; restored: ${r.logs.trim().split('\n').pop() ?? ''} in ${r.ms} ms`
  }
}

const preloader: Workload = {
  name: 'preloader DaemonSet warms an entry to ready (/status through the API server proxy)',
  async run ({ p, content }) {
    const cms = JSON.parse(kubectl(p, ['-n', NAMESPACE, 'get', 'configmaps', '-o', 'json'])) as { items: Array<{ metadata: { name: string } }> }
    const cm = cms.items.map((i) => i.metadata.name).find((n) => n.startsWith('ipfs-csi-preload'))
    if (cm === undefined) throw new Error('no ipfs-csi-preload ConfigMap')
    const modelCid = content.dirCids.model
    if (modelCid === undefined) throw new Error('no CID for model/')
    const desired = `entries:\n  - name: e2e-model\n    cid: ${modelCid}\n    nodeSelector: {kubernetes.io/hostname: ${NODE_NAME}}\n    priority: 5\n`
    kubectl(p, ['-n', NAMESPACE, 'patch', 'configmap', cm, '--type', 'merge', '-p', JSON.stringify({ data: { 'desired.yaml': desired } })])
    const pod = kubectl(p, ['-n', NAMESPACE, 'get', 'pods', '-l', 'app.kubernetes.io/name=ipfs-csi-preloader', '-o', 'jsonpath={.items[0].metadata.name}']).trim()
    const t0 = Date.now()
    // The kubelet refreshes ConfigMap volumes within its sync period; the preloader watches the file.
    const entry = await waitUntil('preload entry e2e-model ready', 240_000, () => {
      const status = JSON.parse(kubectl(p, ['get', '--raw', `/api/v1/namespaces/${NAMESPACE}/pods/${pod}:${E2E_PORTS.preloader}/proxy/status`])) as { entries: Array<{ name: string, state: string, bytesTotal?: number }>, problems?: string[] }
      const problem = status.problems?.find((x) => x.includes('e2e-model'))
      if (problem !== undefined) throw new Fatal(`preloader refused the entry: ${problem}`)
      const e = status.entries.find((x) => x.name === 'e2e-model')
      if (e?.state === 'failed') throw new Fatal(`preload failed: ${JSON.stringify(e)}`)
      return e?.state === 'ready' ? e : undefined
    }, 2000)
    const want = under(content.files, 'model').reduce((s, f) => s + f.size, 0)
    if (typeof entry.bytesTotal === 'number' && entry.bytesTotal < want) throw new Error(`preloaded ${entry.bytesTotal} bytes, the model has ${want}`)
    return `ready after ${Date.now() - t0} ms (${entry.bytesTotal ?? '?'} bytes)`
  }
}

/** A tiny model server: loads every file of the model (sha256 as it reads), reports the load time. */
const MODEL_SERVER = `
const fs = require('fs'), path = require('path'), crypto = require('crypto')
const dir = '/models/e2e', want = JSON.parse(process.env.EXPECTED)
const t0 = process.hrtime.bigint()
let bytes = 0
for (const [rel, sha] of Object.entries(want)) {
  const h = crypto.createHash('sha256'), fd = fs.openSync(path.join(dir, rel), 'r'), buf = Buffer.alloc(1 << 20)
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) { h.update(buf.subarray(0, n)); bytes += n }
  fs.closeSync(fd)
  if (h.digest('hex') !== sha) { console.log('MISMATCH ' + rel); process.exit(1) }
}
const ms = Number(process.hrtime.bigint() - t0) / 1e6
console.log(JSON.stringify({ model: 'e2e-tiny', files: Object.keys(want).length, bytes, loadMs: Math.round(ms), MiBps: Math.round(bytes / 1048576 / (ms / 1000)) }))
`

const modelServing: Workload = {
  name: 'model-serving pod loads a multi-file model from a PVC and reports its load time',
  async run ({ p, content }) {
    apply(p, [contentClass('e2e-content-model', content.rootCid, 'model'), pvc('model', 'e2e-content-model', 'ReadOnlyMany', '1Gi')])
    const expected = Object.fromEntries(under(content.files, 'model').map((f) => [f.rel, f.sha256]))
    const r = await runPod(p, {
      name: 'model-server',
      image: IMAGES.project,
      command: ['node', '-e', MODEL_SERVER],
      script: '',
      env: { EXPECTED: JSON.stringify(expected) },
      volumes: [claimVolume('model')],
      mounts: [{ name: 'vol', mountPath: '/models/e2e', readOnly: true }]
    })
    const report = JSON.parse(r.logs.trim().split('\n').pop() ?? '{}') as { loadMs?: number, files?: number }
    if (report.files !== Object.keys(expected).length) throw new Error(`model server reported ${JSON.stringify(report)}`)
    return `${r.logs.trim().split('\n').pop() ?? ''} (pod ${r.ms} ms)`
  }
}

interface PodInfo { metadata: { name: string, uid: string }, status: { conditions?: Array<{ type: string, status: string }>, containerStatuses?: Array<{ name: string, restartCount: number, ready: boolean, containerID?: string }> } }

function podsOf (p: ClusterPaths, app: string): PodInfo[] {
  return (JSON.parse(kubectl(p, ['-n', NAMESPACE, 'get', 'pods', '-l', `app.kubernetes.io/name=${app}`, '-o', 'json'])) as { items: PodInfo[] }).items
}

/** Pid of every FUSE server, by volume directory, as their status files in the host state dir say. */
function fuseServerPids (p: ClusterPaths): Record<string, number> {
  const dir = path.join(p.root, 'ipfs-csi', 'volumes')
  const out: Record<string, number> = {}
  for (const key of (() => { try { return readdirSync(dir) } catch { return [] } })()) {
    try { out[key] = (JSON.parse(readFileSync(path.join(dir, key, 'fuse-status.json'), 'utf8')) as { pid: number }).pid } catch {}
  }
  return out
}

/**
 * deploy/ runs FUSE servers with --fuse-run-as 10001:10002 (docs/security.md item 9): each
 * server's /proc status, read inside the fuse-host container (its PID namespace), shows those ids
 * and no capability. Throws otherwise; returns what it saw.
 */
function checkServersUnprivileged (p: ClusterPaths, dataPod: string, pids: number[]): string {
  for (const pid of pids) {
    const status = kubectl(p, ['-n', NAMESPACE, 'exec', dataPod, '-c', 'fuse-host', '--', 'cat', `/proc/${pid}/status`])
    const field = (name: string): string => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? ''
    const uids = field('Uid').split(/\s+/)
    const gids = field('Gid').split(/\s+/)
    if (!uids.every(u => u === '10001') || !gids.every(g => g === '10002') || BigInt(`0x${field('CapEff') || '1'}`) !== 0n || field('NoNewPrivs') !== '1') {
      throw new Error(`FUSE server ${pid} is not unprivileged: Uid ${field('Uid')}, Gid ${field('Gid')}, CapEff ${field('CapEff')}, NoNewPrivs ${field('NoNewPrivs')}`)
    }
  }
  return `${pids.length} FUSE servers run as 10001:10002, CapEff 0, no_new_privs`
}

/** The node service's start-up reconcile line ({adopted, healed, failed, busy}) from a pod's log. */
function reconcileReport (p: ClusterPaths, pod: string): { adopted: number, healed: number, failed: number } | undefined {
  let text = ''
  try { text = kubectl(p, ['-n', NAMESPACE, 'logs', pod, '-c', 'ipfs-csi']) } catch { return undefined }
  for (const line of text.split('\n')) {
    if (!line.includes('reconciled volumes')) continue
    try { return JSON.parse(line) as { adopted: number, healed: number, failed: number } } catch {}
  }
  return undefined
}

/** A pod that reads stream/large.bin again and again (sha256 each pass) until /tmp/stop exists; any failed read fails it. */
interface Streamer {
  name: string
  passes: () => number
  /** Throws (Fatal) when the pod has ended: it must stream until told to stop. */
  alive: (what: string) => void
  /** Asks it to stop after its current pass; returns its last log line, or throws with its logs if a pass failed. */
  finish: () => Promise<string>
}

async function startStreamer (p: ClusterPaths, content: Content, name: string): Promise<Streamer> {
  const large = content.files.find((f) => f.rel === 'stream/large.bin')
  if (large === undefined) throw new Error('no stream/large.bin')
  const script = `set -e
pass=0
while [ ! -e /tmp/stop ]; do
  pass=$((pass + 1))
  got=$(sha256sum /data/large.bin | cut -d' ' -f1)
  [ "$got" = "${large.sha256}" ] || { echo "pass $pass: sha256 $got, want ${large.sha256}"; exit 1; }
  echo "pass $pass ok"
  [ $pass -lt 400 ] || { echo 'never told to stop'; exit 1; }
done
echo "all $pass passes verified"`
  apply(p, podManifest({
    name,
    script,
    volumes: [{ name: 'vol', csi: { driver: 'ipfs.csi.dev', readOnly: true, volumeAttributes: { cid: content.rootCid, path: 'stream' } } }],
    mounts: [{ name: 'vol', mountPath: '/data', readOnly: true }]
  }))
  const passes = (): number => (podLogs(p, name).match(/^pass \d+ ok$/gm) ?? []).length
  const alive = (what: string): void => {
    const ph = phase(p, name)
    if (ph === 'Failed' || ph === 'Succeeded') throw new Fatal(`${name} ended ${what} (${ph}):\n${podLogs(p, name)}`)
  }
  await waitUntil(`${name} running and a first full pass`, 300_000, () => { alive('early'); return passes() >= 1 ? true : undefined }, 1000)
  return {
    name,
    passes,
    alive,
    finish: async () => {
      kubectl(p, ['-n', WORKLOAD_NS, 'exec', name, '--', 'touch', '/tmp/stop'])
      const end = await waitUntil(`${name} to finish`, 300_000, () => { const ph = phase(p, name); return ph === 'Succeeded' || ph === 'Failed' ? ph : undefined }, 1000)
      const logs = podLogs(p, name)
      if (end !== 'Succeeded') throw new Error(`${name} failed:\n${logs}`)
      return logs.trim().split('\n').pop() ?? ''
    }
  }
}

const restarts = (pod: PodInfo | undefined, container?: string): number =>
  (pod?.status.containerStatuses ?? []).filter((c) => container === undefined || c.name === container).reduce((n, c) => n + c.restartCount, 0)

const nodePluginRestart: Workload = {
  name: 'node plugin pod deleted while a reader streams a large file: reads never fail, mounts adopted, next pod mounts',
  async run ({ p, content, log }) {
    const streamer = await startStreamer(p, content, 'streamer')
    const [old] = podsOf(p, 'ipfs-csi-node')
    const [dataBefore] = podsOf(p, 'ipfs-csi-node-data')
    if (old === undefined || dataBefore === undefined) throw new Error('no node plugin or node data-plane pod')
    const serversBefore = fuseServerPids(p)
    if (Object.keys(serversBefore).length === 0) throw new Error('no FUSE server status in the state dir')
    const dropped = checkServersUnprivileged(p, dataBefore.metadata.name, Object.values(serversBefore))
    log(`deleting node plugin pod ${old.metadata.name} during pass ${streamer.passes() + 1} (FUSE servers ${JSON.stringify(serversBefore)})`)
    const t0 = Date.now()
    kubectl(p, ['-n', NAMESPACE, 'delete', 'pod', old.metadata.name, '--wait=true', '--timeout=180s'])
    const deletedMs = Date.now() - t0
    const passesAtDeletion = streamer.passes()
    const fresh = await waitUntil('new node plugin pod ready', 300_000, () => {
      streamer.alive('while the node plugin was replaced')
      return podsOf(p, 'ipfs-csi-node').find((i) => i.metadata.name !== old.metadata.name && i.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    }, 1000)
    const restartMs = Date.now() - t0
    // The new pod adopted every FUSE server: same pids, none healed (a heal would mean a remount).
    const report = await waitUntil('the new node plugin pod reconciled', 120_000, () => reconcileReport(p, fresh.metadata.name), 1000)
    if (report.healed !== 0 || report.failed !== 0 || report.adopted < Object.keys(serversBefore).length) {
      throw new Error(`new node plugin pod did not adopt the mounts: ${JSON.stringify(report)}, servers before ${JSON.stringify(serversBefore)}`)
    }
    const serversAfter = fuseServerPids(p)
    for (const [key, pid] of Object.entries(serversBefore)) {
      if (serversAfter[key] !== pid) throw new Error(`FUSE server of ${key} was ${pid}, now ${String(serversAfter[key])}: not the same server`)
    }
    // The data plane (fuse-host, node Kubo) was not touched.
    const [dataAfter] = podsOf(p, 'ipfs-csi-node-data')
    const dataRestarts = restarts(dataAfter) - restarts(dataBefore)
    if (dataAfter?.metadata.uid !== dataBefore.metadata.uid || dataRestarts !== 0) throw new Error(`the node data-plane pod changed (${dataBefore.metadata.uid} → ${dataAfter?.metadata.uid ?? 'none'}, ${dataRestarts} container restarts)`)
    // Two more complete passes after the new pod is up, and at least one pass that ran while the
    // old pod was being deleted: the mount the streamer holds served throughout.
    const target = Math.max(streamer.passes(), passesAtDeletion + 1) + 2
    await waitUntil('two passes after the restart', 300_000, () => { streamer.alive('after the restart'); return streamer.passes() >= target ? true : undefined }, 1000)
    const last = await streamer.finish()
    const after = await runPod(p, {
      name: 'after-restart-reader',
      script: shaCheckScript('/model', under(content.files, 'model')),
      volumes: [{ name: 'vol', csi: { driver: 'ipfs.csi.dev', readOnly: true, volumeAttributes: { cid: content.rootCid, path: 'model' } } }],
      mounts: [{ name: 'vol', mountPath: '/model', readOnly: true }]
    })
    return `${dropped}; node plugin pod deleted in ${deletedMs} ms, new pod ready in ${restartMs} ms, adopted ${report.adopted} mounts (same FUSE server pids); ${last}; next pod: ${after.logs.trim().split('\n').pop() ?? ''}`
  }
}

const nodeKuboRestart: Workload = {
  name: 'node-local Kubo restarted, then frozen, while a reader streams content this node holds: reads never fail',
  async run ({ p, content, log }) {
    const streamer = await startStreamer(p, content, 'streamer-kubo')
    const [data] = podsOf(p, 'ipfs-csi-node-data')
    if (data === undefined) throw new Error('no node data-plane pod')
    const before = restarts(data, 'kubo')
    const servers = fuseServerPids(p)
    log(`stopping the node Kubo in ${data.metadata.name} during pass ${streamer.passes() + 1}`)
    const t0 = Date.now()
    // SIGTERM to the container's first process: Kubo shuts down and kubelet restarts the container.
    kubectl(p, ['-n', NAMESPACE, 'exec', data.metadata.name, '-c', 'kubo', '--', 'kill', '1'])
    const passesAtStop = streamer.passes()
    await waitUntil('the node Kubo restarted and ready', 300_000, () => {
      streamer.alive('while the node Kubo restarted')
      const [now] = podsOf(p, 'ipfs-csi-node-data')
      const kubo = now?.status.containerStatuses?.find((c) => c.name === 'kubo')
      return kubo !== undefined && kubo.restartCount > before && kubo.ready ? true : undefined
    }, 1000)
    const restartMs = Date.now() - t0
    // The FUSE servers never noticed (their blocks are on this node's disk): the same processes.
    const after = fuseServerPids(p)
    for (const [key, pid] of Object.entries(servers)) {
      if (after[key] !== pid) throw new Error(`FUSE server of ${key} was ${pid}, now ${String(after[key])}`)
    }
    const target = Math.max(streamer.passes(), passesAtStop + 1) + 1
    await waitUntil('a pass after the node Kubo is back', 300_000, () => { streamer.alive('after the node Kubo restart'); return streamer.passes() >= target ? true : undefined }, 1000)
    // A restart is short: then the node Kubo frozen (SIGSTOP from the host: its PID 1 ignores it
    // from inside its namespace) for two whole passes, which must not need it either.
    const kuboPid = hostPidOfContainer(p, 'ipfs-csi-node-data', 'kubo', 'ipfs')
    process.kill(kuboPid, 'SIGSTOP')
    let frozenPasses = 0
    const f0 = Date.now()
    try {
      const from = streamer.passes() + 1
      await waitUntil('two passes with the node Kubo frozen', 300_000, () => { streamer.alive('with the node Kubo frozen'); return streamer.passes() >= from + 2 ? true : undefined }, 1000)
      frozenPasses = streamer.passes() - from + 1
    } finally {
      process.kill(kuboPid, 'SIGCONT')
    }
    return `node Kubo back in ${restartMs} ms; ${frozenPasses} passes completed with it frozen (${Date.now() - f0} ms); ${await streamer.finish()}`
  }
}

/** Host pid of the process named `comm` in a container of the pod (by the container id in its cgroup). */
function hostPidOfContainer (p: ClusterPaths, app: string, container: string, comm: string): number {
  const [pod] = podsOf(p, app)
  const id = pod?.status.containerStatuses?.find((c) => c.name === container)?.containerID?.replace(/^[a-z]+:\/\//, '')
  if (id === undefined || !/^[0-9a-f]{64}$/.test(id)) throw new Error(`no container id for ${app}/${container}`)
  const found: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() === comm && readFileSync(`/proc/${name}/cgroup`, 'utf8').includes(id)) found.push(Number(name))
    } catch {}
  }
  if (found.length !== 1) throw new Error(`expected one ${comm} process in container ${id.slice(0, 12)}, found ${found.length}`)
  return found[0] as number
}

export const WORKLOADS: Workload[] = [staticPv, dynamicPvc, inlineEphemeral, writable, snapshotRestore, preloader, modelServing, nodePluginRestart, nodeKuboRestart]

/** Deletes workload pods, then claims and snapshots, then the PVs they left, waiting for each step. */
export async function deleteWorkloads (p: ClusterPaths, log: (m: string) => void): Promise<void> {
  const step = (args: string[]): void => { try { kubectl(p, args) } catch (err) { log(`cleanup: ${(err as Error).message.split('\n')[0] ?? ''}`) } }
  step(['delete', 'pods', '-n', WORKLOAD_NS, '--all', '--grace-period=5', '--timeout=120s'])
  step(['delete', 'volumesnapshots', '-n', WORKLOAD_NS, '--all', '--timeout=120s'])
  step(['delete', 'pvc', '-n', WORKLOAD_NS, '--all', '--timeout=120s'])
  step(['delete', 'pv', 'e2e-static', '--ignore-not-found', '--timeout=60s'])
  await sleep(0)
}
