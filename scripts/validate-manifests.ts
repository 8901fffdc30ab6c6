// Renders and validates deploy/: every overlay through kustomize, the rendered files against the
// pinned Kubernetes JSON schemas and the CRD schemas (kubeconform, strict), through kube-score
// (each disabled check has a written reason in deploy/lint/kube-score-ignores.json), image
// references pinned, shell scripts parsed. Offline once `make setup` ran.
//   node dist/scripts/validate-manifests.js           check (fails when deploy/rendered is stale)
//   node dist/scripts/validate-manifests.js --write   re-render deploy/rendered/<overlay>.yaml first
import { execFile } from 'node:child_process'
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parseAllDocuments } from 'yaml'

const execFileP = promisify(execFile)

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const DEPLOY = path.join(ROOT, 'deploy')
const TOOLS = path.join(ROOT, '.tools')
export const BIN = {
  kustomize: path.join(TOOLS, 'bin', 'kustomize'),
  kubeconform: path.join(TOOLS, 'bin', 'kubeconform'),
  kubeScore: path.join(TOOLS, 'bin', 'kube-score')
}
/** The Kubernetes version the manifests are validated against (scripts/setup.sh K8S_SCHEMA_VERSION). */
export const K8S_VERSION = '1.36.0'
const SCHEMAS = path.join(TOOLS, 'k8s-schemas')
const HEADER = '# Rendered by `make manifests` from deploy/overlays/%s: do not edit, edit the overlay or base.\n'

export interface Problem { file: string, message: string }

