// A single-node Kubernetes cluster on this machine, from the binaries scripts/setup-e2e.sh builds:
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler, snapshot-controller, kubelet and
// a containerd of its own (own root, state and socket). It runs inside a network namespace the
// run creates (scripts/e2e/netns.sh): loopback plus a veth pair holding the node address
// (kubelet refuses a loopback node IP), and a bridge for pods that are not hostNetwork. Nothing
// in it can reach any other address. All state lives under CLUSTER_ROOT, which `stop` removes
// after killing what runs there and unmounting what is mounted there.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, closeSync, chownSync } from 'node:fs'
import path from 'node:path'
import { IMAGES } from './images.js'

/** Fixed: deploy/overlays/e2e names host paths under it (kubelet dir, driver state, Kubo repos). */
export const CLUSTER_ROOT = '/tmp/ipfs-csi-e2e'
export const NODE_NAME = 'localhost'

/** The usual ports: the network namespace is the run's own, nothing else listens in it. */
export const PORTS = {
  etcdClient: 2379,
  etcdPeer: 2380,
  apiserver: 6443,
  kubelet: 10250,
  kubeletHealthz: 10248,
  containerdStream: 10010
} as const

/** Set up by scripts/e2e/netns.sh on a veth pair inside the namespace (benchmark range, RFC 2544: never routed). */
export const NODE_IP = '198.18.0.1'
export const NETNS_DUMMY = 'e2e0'
export const POD_CIDR = '198.18.77.0/24'
const BRIDGE = 'ipfscsie2e0'

/**
 * Refuses to start outside the run's own network namespace: there, the only links are loopback,
 * the node address's veth pair, and the pod bridge with its veths.
 */
export function assertOwnNetns (): void {
  const links = run('ip', ['-o', 'link', 'show']).split('\n').filter((l) => l !== '').map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '')
  const foreign = links.filter((l) => l !== 'lo' && l !== NETNS_DUMMY && l !== `${NETNS_DUMMY.slice(0, -1)}1` && l !== BRIDGE && !l.startsWith('veth'))
  const addr = run('ip', ['-o', '-4', 'addr', 'show', 'dev', NETNS_DUMMY])
  if (foreign.length > 0 || !addr.includes(` ${NODE_IP}/`)) {
    throw new Error(`not in the e2e network namespace (links: ${links.join(', ')}): run through scripts/e2e/netns.sh (make e2e)`)
  }
}

export interface ClusterPaths {
  root: string
  pki: string
  logs: string
  pids: string
  kubeconfig: string
  containerdSocket: string
  kubeletDir: string
}

export function clusterPaths (root = CLUSTER_ROOT): ClusterPaths {
  return {
    root,
    pki: path.join(root, 'pki'),
    logs: path.join(root, 'logs'),
    pids: path.join(root, 'pids'),
    kubeconfig: path.join(root, 'admin.kubeconfig'),
    containerdSocket: path.join(root, 'containerd/containerd.sock'),
    kubeletDir: path.join(root, 'kubelet')
  }
}

type Log = (msg: string) => void

function run (cmd: string, args: string[], opts: { cwd?: string, input?: string, env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, ...opts })
}

export async function sleep (ms: number): Promise<void> { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Thrown by a waitUntil check for an outcome that waiting cannot change: ends the wait at once. */
export class Fatal extends Error {}

/** Polls until check returns a value (not undefined) or the deadline passes; other errors are retried. */
export async function waitUntil<T> (what: string, timeoutMs: number, check: () => T | undefined | Promise<T | undefined>, everyMs = 500): Promise<T> {
  const end = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined) return v
    } catch (err) {
      if (err instanceof Fatal) throw err
      last = err
    }
    if (Date.now() > end) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last instanceof Error ? `: ${last.message.split('\n')[0] ?? ''}` : ''}`)
    await sleep(everyMs)
  }
}

// --- PKI: one CA; apiserver serving cert; client certs for admin (system:masters) and the node ---
function makePki (p: ClusterPaths): void {
  mkdirSync(p.pki, { recursive: true })
  const o = (f: string): string => path.join(p.pki, f)
  const key = (name: string): void => { run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', o(`${name}.key`)]) }
  key('ca')
  run('openssl', ['req', '-x509', '-new', '-key', o('ca.key'), '-out', o('ca.crt'), '-days', '2', '-subj', '/CN=ipfs-csi-e2e-ca'])
  const cert = (name: string, subj: string, ext: string): void => {
    key(name)
    run('openssl', ['req', '-new', '-key', o(`${name}.key`), '-out', o(`${name}.csr`), '-subj', subj])
    writeFileSync(o(`${name}.ext`), ext)
    run('openssl', ['x509', '-req', '-in', o(`${name}.csr`), '-CA', o('ca.crt'), '-CAkey', o('ca.key'), '-CAcreateserial', '-out', o(`${name}.crt`), '-days', '2', '-extfile', o(`${name}.ext`)])
  }
  cert('apiserver', '/CN=kube-apiserver', 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1\nextendedKeyUsage=serverAuth\n')
  cert('admin', '/O=system:masters/CN=ipfs-csi-e2e-admin', 'extendedKeyUsage=clientAuth\n')
  cert('node', `/O=system:nodes/CN=system:node:${NODE_NAME}`, 'extendedKeyUsage=clientAuth\n')
  // Service-account token signing key.
  run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', o('sa.key')])
  run('openssl', ['pkey', '-in', o('sa.key'), '-pubout', '-out', o('sa.pub')])
}

function kubeconfig (p: ClusterPaths, file: string, user: string): void {
  writeFileSync(file, `apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {certificate-authority: ${p.pki}/ca.crt, server: "https://127.0.0.1:${PORTS.apiserver}"}
