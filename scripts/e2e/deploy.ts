// Installs deploy/overlays/e2e into the e2e cluster: the generated secrets
// (deploy/scripts/generate-secrets.sh, peer addresses rewritten to the loopback ports), hostPath
// volumes for the storage StatefulSet, then the rendered overlay, and waits until the plugin is
// registered with kubelet and every workload of deploy/ is ready.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { parseAllDocuments } from 'yaml'
import { type ClusterPaths, NODE_NAME, createLocalPvs, kubectl, waitUntil } from './cluster.js'
import { createGatewayTls } from './gateway.js'
import { type ImageDigests, imageRepo } from './images.js'

export const NAMESPACE = 'ipfs-csi'

/** Ports of deploy/ as the e2e overlay leaves them (all pods share the run's network namespace). */
export const E2E_PORTS = { storageSwarm: 4001, storageApi: 5001, clusterSwarm: 9096, preloader: 9464 } as const

export interface Installed {
  /** Bearer token of the storage Kubo's `node` client, whose allowed paths include `add` (test content). */
  driverToken: string
}

type Log = (msg: string) => void

/**
 * deploy/overlays/e2e with every image pinned by the digest it was imported under, the way a
 * release pins deploy/ (an overlay of `images:` with `digest:`, docs/security.md item 15): a
 * throw-away kustomization under the cluster root that names the e2e overlay as its resource.
 */