async function run (cmd: string, args: string[], opts: { cwd?: string, okCodes?: number[] } = {}): Promise<{ stdout: string, stderr: string, code: number }> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, { cwd: opts.cwd ?? ROOT, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 })
    return { stdout, stderr, code: 0 }
  } catch (err) {
    const e = err as { code?: number | string, stdout?: string, stderr?: string, message: string }
    if (typeof e.code === 'number' && (opts.okCodes ?? []).includes(e.code)) return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: e.code }
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed: ${e.stderr ?? ''}${e.message}`)
  }
}

export async function overlays (): Promise<string[]> {
  return (await readdir(path.join(DEPLOY, 'overlays'), { withFileTypes: true })).filter(d => d.isDirectory()).map(d => d.name).sort()
}

export const renderedPath = (overlay: string): string => path.join(DEPLOY, 'rendered', `${overlay}.yaml`)

/** `kustomize build` of one overlay, with the header the committed file carries. */
export async function render (overlay: string): Promise<string> {
  const { stdout } = await run(BIN.kustomize, ['build', path.join(DEPLOY, 'overlays', overlay)])
  return HEADER.replace('%s', overlay) + stdout
}

/** Rendered files that differ from a fresh render. */
export async function staleRendered (): Promise<Problem[]> {
  const problems: Problem[] = []
  for (const o of await overlays()) {
    const want = await render(o)
    const have = existsSync(renderedPath(o)) ? await readFile(renderedPath(o), 'utf8') : ''
    if (have !== want) problems.push({ file: path.relative(ROOT, renderedPath(o)), message: 'stale or missing: run `make manifests` and commit deploy/rendered/' })
  }
  return problems
}

export async function writeRendered (): Promise<void> {
  await mkdir(path.join(DEPLOY, 'rendered'), { recursive: true })
  for (const o of await overlays()) await writeFile(renderedPath(o), await render(o))
}

/** Example manifests (deploy/examples/*.yaml). */
export async function exampleFiles (): Promise<string[]> {
  const dir = path.join(DEPLOY, 'examples')
  return (await readdir(dir)).filter(f => f.endsWith('.yaml')).sort().map(f => path.join(dir, f))
}

type Json = Record<string, unknown>

/** Object schemas become strict (unknown fields rejected) unless they preserve unknown fields. */
function strictify (node: unknown): void {
  if (Array.isArray(node)) { node.forEach(strictify); return }
  if (node === null || typeof node !== 'object') return
  const o = node as Json
  if (o.properties !== undefined && o.additionalProperties === undefined && o['x-kubernetes-preserve-unknown-fields'] !== true) o.additionalProperties = false
  for (const v of Object.values(o)) strictify(v)
}

/**
 * CRD YAML (from the external-snapshotter and prometheus-operator modules, copied by setup.sh)
 * → JSON schemas laid out as `<group>/<kind>_<version>.json` for kubeconform.
 */
export async function writeCrdSchemas (outDir: string): Promise<number> {
  const crdDir = path.join(SCHEMAS, 'crds')
  let n = 0
  for (const f of (await readdir(crdDir)).filter(f => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(await readFile(path.join(crdDir, f), 'utf8'))) {
      const crd = doc.toJS() as { kind?: string, spec?: { group: string, names: { kind: string }, versions: Array<{ name: string, schema?: { openAPIV3Schema?: Json } }> } }
      if (crd?.kind !== 'CustomResourceDefinition' || crd.spec === undefined) continue
      for (const v of crd.spec.versions) {
        const schema = v.schema?.openAPIV3Schema
        if (schema === undefined) continue
        strictify(schema)
        const dir = path.join(outDir, crd.spec.group)
        await mkdir(dir, { recursive: true })
        await writeFile(path.join(dir, `${crd.spec.names.kind.toLowerCase()}_${v.name}.json`), JSON.stringify(schema))
        n++
      }
    }
  }
  return n
}

/** kubeconform, strict, every resource must have a schema (missing schema = error). */
export async function validateSchemas (files: string[]): Promise<Problem[]> {
  const crdDir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-crd-schemas-'))
  try {
    if (await writeCrdSchemas(crdDir) === 0) throw new Error('no CRD schemas: run make setup')
    const { stdout } = await run(BIN.kubeconform, [
      '-strict', '-summary', '-output', 'json', '-kubernetes-version', K8S_VERSION,
      '-schema-location', path.join(SCHEMAS, `v${K8S_VERSION}-local-strict`, '{{.ResourceKind}}{{.KindSuffix}}.json'),
      '-schema-location', path.join(crdDir, '{{.Group}}', '{{.ResourceKind}}_{{.ResourceAPIVersion}}.json'),
      ...files
    ], { okCodes: [1] })
    const report = JSON.parse(stdout) as { resources?: Array<{ filename: string, kind: string, name: string, status: string, msg: string }>, summary: { valid: number, invalid: number, errors: number, skipped: number } }
    const problems: Problem[] = (report.resources ?? [])
      .filter(r => r.status !== 'statusValid')
      .map(r => ({ file: path.relative(ROOT, r.filename), message: `${r.kind} ${r.name}: ${r.status} ${r.msg}` }))
    if (report.summary.valid === 0) problems.push({ file: files.join(' '), message: 'no resource validated' })
    return problems
  } finally {
    await rm(crdDir, { recursive: true, force: true })
  }
}

interface KubeScoreIgnores {
  /** check id → reason, disabled for every object */
  global: Record<string, string>
  /** "Kind/name" → check id → reason, disabled by that object's kube-score/ignore annotation */
  objects: Record<string, Record<string, string>>
  /** overlay → "Kind/name" → check id → reason: disabled in that overlay's rendering only */
  overlays?: Record<string, Record<string, Record<string, string>>>
}

/** kube-score checks we disable, each with its reason (deploy/lint/kube-score-ignores.json). */
export async function kubeScoreIgnores (): Promise<KubeScoreIgnores> {
  return JSON.parse(await readFile(path.join(DEPLOY, 'lint', 'kube-score-ignores.json'), 'utf8')) as KubeScoreIgnores
}

const hasReason = (r: unknown): boolean => typeof r === 'string' && r.trim().length >= 40

/**
 * kube-score: any CRITICAL or WARNING result of a check we did not disable fails. Every
 * `kube-score/ignore` annotation must match the reasons file exactly, and every reason be real.
 */
export async function lint (files: string[]): Promise<Problem[]> {
  const ignores = await kubeScoreIgnores()
  const problems: Problem[] = []
  const args = ['score', '--output-format', 'ci', '--kubernetes-version', `v${K8S_VERSION.split('.').slice(0, 2).join('.')}`]
  for (const [check, reason] of Object.entries(ignores.global)) {
    if (!hasReason(reason)) problems.push({ file: 'deploy/lint/kube-score-ignores.json', message: `${check} is disabled without a real reason` })
    args.push('--ignore-test', check)
  }
  for (const f of files) {
    const overlay = path.basename(f, '.yaml')
    for (const doc of parseAllDocuments(await readFile(f, 'utf8'))) {
      const o = doc.toJS() as { kind?: string, metadata?: { name?: string, annotations?: Record<string, string> } } | null
      const key = `${o?.kind ?? ''}/${o?.metadata?.name ?? ''}`
      const annotated = (o?.metadata?.annotations?.['kube-score/ignore'] ?? '').split(',').map(x => x.trim()).filter(x => x !== '').sort()
      const listed = { ...ignores.objects[key], ...ignores.overlays?.[overlay]?.[key] }
      if (annotated.join(',') !== Object.keys(listed).sort().join(',')) problems.push({ file: path.relative(ROOT, f), message: `${key}: kube-score/ignore [${annotated.join(', ')}] differs from deploy/lint/kube-score-ignores.json [${Object.keys(listed).join(', ')}]` })
      for (const [check, reason] of Object.entries(listed)) if (!hasReason(reason)) problems.push({ file: 'deploy/lint/kube-score-ignores.json', message: `${key}: ${check} is disabled without a real reason` })
    }
  }
  const { stdout } = await run(BIN.kubeScore, [...args, ...files], { okCodes: [1] })
  for (const l of stdout.split('\n')) if (/^\[(CRITICAL|WARNING)\]/.test(l)) problems.push({ file: 'kube-score', message: l })
  return problems
}

/** Every container image is `name:tag` (or a digest) with a version tag, never `latest`. */
export function unpinnedImages (text: string, file: string): Problem[] {
  const problems: Problem[] = []
  for (const doc of parseAllDocuments(text)) {
    const images: string[] = []
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk)
      else if (node !== null && typeof node === 'object') {
        for (const [k, v] of Object.entries(node as Json)) {
          if (k === 'image' && typeof v === 'string') images.push(v)
          else walk(v)
        }
      }
    }
    walk(doc.toJS())
    for (const img of images) {
      const digest = /@sha256:[0-9a-f]{64}$/.test(img)
      const tag = /^[^@]+:([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/.exec(img.replace(/^[^/]+:\d+\//, 'host/'))?.[1]
      if (!digest && (tag === undefined || tag === 'latest' || !/\d/.test(tag))) problems.push({ file, message: `image ${img} is not pinned to a version tag or digest` })
    }
  }
  return problems
}

interface K8sObject { kind?: string, metadata?: { name?: string }, data?: Record<string, string>, spec?: Json }
interface Container { name: string, image?: string, args?: string[], env?: Array<{ name: string, value?: string }>, envFrom?: Array<{ configMapRef?: { name: string } }>, volumeMounts?: Array<{ name: string, mountPath: string }>, resources?: { limits?: Record<string, string> } }
interface Volume { name: string, secret?: { secretName: string }, emptyDir?: { sizeLimit?: string }, configMap?: { name: string } }
interface PodSpec { containers?: Container[], initContainers?: Container[], volumes?: Volume[] }

function podSpecOf (o: K8sObject): PodSpec | undefined {
  const spec = o.spec as { template?: { spec?: PodSpec }, jobTemplate?: { spec?: { template?: { spec?: PodSpec } } } } | undefined
  return spec?.template?.spec ?? spec?.jobTemplate?.spec?.template?.spec
}

/** A container's environment as Kubernetes gives it: envFrom ConfigMaps (by rendered name), then env. */
function effectiveEnv (c: Container, configMaps: Map<string, Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const f of c.envFrom ?? []) if (f.configMapRef !== undefined) Object.assign(env, configMaps.get(f.configMapRef.name) ?? {})
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value
  return env
}

/** Secret mounted at a container path (undefined when none). */
function secretAt (spec: PodSpec, c: Container, dir: string): string | undefined {
  const m = (c.volumeMounts ?? []).find(v => v.mountPath === dir)
  return m === undefined ? undefined : spec.volumes?.find(v => v.name === m.name)?.secret?.secretName
}

/** A Kubernetes quantity (`10Gi`, `500M`, `1073741824`) in bytes; NaN when unreadable. */
export function quantityBytes (q: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.exec(q ?? '')
  if (m === null) return Number.NaN
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 }[m[2] ?? ''] ?? 1
  return Math.floor(Number(m[1]) * unit)
}

/** The volume mounted at `dir` in `c` (the longest mount path that holds it). */
function volumeAt (spec: PodSpec, c: Container, dir: string): Volume | undefined {
  const m = (c.volumeMounts ?? []).filter(v => dir === v.mountPath || dir.startsWith(v.mountPath.replace(/\/$/, '') + '/')).sort((a, b) => b.mountPath.length - a.mountPath.length)[0]
  return m === undefined ? undefined : spec.volumes?.find(v => v.name === m.name)
}

/**
 * Issue 12 items 2 and 8 on the node service: the FUSE servers' heap limit and the node's
 * volume limit are set, inline volumes are checked against a policy ConfigMap that is mounted,
 * and the spill settings the FUSE servers get are set (returned for spillProblems).
 */
function nodeServiceProblems (spec: PodSpec, c: Container, env: Record<string, string>, configMaps: Map<string, Record<string, string>>, bad: (message: string) => void): { dir: string, budget: number } | undefined {
  if (!(Number(env.IPFS_CSI_FUSE_MAX_HEAP_MIB) > 0)) bad('IPFS_CSI_FUSE_MAX_HEAP_MIB is not set: a FUSE server\'s heap is bounded only by the container')
  if (!(Number(env.IPFS_CSI_MAX_VOLUMES_PER_NODE) > 0)) bad('IPFS_CSI_MAX_VOLUMES_PER_NODE is not set: the scheduler may put any number of volumes (FUSE servers) on a node')
  const policyFile = env.IPFS_CSI_INLINE_POLICY_FILE
  const policy = policyFile === undefined ? undefined : volumeAt(spec, c, policyFile)
  if (policy?.configMap === undefined) bad(`IPFS_CSI_INLINE_POLICY_FILE ${policyFile ?? 'is unset'}: inline volumes need a policy mounted from a ConfigMap`)
  else if (!configMaps.has(policy.configMap.name)) bad(`the inline policy ConfigMap ${policy.configMap.name} is not in the render`)
  const dir = env.IPFS_CSI_SPILL_DIR
  const budget = Number(env.IPFS_CSI_SPILL_MAX_BYTES)
  if (dir === undefined) bad('IPFS_CSI_SPILL_DIR is unset: spill files would land in the FUSE servers\' shared /tmp')
  if (!(budget > 0)) bad(`IPFS_CSI_SPILL_MAX_BYTES is ${env.IPFS_CSI_SPILL_MAX_BYTES ?? 'unset'}: set the node's spill budget`)
  return dir !== undefined && budget > 0 ? { dir, budget } : undefined
}