users:
- name: ${user}
  user: {client-certificate: ${p.pki}/${user}.crt, client-key: ${p.pki}/${user}.key}
contexts:
- name: e2e
  context: {cluster: e2e, user: ${user}}
current-context: e2e
`)
}

/** Starts a detached process with its output in logs/NAME.log and its pid in pids/NAME.pid. */
function startProcess (p: ClusterPaths, name: string, cmd: string, args: string[]): void {
  const out = openSync(path.join(p.logs, `${name}.log`), 'a')
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env: { ...process.env, GOMAXPROCS: '2' } })
  closeSync(out)
  if (child.pid === undefined) throw new Error(`cannot start ${name}`)
  writeFileSync(path.join(p.pids, `${name}.pid`), String(child.pid))
  child.unref()
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

function pidOf (p: ClusterPaths, name: string): number | undefined {
  try { return Number(readFileSync(path.join(p.pids, `${name}.pid`), 'utf8')) } catch { return undefined }
}

function assertRunning (p: ClusterPaths, name: string): void {
  const pid = pidOf(p, name)
  if (pid === undefined || !alive(pid)) {
    let tail = ''
    try { tail = readFileSync(path.join(p.logs, `${name}.log`), 'utf8').split('\n').slice(-15).join('\n') } catch {}
    throw new Error(`${name} exited; last log lines:\n${tail}`)
  }
}

export function kubectl (p: ClusterPaths, args: string[], input?: string): string {
  return run('kubectl', ['--kubeconfig', p.kubeconfig, ...args], input !== undefined ? { input } : {})
}

function containerdConfig (p: ClusterPaths): string {
  const c = path.join(p.root, 'containerd')
  return `version = 2
root = "${c}/root"
state = "${c}/state"
[grpc]
  address = "${p.containerdSocket}"
[ttrpc]
  address = "${p.containerdSocket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${c}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${IMAGES.pause}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "${PORTS.containerdStream}"
  # No CAP_SYS_RESOURCE here: without this every sandbox fails with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${p.root}/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "${c}/runc"
        SystemdCgroup = false
`
}

function cniConfig (p: ClusterPaths): string {
  // No gateway and no masquerade: the bridge has no address on the host, pods reach only each other.
  return JSON.stringify({
    cniVersion: '0.4.0',
    name: 'ipfs-csi-e2e',
    plugins: [{
      type: 'bridge',
      bridge: BRIDGE,
      isGateway: false,
      isDefaultGateway: false,
      ipMasq: false,
      hairpinMode: false,
      ipam: { type: 'host-local', ranges: [[{ subnet: POD_CIDR }]], dataDir: path.join(p.root, 'cni/ipam') }
    }]
  }, null, 2)
}

function kubeletConfig (p: ClusterPaths): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: ${PORTS.kubelet}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${PORTS.kubeletHealthz}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${p.pki}/ca.crt}
authorization: {mode: Webhook}
# This machine has cgroup v1 (kubelet 1.35+ refuses it unless told) and no systemd.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /
containerRuntimeEndpoint: unix://${p.containerdSocket}
failSwapOn: false
resolvConf: ""
podCIDR: ${POD_CIDR}
maxPods: 40
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
syncFrequency: 10s
fileCheckFrequency: 5s
nodeStatusUpdateFrequency: 5s
`
}