function kustomizeBuild (repo: string, root: string, digests: ImageDigests, opts: InstallOptions): string {
  const dir = path.join(root, 'release-overlay')
  mkdirSync(dir, { recursive: true })
  const images = Object.entries(digests).map(([name, digest]) => `  - {name: ${imageRepo(name)}, digest: "${digest}"}`)
  // A run-specific inline policy replaces the overlay's (the node plugin reads it at start).
  const policy: string[] = []
  if (opts.inlinePolicy !== undefined) {
    writeFileSync(path.join(dir, 'inline-policy.yaml'), opts.inlinePolicy)
    policy.push('configMapGenerator:', '  - name: ipfs-csi-inline-policy', '    behavior: replace', '    options: {disableNameSuffixHash: true}', '    files: [policy.yaml=inline-policy.yaml]')
  }
  writeFileSync(path.join(dir, 'kustomization.yaml'), [
    'apiVersion: kustomize.config.k8s.io/v1beta1', 'kind: Kustomization',
    'resources:', `  - ${path.relative(dir, path.join(repo, 'deploy/overlays/e2e'))}`,
    'images:', ...images, ...policy, ''].join('\n'))
  return execFileSync(path.join(repo, '.tools/bin/kustomize'), ['build', '--load-restrictor', 'LoadRestrictionsNone', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
}

interface PodImages { metadata: { name: string }, spec: { containers: Array<{ name: string, image: string }>, initContainers?: Array<{ name: string, image: string }> }, status: { containerStatuses?: Array<{ name: string, imageID: string }>, initContainerStatuses?: Array<{ name: string, imageID: string }> } }

/** Every container of deploy/ names its image by digest, and runs the image of that digest. */
export function checkImagesPinned (p: ClusterPaths, digests: ImageDigests): number {
  const known = new Set(Object.values(digests))
  const pods = (JSON.parse(kubectl(p, ['-n', NAMESPACE, 'get', 'pods', '-o', 'json'])) as { items: PodImages[] }).items
  const problems: string[] = []
  let n = 0
  for (const pod of pods) {
    const statuses = [...(pod.status.initContainerStatuses ?? []), ...(pod.status.containerStatuses ?? [])]
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      n++
      const digest = /@(sha256:[0-9a-f]{64})$/.exec(c.image)?.[1]
      const ran = statuses.find((st) => st.name === c.name)?.imageID ?? ''
      if (digest === undefined || !known.has(digest)) problems.push(`${pod.metadata.name}/${c.name}: image ${c.image} is not pinned by the digest of an imported image`)
      else if (!ran.endsWith(digest)) problems.push(`${pod.metadata.name}/${c.name}: runs ${ran || 'nothing yet'}, not ${digest}`)
    }
  }
  if (problems.length > 0) throw new Error(`images not pinned by digest:\n${problems.join('\n')}`)
  return n
}

/** Secrets for one storage replica, with the peers ConfigMap pointing at the loopback ports. */
function secrets (repo: string): string {
  const yaml = execFileSync('sh', [path.join(repo, 'deploy/scripts/generate-secrets.sh'), '-n', NAMESPACE, '-r', '1'], {
    encoding: 'utf8', env: { ...process.env, PATH: `${path.join(repo, '.tools/bin')}:${process.env.PATH ?? ''}` }
  })
  // No cluster DNS here: /dns4/ipfs-kubo-0.ipfs-kubo…/tcp/4001 becomes the replica's loopback port.
  return yaml
    .replace(/\/dns4\/ipfs-kubo-0\.ipfs-kubo\.[a-z0-9.-]+\/tcp\/4001\//g, `/ip4/127.0.0.1/tcp/${E2E_PORTS.storageSwarm}/`)
    .replace(/\/dns4\/ipfs-kubo-0\.ipfs-kubo\.[a-z0-9.-]+\/tcp\/9096\//g, `/ip4/127.0.0.1/tcp/${E2E_PORTS.clusterSwarm}/`)
}

function readyCount (p: ClusterPaths, kind: string, name: string): boolean {
  const j = JSON.parse(kubectl(p, ['-n', NAMESPACE, 'get', kind, name, '-o', 'json'])) as { spec: { replicas?: number }, status: Record<string, number | undefined> }
  if (kind === 'daemonset') return (j.status.desiredNumberScheduled ?? 0) > 0 && j.status.numberReady === j.status.desiredNumberScheduled
  return (j.status.readyReplicas ?? 0) >= (j.spec.replicas ?? 1)
}

export interface InstallOptions {
  /** The inline ephemeral volume policy (node-plugin/inline-policy.ts) instead of deploy/overlays/e2e's. */
  inlinePolicy?: string
}

export async function installDeploy (p: ClusterPaths, repo: string, log: Log, digests: ImageDigests, opts: InstallOptions = {}): Promise<Installed> {
  const t0 = Date.now()
  const rendered = kustomizeBuild(repo, p.root, digests, opts)
  // The namespace first (secrets live in it), then secrets, volumes and everything else.
  kubectl(p, ['create', 'namespace', NAMESPACE])
  const sec = secrets(repo)
  kubectl(p, ['apply', '-f', '-'], sec)
  createLocalPvs(p, [
    { name: 'repo-ipfs-kubo-0', namespace: NAMESPACE, size: '10Gi', uid: 10001 },
    { name: 'cluster-ipfs-kubo-0', namespace: NAMESPACE, size: '1Gi', uid: 10001 },
    { name: 'repo-ipfs-gateway-kubo-0', namespace: NAMESPACE, size: '100Gi', uid: 10001 }
  ])
  createGatewayTls(p)
  kubectl(p, ['apply', '-f', '-'], rendered)
  log(`deploy/overlays/e2e applied (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
  await waitUntil('storage Kubo + IPFS Cluster ready', 300_000, () => readyCount(p, 'statefulset', 'ipfs-kubo') ? true : undefined, 2000)
  log(`storage tier ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
  await waitUntil('node data plane (fuse-host + node Kubo) ready', 300_000, () => readyCount(p, 'daemonset', 'ipfs-csi-node-data') ? true : undefined, 2000)
  await waitUntil('node plugin ready', 300_000, () => readyCount(p, 'daemonset', 'ipfs-csi-node') ? true : undefined, 2000)
  await waitUntil('controller ready', 300_000, () => readyCount(p, 'deployment', 'ipfs-csi-controller') ? true : undefined, 2000)
  await waitUntil('preloader ready', 300_000, () => readyCount(p, 'daemonset', 'ipfs-csi-preloader') ? true : undefined, 2000)
  await waitUntil('API and its Redis ready', 300_000, () => readyCount(p, 'deployment', 'ipfs-csi-api-redis') && readyCount(p, 'deployment', 'ipfs-csi-api') ? true : undefined, 2000)
  await waitUntil('gateway Kubo and nginx ready', 300_000, () => readyCount(p, 'statefulset', 'ipfs-gateway-kubo') && readyCount(p, 'deployment', 'ipfs-gateway') ? true : undefined, 2000)
  await waitUntil('ipfs.csi.dev registered with kubelet (CSINode)', 120_000, () => {
    const drivers = kubectl(p, ['get', 'csinode', NODE_NAME, '-o', 'jsonpath={.spec.drivers[*].name}']).trim().split(/\s+/)
    return drivers.includes('ipfs.csi.dev') ? true : undefined
  }, 1000)
  log(`driver installed and registered with kubelet (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
  const tokens = parseAllDocuments(sec).map((d) => d.toJS() as { kind?: string, metadata?: { name?: string }, data?: Record<string, string> })
    .find((d) => d?.kind === 'Secret' && d.metadata?.name === 'ipfs-kubo-api-tokens')
  const token = tokens?.data?.node
  if (token === undefined) throw new Error('no `node` token in Secret ipfs-kubo-api-tokens of the generated secrets')
  return { driverToken: Buffer.from(token, 'base64').toString('utf8') }
}

/** Every pod's logs (all containers, previous instances too), descriptions and events, into dir. */
export function collectLogs (p: ClusterPaths, dir: string, log: Log): void {
  const write = (file: string, fn: () => string): void => {
    try { execFileSync('mkdir', ['-p', dir]); execFileSync('tee', [path.join(dir, file)], { input: fn(), stdio: ['pipe', 'ignore', 'ignore'] }) } catch (err) { log(`log ${file}: ${(err as Error).message.split('\n')[0] ?? ''}`) }
  }
  for (const f of (() => { try { return readdirSync(p.logs) } catch { return [] } })()) {
    write(`host-${f}`, () => readFileSync(path.join(p.logs, f), 'utf8'))
  }
  interface Status { name: string, restartCount: number }
  let pods: Array<{ ns: string, name: string, containers: Status[] }> = []
  try {
    const j = JSON.parse(kubectl(p, ['get', 'pods', '-A', '-o', 'json'])) as { items: Array<{ metadata: { namespace: string, name: string }, status: { containerStatuses?: Status[], initContainerStatuses?: Status[] } }> }
    pods = j.items.map((i) => ({ ns: i.metadata.namespace, name: i.metadata.name, containers: [...(i.status.initContainerStatuses ?? []), ...(i.status.containerStatuses ?? [])] }))
  } catch {}
  for (const pod of pods) {
    for (const c of pod.containers) {
      write(`pod-${pod.ns}-${pod.name}-${c.name}.log`, () => kubectl(p, ['-n', pod.ns, 'logs', pod.name, '-c', c.name]))
      if (c.restartCount > 0) write(`pod-${pod.ns}-${pod.name}-${c.name}.previous.log`, () => kubectl(p, ['-n', pod.ns, 'logs', pod.name, '-c', c.name, '--previous']))
    }
  }
  write('describe-pods.txt', () => kubectl(p, ['describe', 'pods', '-A']))
  write('events.txt', () => kubectl(p, ['get', 'events', '-A', '--sort-by=.lastTimestamp']))
  write('objects.yaml', () => kubectl(p, ['get', 'pv,pvc,volumesnapshot,volumesnapshotcontent,csinode,volumeattachment,pods', '-A', '-o', 'yaml']))
}
