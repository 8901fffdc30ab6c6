// deploy/: the committed rendered manifests are current, valid against the pinned Kubernetes and
// CRD schemas, lint-clean, pinned; and they keep the security properties the design promises.
// Runs the real kustomize, kubeconform and kube-score installed by `make setup` (offline).
import test from 'ava'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseAllDocuments } from 'yaml'
import { exampleFiles, hardeningProblems, lint, overlays, renderedPath, staleRendered, unpinnedImages, validateSchemas } from '../../scripts/validate-manifests.js'
import { parseInlinePolicy, type InlineRules } from '../../node-plugin/inline-policy.js'
import { WORKLOAD_NS } from '../../scripts/e2e/workloads.js'

type Obj = Record<string, any>

async function objects (overlay: string): Promise<Obj[]> {
  return parseAllDocuments(await readFile(renderedPath(overlay), 'utf8')).map(d => d.toJS() as Obj).filter(o => o !== null)
}
const find = (objs: Obj[], kind: string, name: string): Obj => {
  const o = objs.find(x => x.kind === kind && x.metadata?.name === name)
  if (o === undefined) throw new Error(`${kind}/${name} not rendered`)
  return o
}
const podSpec = (o: Obj): Obj => o.spec.template.spec
const allContainers = (o: Obj): Obj[] => [...(podSpec(o).initContainers ?? []), ...podSpec(o).containers]

test('the overlays exist and deploy/rendered is current (make manifests)', async (t) => {
  t.deepEqual(await overlays(), ['dev', 'e2e', 'production'])
  t.deepEqual(await staleRendered(), [])
})

test('rendered overlays and examples validate against Kubernetes 1.36 and CRD schemas (strict)', async (t) => {
  const files = [...(await overlays()).map(renderedPath), ...await exampleFiles()]
  t.deepEqual(await validateSchemas(files), [])
})

test('pods on the host network never ask for the same port (one node runs them all in e2e)', async (t) => {
  for (const overlay of await overlays()) {
    const owners = new Map<number, string[]>()
    for (const o of await objects(overlay)) {
      if (!['Deployment', 'DaemonSet', 'StatefulSet'].includes(o.kind) || podSpec(o).hostNetwork !== true) continue
      for (const c of podSpec(o).containers as Obj[]) {
        for (const p of (c.ports ?? []) as Obj[]) owners.set(p.containerPort, [...owners.get(p.containerPort) ?? [], `${o.metadata.name as string}/${c.name as string}`])
      }
    }
    t.deepEqual([...owners].filter(([, who]) => who.length > 1), [], `${overlay}: host ports asked for twice`)
  }
})

/** The pod template of a workload kind (CronJobs: their Job's). */
const templateOf = (o: Obj): Obj | undefined => o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : ['Deployment', 'DaemonSet', 'StatefulSet', 'Job'].includes(o.kind) ? o.spec.template.spec : undefined

test('a non-root container can read the Secret files it mounts (0440 needs the pod fsGroup or root)', async (t) => {
  for (const overlay of await overlays()) {
    for (const o of await objects(overlay)) {
      const spec = templateOf(o)
      if (spec === undefined) continue
      // Secret volumes whose files are not world-readable: root-owned, readable by their group only.
      const private0440 = new Set(((spec.volumes ?? []) as Obj[]).filter(v => v.secret !== undefined && ((v.secret.defaultMode ?? 0o644) & 0o004) === 0).map(v => v.name as string))
      for (const c of [...(spec.initContainers ?? []), ...spec.containers] as Obj[]) {
        const uid = c.securityContext?.runAsUser ?? spec.securityContext?.runAsUser
        const mounts = ((c.volumeMounts ?? []) as Obj[]).filter(m => private0440.has(m.name))
        if (uid === undefined || uid === 0 || mounts.length === 0) continue
        t.not(spec.securityContext?.fsGroup, undefined, `${overlay}: ${o.kind as string}/${o.metadata.name as string} container ${c.name as string} runs as ${uid as number} and cannot read ${mounts.map(m => m.name as string).join(', ')} without an fsGroup`)
      }
    }
  }
})