/**
 * Item 7 where the FUSE servers run (fuse-host): the spill dir is an emptyDir of its own with a
 * sizeLimit the budget fits under, and the pod's ephemeral-storage limits cover that sizeLimit
 * (or kubelet evicts the pod before the budget refuses a write).
 */
function spillProblems (spec: PodSpec, c: Container, spill: { dir: string, budget: number }, bad: (message: string) => void): void {
  const vol = volumeAt(spec, c, spill.dir)
  const sizeLimit = quantityBytes(vol?.emptyDir?.sizeLimit)
  if (vol?.emptyDir === undefined || !Number.isFinite(sizeLimit)) { bad(`the spill dir ${spill.dir} is not an emptyDir with a sizeLimit here`); return }
  if (spill.budget > sizeLimit) bad(`IPFS_CSI_SPILL_MAX_BYTES (${spill.budget}) is larger than the spill emptyDir's sizeLimit (${sizeLimit})`)
  const podLimit = (spec.containers ?? []).reduce((sum, x) => sum + quantityBytes(x.resources?.limits?.['ephemeral-storage'] ?? 'NaN'), 0)
  if (!(podLimit >= sizeLimit)) bad(`the pod's ephemeral-storage limits (${podLimit}) do not cover the spill sizeLimit (${sizeLimit}): kubelet would evict the pod before the spill budget refuses a write`)
}