/** Starts everything and waits for /readyz "ok" and the node Ready. Returns the paths. */
/** The VolumeSnapshot CRDs `make setup` fetched from external-snapshotter's client module. */
export function snapshotCrdFiles (repo: string): string[] {
  const dir = path.join(repo, '.tools/k8s-schemas/crds')
  const files = readdirSync(dir).filter((f) => f.startsWith('snapshot.storage.k8s.io_')).map((f) => path.join(dir, f))
  if (files.length !== 3) throw new Error(`expected 3 VolumeSnapshot CRDs in ${dir} (make setup), found ${files.length}`)
  return files
}

export async function startCluster (log: Log, snapshotCrds: string[]): Promise<ClusterPaths> {
  assertOwnNetns()
  const p = clusterPaths()
  if (existsSync(p.root)) {
    log(`a previous cluster root ${p.root} exists: stopping it first`)
    await stopCluster(log)
  }
  mkdirSync(p.root, { recursive: true })
  // Bidirectional mount propagation (the node plugin's kubelet and state directories) needs the
  // host paths on a shared mount: the root is bound onto itself and made shared, as kubelet does
  // with its own directory.
  run('mount', ['--bind', p.root, p.root])
  run('mount', ['--make-rshared', p.root])
  for (const d of [p.logs, p.pids, path.join(p.root, 'etcd'), path.join(p.root, 'cni/net.d'), p.kubeletDir, path.join(p.root, 'containerd')]) mkdirSync(d, { recursive: true })
  makePki(p)
  kubeconfig(p, p.kubeconfig, 'admin')
  const nodeKubeconfig = path.join(p.root, 'node.kubeconfig')
  kubeconfig(p, nodeKubeconfig, 'node')
  writeFileSync(path.join(p.root, 'containerd/config.toml'), containerdConfig(p))
  writeFileSync(path.join(p.root, 'cni/net.d/10-ipfs-csi-e2e.conflist'), cniConfig(p))
  writeFileSync(path.join(p.root, 'kubelet.yaml'), kubeletConfig(p))
  const t0 = Date.now()

  startProcess(p, 'containerd', 'containerd', ['--config', path.join(p.root, 'containerd/config.toml')])
  startProcess(p, 'etcd', 'etcd', [
    '--name', 'e2e', '--data-dir', path.join(p.root, 'etcd'),
    '--listen-client-urls', `http://127.0.0.1:${PORTS.etcdClient}`, '--advertise-client-urls', `http://127.0.0.1:${PORTS.etcdClient}`,
    '--listen-peer-urls', `http://127.0.0.1:${PORTS.etcdPeer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${PORTS.etcdPeer}`,
    '--initial-cluster', `e2e=http://127.0.0.1:${PORTS.etcdPeer}`, '--unsafe-no-fsync', '--log-level', 'warn'
  ])
  const pki = (f: string): string => path.join(p.pki, f)
  startProcess(p, 'kube-apiserver', 'kube-apiserver', [
    `--etcd-servers=http://127.0.0.1:${PORTS.etcdClient}`,
    '--bind-address=127.0.0.1', `--secure-port=${PORTS.apiserver}`, '--advertise-address=127.0.0.1',
    `--tls-cert-file=${pki('apiserver.crt')}`, `--tls-private-key-file=${pki('apiserver.key')}`,
    `--client-ca-file=${pki('ca.crt')}`,
    `--kubelet-client-certificate=${pki('admin.crt')}`, `--kubelet-client-key=${pki('admin.key')}`,
    // Kubelet listens on 127.0.0.1 and the node is named localhost: reach it by that name, on loopback.
    '--kubelet-preferred-address-types=Hostname',
    `--service-account-key-file=${pki('sa.pub')}`, `--service-account-signing-key-file=${pki('sa.key')}`,
    '--service-account-issuer=https://kubernetes.default.svc',
    '--service-cluster-ip-range=10.0.0.0/24',
    // No kube-proxy: the `kubernetes` Service's endpoints are never reconciled to a loopback address.
    '--endpoint-reconciler-type=none',
    '--authorization-mode=Node,RBAC', '--allow-privileged=true',
    '--profiling=false', '--v=1'
  ])
  await waitUntil('etcd and kube-apiserver /readyz == ok', 180_000, () => {
    assertRunning(p, 'etcd'); assertRunning(p, 'kube-apiserver')
    // A failing readyz still prints "[+]… ok" lines: only the exact body "ok" means ready.
    try { return kubectl(p, ['get', '--raw', '/readyz']).trim() === 'ok' ? true : undefined } catch { return undefined }
  })
  log(`kube-apiserver ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
  startProcess(p, 'kube-controller-manager', 'kube-controller-manager', [
    `--kubeconfig=${p.kubeconfig}`, `--authentication-kubeconfig=${p.kubeconfig}`, `--authorization-kubeconfig=${p.kubeconfig}`,
    '--bind-address=127.0.0.1', '--secure-port=0', '--leader-elect=false',
    `--service-account-private-key-file=${pki('sa.key')}`, `--root-ca-file=${pki('ca.crt')}`,
    '--use-service-account-credentials=false', '--v=1'
  ])
  startProcess(p, 'kube-scheduler', 'kube-scheduler', [
    `--kubeconfig=${p.kubeconfig}`, `--authentication-kubeconfig=${p.kubeconfig}`, `--authorization-kubeconfig=${p.kubeconfig}`,
    '--bind-address=127.0.0.1', '--secure-port=0', '--leader-elect=false', '--v=1'
  ])
  // Cluster add-on, not part of deploy/: the VolumeSnapshot CRDs and controller beside the control plane.
  for (const f of snapshotCrds) kubectl(p, ['apply', '--server-side', '-f', f])
  kubectl(p, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/volumesnapshots.snapshot.storage.k8s.io', 'crd/volumesnapshotcontents.snapshot.storage.k8s.io', 'crd/volumesnapshotclasses.snapshot.storage.k8s.io'])
  startProcess(p, 'snapshot-controller', 'snapshot-controller', [`--kubeconfig=${p.kubeconfig}`, '--leader-election=false', '--v=2'])
  await waitUntil('containerd socket', 60_000, () => { assertRunning(p, 'containerd'); return existsSync(p.containerdSocket) ? true : undefined })
  startProcess(p, 'kubelet', 'kubelet', [
    `--config=${path.join(p.root, 'kubelet.yaml')}`, `--kubeconfig=${nodeKubeconfig}`, `--root-dir=${p.kubeletDir}`,
    `--hostname-override=${NODE_NAME}`, `--node-ip=${NODE_IP}`, '--v=1'
  ])
  await waitUntil('node Ready', 180_000, () => {
    for (const n of ['kubelet', 'containerd', 'kube-controller-manager', 'kube-scheduler', 'snapshot-controller']) assertRunning(p, n)
    const status = kubectl(p, ['get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']).trim()
    return status === 'True' ? true : undefined
  }, 1000)
  log(`node ${NODE_NAME} Ready (${((Date.now() - t0) / 1000).toFixed(1)} s after start)`)
  return p
}

/** Host paths of the hostPath PersistentVolumes the storage StatefulSet claims (no provisioner here). */
export function createLocalPvs (p: ClusterPaths, claims: Array<{ name: string, namespace: string, size: string, uid: number }>): void {
  const docs: string[] = []
  for (const c of claims) {
    const dir = path.join(p.root, 'pv', c.name)
    mkdirSync(dir, { recursive: true })
    chownSync(dir, c.uid, c.uid)
    docs.push(`apiVersion: v1
kind: PersistentVolume
metadata: {name: e2e-${c.name}}
spec:
  capacity: {storage: ${c.size}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Delete
  storageClassName: ""
  claimRef: {namespace: ${c.namespace}, name: ${c.name}}
  hostPath: {path: ${dir}, type: Directory}
`)
  }
  kubectl(p, ['apply', '-f', '-'], docs.join('---\n'))
}

// --- teardown ---

function killTree (pid: number, signal: NodeJS.Signals): void {
  try { process.kill(-pid, signal) } catch {}
  try { process.kill(pid, signal) } catch {}
}

async function stopProcess (p: ClusterPaths, name: string, log: Log, graceMs = 10_000): Promise<void> {
  const pid = pidOf(p, name)
  if (pid === undefined || !alive(pid)) return
  killTree(pid, 'SIGTERM')
  const end = Date.now() + graceMs
  while (alive(pid) && Date.now() < end) await sleep(100)
  if (alive(pid)) { log(`${name} ignored SIGTERM: killing`); killTree(pid, 'SIGKILL') }
  while (alive(pid)) await sleep(50)
  rmSync(path.join(p.pids, `${name}.pid`), { force: true })
}

/** Mount points under root, deepest first. */
export function mountsUnder (root: string): string[] {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
  const points = lines.map((l) => l.split(' ')[4]).filter((m): m is string => m !== undefined && (m === root || m.startsWith(root + '/')))
    .map((m) => m.replace(/\\040/g, ' '))
  return [...new Set(points)].sort((a, b) => b.length - a.length)
}

/** Unmounts everything under root, deepest first; a busy mount is detached lazily. */
function unmountAll (root: string, log: Log): void {
  for (let round = 0; round < 3; round++) {
    const mounts = mountsUnder(root)
    if (mounts.length === 0) return
    if (round === 0) log(`unmounting ${mounts.length} mounts under ${root}`)
    for (const m of mounts) {
      try { execFileSync('umount', [m], { stdio: 'ignore' }) } catch {
        try { execFileSync('umount', ['-l', m], { stdio: 'ignore' }) } catch (err) { log(`umount ${m}: ${(err as Error).message}`) }
      }
    }
  }
}

function ctr (p: ClusterPaths, args: string[]): string {
  return run('ctr', ['--address', p.containerdSocket, '-n', 'k8s.io', ...args])
}

/** Kills every container task of this containerd (pods first die with their tasks). */
async function killTasks (p: ClusterPaths, log: Log): Promise<void> {
  if (!existsSync(p.containerdSocket)) return
  let ids: string[] = []
  try { ids = ctr(p, ['tasks', 'ls', '-q']).split('\n').filter((x) => x !== '') } catch { return }
  if (ids.length > 0) log(`killing ${ids.length} containerd tasks`)
  for (const id of ids) { try { ctr(p, ['tasks', 'kill', '-s', 'SIGKILL', id]) } catch {} }
  await waitUntil('containerd tasks to stop', 30_000, () => {
    const left = ctr(p, ['tasks', 'ls']).split('\n').slice(1).filter((l) => /RUNNING|PAUSED/.test(l))
    return left.length === 0 ? true : undefined
  }).catch((err: Error) => log(err.message))
  for (const id of ids) { try { ctr(p, ['tasks', 'delete', '-f', id]) } catch {} }
  try {
    for (const id of ctr(p, ['containers', 'ls', '-q']).split('\n').filter((x) => x !== '')) { try { ctr(p, ['containers', 'delete', id]) } catch {} }
  } catch {}
}

/** Removes the kubepods cgroups kubelet created (empty once every pod process is gone). */
function removeKubeletCgroups (): void {
  const base = '/sys/fs/cgroup'
  let controllers: string[] = []
  try { controllers = readdirSync(base) } catch { return }
  const rmTree = (dir: string): void => {
    let entries: string[] = []
    try { entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) } catch { return }
    for (const e of entries) rmTree(path.join(dir, e))
    try { execFileSync('rmdir', [dir], { stdio: 'ignore' }) } catch {}
  }
  for (const c of controllers) {
    const d = path.join(base, c, 'kubepods')
    if (existsSync(d)) rmTree(d)
  }
}

/**
 * Stops everything under CLUSTER_ROOT, in the order that never strands a mount: kubelet, then
 * every container, then every mount under the root (deepest first), then the control plane.
 */
export async function stopCluster (log: Log): Promise<void> {
  const p = clusterPaths()
  if (!existsSync(p.root)) return
  await stopProcess(p, 'kubelet', log)
  await killTasks(p, log)
  unmountAll(p.root, log)
  for (const n of ['snapshot-controller', 'kube-scheduler', 'kube-controller-manager', 'containerd', 'kube-apiserver', 'etcd']) await stopProcess(p, n, log)
  // Shims of this containerd outlive it by design: end the ones whose socket names our root.
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmd = ''
    try { cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8') } catch { continue }
    if (cmd.startsWith('/usr/bin/containerd-shim') && cmd.includes(p.containerdSocket)) killTree(Number(pid), 'SIGKILL')
  }
  removeKubeletCgroups()
  unmountAll(p.root, log)
  const left = mountsUnder(p.root)
  if (left.length > 0) throw new Error(`mounts left under ${p.root}: ${left.join(', ')}`)
  rmSync(p.root, { recursive: true, force: true })
  log('cluster stopped and removed')
}

// CLI: node dist/scripts/e2e/cluster.js start|stop
if (process.argv[1] !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  const log = (m: string): void => { console.error(`[cluster] ${m}`) }
  const cmd = process.argv[2]
  const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..')
  const main = cmd === 'start' ? async () => { await startCluster(log, snapshotCrdFiles(repo)) } : cmd === 'stop' ? async () => { await stopCluster(log) } : undefined
  if (main === undefined) { console.error('usage: cluster.js start|stop'); process.exit(2) }
  main().then(() => process.exit(0), (err: Error) => { console.error(err.message); process.exit(1) })
}