test('the schema check rejects unknown fields, in core kinds and in CRDs', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-deploy-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const f = path.join(dir, 'bad.yaml')
  await writeFile(f, [
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\ndata: {a: b}',
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: typo}\nspec:\n  replicas: 1\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers:\n        - {name: c, image: "x:1.0", imagePullPolicey: Always}',
    'apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshot\nmetadata: {name: s}\nspec:\n  volumeSnapshotClassName: c\n  source: {persistentVolumeClaimName: p, bogus: 1}',
    'apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: m}\nspec:\n  selector: {}\n  endpoints: [{port: x, intervall: 30s}]'
  ].join('\n---\n'))
  const problems = await validateSchemas([f])
  t.is(problems.length, 3, JSON.stringify(problems))
  t.true(problems.some(p => p.message.startsWith('Deployment typo')))
  t.true(problems.some(p => p.message.startsWith('VolumeSnapshot s')))
  t.true(problems.some(p => p.message.startsWith('ServiceMonitor m')))
})

test('kube-score passes with only the documented exceptions', async (t) => {
  t.deepEqual(await lint((await overlays()).map(renderedPath)), [])
})

test('every image is pinned; latest or a missing tag is refused', async (t) => {
  for (const f of [...(await overlays()).map(renderedPath), ...await exampleFiles()]) {
    t.deepEqual(unpinnedImages(await readFile(f, 'utf8'), f), [])
  }
  const bad = 'kind: Pod\nspec:\n  containers:\n    - {name: a, image: "nginx:latest"}\n    - {name: b, image: "nginx"}\n    - {name: c, image: "registry:5000/x/nginx"}\n    - {name: d, image: "registry:5000/x/nginx:1.27.4"}\n    - {name: e, image: "x@sha256:' + 'a'.repeat(64) + '"}'
  t.deepEqual(unpinnedImages(bad, 'p').map(p => p.message.split(' ')[1]), ['nginx:latest', 'nginx', 'registry:5000/x/nginx'])
})

test('CSIDriver: no attach, pod info on mount, persistent and ephemeral, fsGroupPolicy None', async (t) => {
  const d = find(await objects('production'), 'CSIDriver', 'ipfs.csi.dev')
  t.false(d.spec.attachRequired)
  t.true(d.spec.podInfoOnMount)
  t.deepEqual(d.spec.volumeLifecycleModes, ['Persistent', 'Ephemeral'])
  t.is(d.spec.fsGroupPolicy, 'None')
})

test('only the mounting containers are privileged, and only they use Bidirectional propagation', async (t) => {
  for (const overlay of await overlays()) {
    for (const o of (await objects(overlay)).filter(x => x.spec?.template?.spec !== undefined)) {
      for (const c of allContainers(o)) {
        const mounting = (o.metadata.name === 'ipfs-csi-node' && c.name === 'ipfs-csi') || (o.metadata.name === 'ipfs-csi-node-data' && c.name === 'fuse-host')
        t.is(c.securityContext?.privileged === true, mounting, `${overlay} ${o.metadata.name}/${c.name} privileged`)
        const bidi = (c.volumeMounts ?? []).filter((m: Obj) => m.mountPropagation === 'Bidirectional').map((m: Obj) => m.mountPath).sort()
        // e2e: the cluster's kubelet directory lives under its temporary root (docs/e2e.md).
        const kubeletDir = overlay === 'e2e' ? '/tmp/ipfs-csi-e2e/kubelet' : '/var/lib/kubelet'
        t.deepEqual(bidi, mounting ? [kubeletDir, '/var/lib/ipfs-csi'].sort() : [], `${overlay} ${o.metadata.name}/${c.name} propagation`)
        if (!mounting) t.is(c.securityContext?.allowPrivilegeEscalation, false, `${o.metadata.name}/${c.name} allowPrivilegeEscalation`)
      }
    }
  }
})