const ANY_ADDR = /\/ip4\/0\.0\.0\.0\/|\/ip6\/::\//

/**
 * Security invariants of issue 12 (items 2, 7, 8, 12-15) that live in the manifests: every Kubo token is
 * scoped (AllowedPaths file), node-local Kubos hold no storage-tier secret on disk, Kubo gateways
 * and APIs never listen on every interface and never fetch for a visitor, nothing routes the
 * public to the storage tier, listeners bind the pod IP, images are pinned by digest or carry a
 * written reason why not.
 */
export async function hardeningProblems (text: string, file: string): Promise<Problem[]> {
  const objects = parseAllDocuments(text).map(d => d.toJS() as K8sObject).filter(o => o !== null)
  const configMaps = new Map(objects.filter(o => o.kind === 'ConfigMap').map(o => [o.metadata?.name ?? '', o.data ?? {}]))
  const unpinned = JSON.parse(await readFile(path.join(DEPLOY, 'lint', 'unpinned-images.json'), 'utf8')) as Record<string, string>
  const problems: Problem[] = []
  const bad = (o: K8sObject, c: Container | undefined, message: string): void => { problems.push({ file, message: `${o.kind ?? ''}/${o.metadata?.name ?? ''}${c !== undefined ? ` ${c.name}` : ''}: ${message}` }) }
  let kuboInits = 0
  let spill: { dir: string, budget: number } | undefined
  const fuseHosts: Array<{ o: K8sObject, spec: PodSpec, c: Container }> = []
  for (const o of objects) {
    if (o.kind === 'Ingress') {
      const text = JSON.stringify(o.spec ?? {})
      if (/"name":"ipfs-kubo|"name":"ipfs-gateway-kubo/.test(text)) bad(o, undefined, 'an Ingress routes straight to Kubo (the public reaches Kubo only through the gateway nginx)')
    }
    if (o.kind === 'Service') {
      const sel = (o.spec as { selector?: Record<string, string> } | undefined)?.selector ?? {}
      const ports = ((o.spec as { ports?: Array<{ port: number }> } | undefined)?.ports ?? []).map(p => p.port)
      if (sel['app.kubernetes.io/name'] === 'ipfs-kubo' && ports.includes(8080)) bad(o, undefined, 'a Service exposes the storage tier\'s gateway (it serves every tenant\'s data)')
    }
    const spec = podSpecOf(o)
    if (spec === undefined) continue
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      const img = c.image ?? ''
      if (!/@sha256:[0-9a-f]{64}$/.test(img)) {
        const reason = unpinned[img.replace(/@.*$/, '').replace(/:[A-Za-z0-9_][A-Za-z0-9_.-]*$/, '')]
        if (reason === undefined || reason.trim().length < 40) bad(o, c, `image ${img} is not pinned by digest and deploy/lint/unpinned-images.json gives no reason`)
      }
      const env = effectiveEnv(c, configMaps)
      if (o.kind === 'DaemonSet' && env.IPFS_CSI_MODE === 'node') spill = nodeServiceProblems(spec, c, env, configMaps, (m) => bad(o, c, m)) ?? spill
      if (o.kind === 'DaemonSet' && c.args?.[0] === 'fuse-host') fuseHosts.push({ o, spec, c })
      if (env.IPFS_CSI_LISTEN !== undefined && !/^\$\(POD_IP\):\d+$|^127\.0\.0\.1:\d+$/.test(env.IPFS_CSI_LISTEN)) bad(o, c, `listens on ${env.IPFS_CSI_LISTEN}: bind the pod IP ($(POD_IP):PORT) or loopback`)
      if (!(c.volumeMounts ?? []).some(v => v.mountPath === '/scripts') || !(c.name === 'kubo-init')) continue
      kuboInits++
      if (env.KUBO_ALLOWED_PATHS_FILE === undefined) bad(o, c, 'KUBO_ALLOWED_PATHS_FILE is not set: every token would need a line, kubo-init.sh refuses to start')
      for (const k of ['KUBO_API_ADDR', 'KUBO_GATEWAY_ADDR']) if (env[k] !== undefined && ANY_ADDR.test(env[k])) bad(o, c, `${k}=${env[k]} listens on every interface`)
      if (env.KUBO_GATEWAY_NO_FETCH !== 'true') bad(o, c, `KUBO_GATEWAY_NO_FETCH is ${env.KUBO_GATEWAY_NO_FETCH ?? 'unset'}: a Kubo gateway must never fetch for a visitor`)
      if (o.kind === 'DaemonSet') {
        // Node-local repos are hostPaths: their config and swarm.key outlive the pod on the node's disk.
        const tokens = secretAt(spec, c, env.KUBO_TOKENS_DIR ?? '')
        if (tokens === undefined || tokens === 'ipfs-kubo-api-tokens') bad(o, c, `node-local Kubo tokens come from ${tokens ?? 'nowhere'}: a storage-tier token would be written to the node's disk`)
        if (env.KUBO_SWARM_KEY_LINK !== 'true') bad(o, c, 'KUBO_SWARM_KEY_LINK is not true: the swarm key would be copied to the node\'s disk')
      }
    }
  }
  if (kuboInits === 0) problems.push({ file, message: 'no kubo-init container found: the hardening checks checked nothing' })
  if (fuseHosts.length === 0) problems.push({ file, message: 'no fuse-host container found: the spill checks checked nothing' })
  for (const h of fuseHosts) if (spill !== undefined) spillProblems(h.spec, h.c, spill, (m) => bad(h.o, h.c, m))
  return problems
}