test('node split: control plane (node service, rolling) and data plane (fuse-host + node Kubo, OnDelete) share only host directories and the launcher socket', async (t) => {
  for (const overlay of await overlays()) {
    const objs = await objects(overlay)
    const ctl = find(objs, 'DaemonSet', 'ipfs-csi-node')
    const data = find(objs, 'DaemonSet', 'ipfs-csi-node-data')
    const names = (ds: Obj): string[] => podSpec(ds).containers.map((c: Obj) => c.name).sort()
    // e2e: no livenessprobe sidecar (not buildable here, docs/e2e.md).
    t.deepEqual(names(ctl), overlay === 'e2e' ? ['ipfs-csi'] : ['ipfs-csi', 'liveness-probe'], overlay)
    t.deepEqual(names(data), ['fuse-host', 'kubo'], overlay)
    // The control plane holds no mount's life, so it may roll; replacing the data plane ends mounts.
    t.is(ctl.spec.updateStrategy.type, 'RollingUpdate', overlay)
    t.is(data.spec.updateStrategy.type, 'OnDelete', overlay)
    // Neither shares a PID namespace: fuse-host finds and stops its servers for the node service.
    for (const ds of [ctl, data]) {
      t.not(podSpec(ds).shareProcessNamespace, true, `${overlay} ${ds.metadata.name as string} shareProcessNamespace`)
      t.not(podSpec(ds).hostPID, true, `${overlay} ${ds.metadata.name as string} hostPID`)
    }
    const container = (ds: Obj, name: string): Obj => podSpec(ds).containers.find((c: Obj) => c.name === name)
    const env = (c: Obj): Record<string, string> => Object.fromEntries((c.env ?? []).filter((e: Obj) => e.value !== undefined).map((e: Obj) => [e.name, e.value]))
    const hostPathOf = (ds: Obj, c: Obj, mountPath: string): string | undefined => {
      const m = (c.volumeMounts as Obj[]).find(x => x.mountPath === mountPath)
      return podSpec(ds).volumes.find((v: Obj) => v.name === m?.name)?.hostPath?.path
    }
    const csi = container(ctl, 'ipfs-csi')
    const fh = container(data, 'fuse-host')
    const csiEnv = env(csi)
    t.is(csiEnv.IPFS_CSI_MODE, 'node')
    // The launcher socket: the path the node service dials is the one fuse-host listens on, in a
    // state dir both pods take from the same host directory.
    const stateDir = csiEnv.IPFS_CSI_STATE_DIR
    t.is(env(fh).IPFS_CSI_STATE_DIR, stateDir, overlay)
    t.is(csiEnv.IPFS_CSI_FUSE_LAUNCHER, `unix://${stateDir}/fuse-host.sock`, overlay)
    t.deepEqual(fh.args.slice(0, 3), ['fuse-host', '--socket', '$(IPFS_CSI_STATE_DIR)/fuse-host.sock'], overlay)
    const stateHost = hostPathOf(ctl, csi, stateDir)
    t.truthy(stateHost)
    t.is(hostPathOf(data, fh, stateDir), stateHost, `${overlay}: the state dir is the same host directory in both pods`)
    t.is(hostPathOf(ctl, csi, csiEnv.IPFS_CSI_KUBELET_DIR), hostPathOf(data, fh, csiEnv.IPFS_CSI_KUBELET_DIR), `${overlay}: the kubelet dir too`)
    // The blocks dir the specs name is the data plane's Kubo repo, read-only in both pods.
    const blocks = csiEnv.IPFS_CSI_KUBO_BLOCKS_DIR
    t.is(hostPathOf(ctl, csi, blocks), hostPathOf(data, fh, blocks), overlay)
    t.is(hostPathOf(data, fh, blocks), hostPathOf(data, container(data, 'kubo'), '/data/ipfs'), `${overlay}: blocks come from the node Kubo's repo`)
    // The control plane's init containers run before the data plane has initialised the repo:
    // a subPath of it would be created by kubelet as root, and Kubo could not write there.
    for (const c of podSpec(ctl).initContainers ?? []) {
      t.false((c.volumeMounts ?? []).some((m: Obj) => m.name === 'kubo-repo' && m.subPath !== undefined), `${overlay}: init ${c.name as string} mounts a subPath of the Kubo repo`)
    }
    // FUSE servers read the node Kubo on their own pod's loopback.
    t.regex(csiEnv.IPFS_CSI_FUSE_KUBO_API, /^http:\/\/127\.0\.0\.1:\d+$/, overlay)
    const apiPort = Number(new URL(csiEnv.IPFS_CSI_FUSE_KUBO_API).port)
    t.true(container(data, 'kubo').ports.some((p: Obj) => p.name === 'api' && p.containerPort === apiPort), `${overlay}: FUSE servers' Kubo port is the node Kubo's`)
    if (overlay !== 'e2e') {
      // The node service reaches it through the node-local Service, which selects the data plane.
      t.is(csiEnv.IPFS_CSI_KUBO_API, 'http://ipfs-node-kubo:5001')
      const svc = find(objs, 'Service', 'ipfs-node-kubo')
      t.is(svc.spec.internalTrafficPolicy, 'Local')
      t.deepEqual(svc.spec.selector, data.spec.selector.matchLabels)
    }
    // The driver registers itself with kubelet (no node-driver-registrar): socket in plugins_registry.
    t.is(csiEnv.IPFS_CSI_REGISTRATION_SOCKET, '/registration/ipfs.csi.dev-reg.sock')
    t.true(csi.volumeMounts.some((m: Obj) => m.name === 'registration-dir' && m.mountPath === '/registration'))
    const vols = Object.fromEntries(podSpec(data).volumes.map((v: Obj) => [v.name, v]))
    t.is(vols['dev-fuse'].hostPath.type, 'CharDevice')
  }
  const prod = await objects('production')
  const csiEnv = Object.fromEntries(podSpec(find(prod, 'DaemonSet', 'ipfs-csi-node')).containers[0].env.map((e: Obj) => [e.name, e.value]))
  t.is(csiEnv.IPFS_CSI_STATE_DIR, '/var/lib/ipfs-csi')
  t.is(csiEnv.IPFS_CSI_KUBELET_REGISTRATION_PATH, '/var/lib/kubelet/plugins/ipfs.csi.dev/csi.sock')
})

test('Kubo: private network everywhere, 3 replicas on distinct nodes with PVCs, PDB; RPC never exposed', async (t) => {
  const prod = await objects('production')
  const sts = find(prod, 'StatefulSet', 'ipfs-kubo')
  t.is(sts.spec.replicas, 3)
  t.is(podSpec(sts).affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey, 'kubernetes.io/hostname')
  t.deepEqual(sts.spec.volumeClaimTemplates.map((v: Obj) => v.metadata.name), ['repo', 'cluster'])
  t.is(find(prod, 'PodDisruptionBudget', 'ipfs-kubo').spec.maxUnavailable, 1)
  for (const o of prod.filter(x => x.spec?.template?.spec !== undefined)) {
    for (const c of podSpec(o).containers.filter((x: Obj) => x.name === 'kubo')) {
      // Every Kubo is on the private network, except the gateway tier's, which has no network at all.
      if (o.metadata.name === 'ipfs-gateway-kubo') t.true(c.args.includes('--offline'), 'the gateway tier runs offline')
      else t.true(c.env.some((e: Obj) => e.name === 'LIBP2P_FORCE_PNET' && e.value === '1'), `${o.metadata.name} kubo pnet`)
      t.truthy(c.livenessProbe)
      t.truthy(c.readinessProbe)
    }
  }
  for (const overlay of await overlays()) {
    for (const s of (await objects(overlay)).filter(x => x.kind === 'Service')) {
      t.true(s.spec.type === undefined || s.spec.type === 'ClusterIP', `${s.metadata.name} is ${String(s.spec.type)}`)
    }
    for (const i of (await objects(overlay)).filter(x => x.kind === 'Ingress')) {
      for (const r of i.spec.rules) for (const p of r.http.paths) t.is(p.backend.service.name, 'ipfs-gateway')
    }
  }
  // No Kubo gateway ever fetches for a visitor (the public one is the gateway tier's, offline).
  const dev = await objects('dev')
  for (const objs of [prod, dev]) {
    for (const cm of objs.filter(x => x.kind === 'ConfigMap' && /^ipfs-(node-|gateway-)?kubo-settings/.test(x.metadata.name))) t.is(cm.data.KUBO_GATEWAY_NO_FETCH, 'true', cm.metadata.name)
  }
  t.is(find(dev, 'StatefulSet', 'ipfs-kubo').spec.replicas, 1)
})