/** `sh -n` on the scripts the manifests ship (syntax only; the Kubo test runs kubo-init.sh). */
export async function shellSyntax (): Promise<Problem[]> {
  const problems: Problem[] = []
  for (const f of ['deploy/base/kubo/kubo-init.sh', 'deploy/base/kubo/cluster-start.sh', 'deploy/scripts/generate-secrets.sh']) {
    try { await run('sh', ['-n', path.join(ROOT, f)]) } catch (err) { problems.push({ file: f, message: (err as Error).message }) }
  }
  return problems
}

export async function validateAll (): Promise<Problem[]> {
  const rendered = (await overlays()).map(renderedPath)
  const examples = await exampleFiles()
  const problems: Problem[] = [...await staleRendered(), ...await shellSyntax()]
  problems.push(...await validateSchemas([...rendered.filter(f => existsSync(f)), ...examples]))
  problems.push(...await lint(rendered.filter(f => existsSync(f))))
  for (const f of [...rendered, ...examples]) if (existsSync(f)) problems.push(...unpinnedImages(await readFile(f, 'utf8'), path.relative(ROOT, f)))
  for (const f of rendered) if (existsSync(f)) problems.push(...await hardeningProblems(await readFile(f, 'utf8'), path.relative(ROOT, f)))
  return problems
}

async function main (): Promise<number> {
  const t0 = Date.now()
  if (process.argv.includes('--write')) await writeRendered()
  const problems = await validateAll()
  for (const p of problems) console.error(`${p.file}: ${p.message}`)
  console.log(problems.length === 0
    ? `deploy/: ${(await overlays()).join(', ')} rendered, schema-valid (Kubernetes ${K8S_VERSION} + CRDs), lint-clean, images pinned (${Date.now() - t0} ms)`
    : `deploy/: ${problems.length} problem(s)`)
  return problems.length === 0 ? 0 : 1
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(code => { process.exitCode = code }, (err: Error) => { console.error(err.message); process.exitCode = 2 })
}