test('NetworkPolicies: default deny; Kubo RPC and Cluster API only from driver, preloader and API pods', async (t) => {
  const pols = (await objects('production')).filter(x => x.kind === 'NetworkPolicy')
  const deny = pols.find(p => p.metadata.name === 'default-deny-ingress') as Obj
  t.deepEqual(deny.spec.podSelector, {})
  t.deepEqual(deny.spec.policyTypes, ['Ingress'])
  t.is(deny.spec.ingress, undefined)
  const allowed = new Set(['ipfs-csi-controller', 'ipfs-csi-node', 'ipfs-csi-node-data', 'ipfs-csi-preloader', 'ipfs-csi-api'])
  let rpcRules = 0
  for (const p of pols) {
    for (const rule of p.spec.ingress ?? []) {
      const ports = (rule.ports ?? []).map((x: Obj) => x.port)
      if (!ports.includes(5001) && !ports.includes(9094)) continue
      rpcRules++
      t.true(rule.from.length > 0)
      for (const from of rule.from) {
        t.is(from.namespaceSelector, undefined, `${p.metadata.name}: RPC open to another namespace`)
        const publisher = from.podSelector.matchLabels['ipfs-csi.dev/gateway-publisher'] === 'true'
        t.true(allowed.has(from.podSelector.matchLabels['app.kubernetes.io/name']) || publisher, `${p.metadata.name}: RPC open to ${JSON.stringify(from)}`)
      }
    }
  }
  // ipfs-kubo (RPC, Cluster API), ipfs-csi-node-data (RPC), ipfs-gateway-kubo (RPC).
  t.is(rpcRules, 4)
})

test('secrets are referenced, never rendered', async (t) => {
  for (const overlay of await overlays()) {
    t.deepEqual((await objects(overlay)).filter(x => x.kind === 'Secret').map(x => x.metadata.name), [])
  }
})

test('hardening invariants hold in both overlays (scoped tokens, loopback or pod-IP listeners, NoFetch, no storage secret on nodes)', async (t) => {
  for (const overlay of await overlays()) t.deepEqual(await hardeningProblems(await readFile(renderedPath(overlay), 'utf8'), overlay), [])
})

test('the hardening check catches each regression it exists for', async (t) => {
  const prod = await readFile(renderedPath('production'), 'utf8')
  const found = async (text: string): Promise<string> => (await hardeningProblems(text, 'x')).map(p => p.message).join('\n')
  // Item 12: a node-local Kubo given the storage tier's tokens (they would land on the node's disk).
  t.regex(await found(prod.replace(/secretName: ipfs-node-kubo-api-tokens/g, 'secretName: ipfs-kubo-api-tokens')), /DaemonSet\/ipfs-csi-node-data kubo-init: node-local Kubo tokens come from ipfs-kubo-api-tokens/)
  t.regex(await found(prod.replace(/KUBO_SWARM_KEY_LINK: "true"/, 'KUBO_SWARM_KEY_LINK: "false"')), /swarm key would be copied/)
  t.regex(await found(prod.replace(/- name: KUBO_ALLOWED_PATHS_FILE\n\s+value: \/allowed-paths\/storage.conf\n/, '')), /StatefulSet\/ipfs-kubo kubo-init: KUBO_ALLOWED_PATHS_FILE is not set/)
  // Items 13 and 14: a fetching gateway, a gateway on every interface, a Service onto the storage gateway.
  t.regex(await found(prod.replace(/KUBO_GATEWAY_NO_FETCH: "true"/, 'KUBO_GATEWAY_NO_FETCH: "false"')), /KUBO_GATEWAY_NO_FETCH is false/)
  t.regex(await found(prod.replace('KUBO_GATEWAY_ADDR: /ip4/127.0.0.1/tcp/8080', 'KUBO_GATEWAY_ADDR: /ip4/0.0.0.0/tcp/8080')), /KUBO_GATEWAY_ADDR=\/ip4\/0\.0\.0\.0\/tcp\/8080 listens on every interface/)
  t.regex(await found(prod + '\n---\napiVersion: v1\nkind: Service\nmetadata: {name: leak}\nspec:\n  selector: {app.kubernetes.io/name: ipfs-kubo}\n  ports: [{port: 8080}]\n'), /Service\/leak: a Service exposes the storage tier's gateway/)
  // Item 15: the preloader on every interface, an image neither pinned by digest nor explained.
  t.regex(await found(prod.replace('value: $(POD_IP):9464', 'value: 0.0.0.0:9464')), /ipfs-csi-preloader preloader: listens on 0\.0\.0\.0:9464/)
  t.regex(await found(prod.replace('image: nginxinc/nginx-unprivileged:1.27.4-alpine', 'image: example.org/unknown:1.0')), /image example\.org\/unknown:1\.0 is not pinned by digest/)
  t.notRegex(await found(prod.replace('image: nginxinc/nginx-unprivileged:1.27.4-alpine', 'image: example.org/unknown@sha256:' + 'a'.repeat(64))), /unknown/)
  // Item 2: no heap limit, no volume limit on the node.
  t.regex(await found(prod.replace(/- name: IPFS_CSI_FUSE_MAX_HEAP_MIB\n\s+value: "\d+"\n/g, '')), /ipfs-csi-node ipfs-csi: IPFS_CSI_FUSE_MAX_HEAP_MIB is not set/)
  t.regex(await found(prod.replace(/- name: IPFS_CSI_MAX_VOLUMES_PER_NODE\n\s+value: "\d+"\n/g, '')), /IPFS_CSI_MAX_VOLUMES_PER_NODE is not set/)
  // Item 7: spill into /tmp, an emptyDir without a sizeLimit, a budget over it, a pod limit under it.
  t.regex(await found(prod.replace(/- name: IPFS_CSI_SPILL_DIR\n\s+value: \S+\n/g, '')), /DaemonSet\/ipfs-csi-node ipfs-csi: IPFS_CSI_SPILL_DIR is unset/)
  t.regex(await found(prod.replace(/sizeLimit: 10Gi\n(\s+name: spill)/, 'medium: ""\n$1')), /DaemonSet\/ipfs-csi-node-data fuse-host: the spill dir \/var\/lib\/ipfs-csi-spill is not an emptyDir with a sizeLimit/)
  t.regex(await found(prod.replace(/value: "8589934592"/g, 'value: "21474836480"')), /IPFS_CSI_SPILL_MAX_BYTES \(21474836480\) is larger than the spill emptyDir's sizeLimit/)
  t.regex(await found(prod.replace('ephemeral-storage: 11Gi', 'ephemeral-storage: 1Gi')), /do not cover the spill sizeLimit/)
  // Item 8: no inline policy, or one whose ConfigMap is not deployed.
  t.regex(await found(prod.replace(/- name: IPFS_CSI_INLINE_POLICY_FILE\n\s+value: \S+\n/g, '')), /IPFS_CSI_INLINE_POLICY_FILE is unset/)
  t.regex(await found(prod.replace(/name: ipfs-csi-inline-policy\n(\s+namespace)/, 'name: renamed-policy\n$1')), /the inline policy ConfigMap ipfs-csi-inline-policy is not in the render/)
})

test('the inline policy ConfigMap is empty in base (every inline volume refused) and the e2e overlay allows only its workload namespace', async (t) => {
  const policyOf = async (overlay: string): Promise<unknown> => {
    const cm = parseAllDocuments(await readFile(renderedPath(overlay), 'utf8')).map(d => d.toJS() as { kind?: string, metadata?: { name?: string }, data?: Record<string, string> })
      .find(o => o?.kind === 'ConfigMap' && o.metadata?.name === 'ipfs-csi-inline-policy')
    return parseInlinePolicy(cm?.data?.['policy.yaml'] ?? 'missing: true')
  }
  t.deepEqual(await policyOf('production'), { rules: [] })
  t.deepEqual(await policyOf('dev'), { rules: [] })
  const e2e = await policyOf('e2e') as InlineRules
  t.deepEqual(e2e.rules.map(r => [...r.namespaces]), [[WORKLOAD_NS]])
})
