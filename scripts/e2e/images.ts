// Local images for the e2e cluster, written as OCI archives and imported into its containerd
// (no registry is reachable here). Each image is a few plain tar layers of files taken from this
// machine: busybox-static for a shell, the Go tools built under .tools/, Debian's node runtime.
// The project image follows deploy/image/Dockerfile's final stage (PROJECT_IMAGE below); a unit
// test fails when the two drift apart.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, createReadStream, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync, statSync, chmodSync } from 'node:fs'
import path from 'node:path'

export const E2E_REGISTRY = 'localhost/ipfs-csi-e2e'

/** Image names used by deploy/overlays/e2e (kustomize `images:`), one per locally built image. */
export const IMAGES = {
  pause: `${E2E_REGISTRY}/pause:3.10`,
  busybox: `${E2E_REGISTRY}/busybox:1.35`,
  project: `${E2E_REGISTRY}/ipfs-csi:0.1.0`,
  kubo: `${E2E_REGISTRY}/kubo:v0.43.0`,
  cluster: `${E2E_REGISTRY}/ipfs-cluster:v1.1.0`,
  nginx: `${E2E_REGISTRY}/nginx:1.22`,
  provisioner: `${E2E_REGISTRY}/csi-provisioner:v6.4.0`,
  snapshotter: `${E2E_REGISTRY}/csi-snapshotter:v8.7.0`,
  snapshotController: `${E2E_REGISTRY}/snapshot-controller:v8.7.0`
} as const

/**
 * The Dockerfile's final stage, as data: what is copied from the build stage (after `npm prune
 * --omit=dev`, without dist/test and dist/scripts), the Debian packages it installs, and the
 * image config. test/unit/e2e-image-spec.test.ts parses the Dockerfile and compares.
 */
export const PROJECT_IMAGE = {
  nodeMajor: 20,
  workdir: '/opt/ipfs-csi',
  copies: ['package.json', 'node_modules', 'dist', 'proto/csi.proto', 'proto/pluginregistration.proto'],
  removedFromDist: ['dist/test', 'dist/scripts'],
  packages: ['libfuse2', 'fuse', 'tini', 'redis-server'],
  cliLink: { from: '/usr/local/bin/ipfs-csi', to: '/opt/ipfs-csi/dist/driver/cli.js' },
  env: { NODE_ENV: 'production' },
  user: '65532:65532',
  entrypoint: ['/usr/bin/tini', '--', 'node', '/opt/ipfs-csi/dist/driver/cli.js'],
  cmd: ['--help']
} as const

export interface ImageConfig { entrypoint?: string[], cmd?: string[], env?: Record<string, string>, user?: string, workdir?: string }
export interface ImageDef { name: string, layers: string[], config: ImageConfig }

const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

function sh (cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, ...opts })
}

async function sha256File (file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer)
  return h.digest('hex')
}

/** Copies a host file into root at the same path (or at dest), following symlinks. */
export function put (root: string, src: string, dest = src, mode?: number): void {
  const target = path.join(root, dest)
  mkdirSync(path.dirname(target), { recursive: true })
  cpSync(realpathSync(src), target, { dereference: true })
  if (mode !== undefined) chmodSync(target, mode)
}

/** A binary and every shared library ldd says it loads, at their host paths. */
export function putDynamic (root: string, binary: string, dest = binary): void {
  put(root, binary, dest)
  let out = ''
  try { out = sh('ldd', [binary]) } catch { return } // static: nothing more to copy
  for (const line of out.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)
    if (m?.[1] !== undefined) put(root, m[1])
  }
}

function link (root: string, target: string, at: string): void {
  const p = path.join(root, at)
  mkdirSync(path.dirname(p), { recursive: true })
  rmSync(p, { force: true })
  symlinkSync(target, p)
}

/** busybox-static with every applet linked, /tmp, and passwd/group naming the users the manifests run as. */
export function baseLayer (root: string): void {
  put(root, '/bin/busybox', '/bin/busybox', 0o755)
  for (const applet of sh('/bin/busybox', ['--list']).split('\n').filter((a) => a !== '' && a !== 'busybox')) {
    const at = `/bin/${applet}`
    if (!existsSync(path.join(root, at))) link(root, 'busybox', at)
  }
  for (const d of ['tmp', 'etc', 'var/run', 'root']) mkdirSync(path.join(root, d), { recursive: true })
  chmodSync(path.join(root, 'tmp'), 0o1777)
  writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nipfs:x:10001:10001::/data:/bin/sh\nnginx:x:10101:10101::/tmp:/bin/sh\nnonroot:x:65532:65532::/tmp:/bin/sh\n')
  writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nipfs:x:10001:\nnginx:x:10101:\nnonroot:x:65532:\n')
  writeFileSync(path.join(root, 'etc/nsswitch.conf'), 'hosts: files dns\n')
}

/** The project: Debian's node 20 runtime, libfuse2, fusermount and tini, then the app as the Dockerfile copies it. */
function projectLayers (repo: string, runtime: string, app: string): void {
  const major = Number(/^v(\d+)/.exec(sh('node', ['--version']).trim())?.[1])
  if (major !== PROJECT_IMAGE.nodeMajor) throw new Error(`node ${PROJECT_IMAGE.nodeMajor} expected on this machine for the project image, found ${major}`)
  putDynamic(runtime, realpathSync(process.execPath), '/usr/local/bin/node')
  putDynamic(runtime, '/usr/bin/tini')
  // fuse-native dlopens libfuse.so.2 (libfuse2), copied under its soname.
  const libfuse = sh('sh', ['-c', "ldconfig -p | sed -n 's/.*libfuse\\.so\\.2 .*=> //p' | head -1"]).trim()
  if (libfuse === '') throw new Error('libfuse.so.2 not found: run make setup')
  put(runtime, libfuse)
  putDynamic(runtime, '/bin/fusermount')
  // The Dockerfile's Debian base brings util-linux and coreutils: the driver runs mount(8) (whose
  // `--bind -o ro` also remounts read-only; busybox's does not), umount(8) and stat(1).
  for (const tool of ['/usr/bin/mount', '/usr/bin/umount', '/usr/bin/stat']) putDynamic(runtime, tool)
  // util-linux's setpriv too: fuse-host starts FUSE servers through it for no_new_privs (--fuse-run-as).
  putDynamic(runtime, '/usr/bin/setpriv')
  // redis-server: the API's shared rate-limit store runs from this image (deploy/base/api); the
  // Debian package depends on redis-tools, whose redis-cli its readiness probe runs.
  putDynamic(runtime, '/usr/bin/redis-server')
  putDynamic(runtime, '/usr/bin/redis-cli')
  const dest = path.join(app, PROJECT_IMAGE.workdir.slice(1))
  mkdirSync(dest, { recursive: true })
  for (const c of PROJECT_IMAGE.copies) {
    if (c === 'node_modules') continue
    mkdirSync(path.dirname(path.join(dest, c)), { recursive: true })
    sh('cp', ['-a', path.join(repo, c), path.join(dest, c)])
  }
  for (const r of PROJECT_IMAGE.removedFromDist) rmSync(path.join(dest, r), { recursive: true, force: true })
  // Production dependencies only, as `npm prune --omit=dev` leaves them in the Dockerfile.
  cpSync(path.join(repo, 'package-lock.json'), path.join(dest, 'package-lock.json'))
  sh('cp', ['-a', path.join(repo, 'node_modules'), path.join(dest, 'node_modules')])
  sh('npm', ['prune', '--omit=dev', '--no-audit', '--no-fund', '--offline'], { cwd: dest })
  rmSync(path.join(dest, 'package-lock.json'))
  chmodSync(path.join(dest, 'dist/driver/cli.js'), 0o755)
  link(app, PROJECT_IMAGE.cliLink.to, PROJECT_IMAGE.cliLink.from)
}

/** nginx from Debian, with the official image's template step (envsubst of /etc/nginx/templates). */
export function nginxLayer (root: string): void {
  putDynamic(root, '/usr/sbin/nginx')
  // The manifests' probe runs `sh -c "nc -z …"` (alpine's busybox nc has -z, Debian's does not,
  // and busybox sh runs its own applets before PATH): dash as sh, OpenBSD nc as nc.
  putDynamic(root, '/bin/nc.openbsd', '/usr/bin/nc')
  putDynamic(root, realpathSync('/bin/dash'), '/bin/sh')
  put(root, '/etc/nginx/mime.types')
  mkdirSync(path.join(root, 'etc/nginx/conf.d'), { recursive: true })
  writeFileSync(path.join(root, 'etc/nginx/nginx.conf'), [
    'worker_processes 1;', 'pid /tmp/nginx.pid;', 'error_log stderr notice;',
    'events { worker_connections 1024; }',
    'http {', '  include /etc/nginx/mime.types;', '  access_log off;',
    '  client_body_temp_path /tmp/client_temp;', '  proxy_temp_path /tmp/proxy_temp;',
    '  fastcgi_temp_path /tmp/fastcgi_temp;', '  uwsgi_temp_path /tmp/uwsgi_temp;', '  scgi_temp_path /tmp/scgi_temp;',
    '  include /etc/nginx/conf.d/*.conf;', '}', ''].join('\n'))
  // Like docker-entrypoint.d/20-envsubst-on-templates.sh: ${VAR} of defined variables only.
  writeFileSync(path.join(root, 'docker-entrypoint.sh'), `#!/bin/sh
set -eu
out=\${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
for t in /etc/nginx/templates/*.template; do
  [ -f "$t" ] || continue
  awk '{ while (match($0, /\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}/)) { v = substr($0, RSTART + 2, RLENGTH - 3); r = (v in ENVIRON) ? ENVIRON[v] : substr($0, RSTART, RLENGTH); printf "%s%s", substr($0, 1, RSTART - 1), r; $0 = substr($0, RSTART + RLENGTH) } print }' "$t" > "$out/$(basename "$t" .template)"
done
exec "$@"
`, { mode: 0o755 })
}

/** Writes an OCI image layout for def into dir; returns the archive path and the manifest digest. */
async function writeOci (def: ImageDef, dir: string): Promise<{ archive: string, digest: string }> {
  const blobs = path.join(dir, 'blobs/sha256')
  mkdirSync(blobs, { recursive: true })
  const layerDescs: Array<{ mediaType: string, digest: string, size: number }> = []
  const diffIds: string[] = []
  for (const [i, root] of def.layers.entries()) {
    const tarFile = path.join(dir, `layer-${i}.tar`)
    sh('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', root, '-cf', tarFile, '.'])
    const digest = await sha256File(tarFile)
    sh('mv', [tarFile, path.join(blobs, digest)])
    layerDescs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${digest}`, size: statSync(path.join(blobs, digest)).size })
    diffIds.push(`sha256:${digest}`)
  }
  const env = Object.entries({ PATH: BASE_PATH, ...def.config.env }).map(([k, v]) => `${k}=${v}`)
  const config = {
    created: '1970-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: {
      Env: env,
      ...(def.config.entrypoint !== undefined ? { Entrypoint: def.config.entrypoint } : {}),
      ...(def.config.cmd !== undefined ? { Cmd: def.config.cmd } : {}),
      ...(def.config.user !== undefined ? { User: def.config.user } : {}),
      ...(def.config.workdir !== undefined ? { WorkingDir: def.config.workdir } : {})
    },
    rootfs: { type: 'layers', diff_ids: diffIds }
  }
  const blob = (text: string): { digest: string, size: number } => {
    const digest = createHash('sha256').update(text).digest('hex')
    writeFileSync(path.join(blobs, digest), text)
    return { digest: `sha256:${digest}`, size: Buffer.byteLength(text) }
  }
  const cfg = blob(JSON.stringify(config))
  const manifest = blob(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg }, layers: layerDescs }))
  const tag = def.name.slice(def.name.lastIndexOf(':') + 1)
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'io.containerd.image.name': def.name, 'org.opencontainers.image.ref.name': tag } }]
  }))
  const archive = `${dir}.tar`
  sh('tar', ['-C', dir, '-cf', archive, 'oci-layout', 'index.json', 'blobs'])
  return { archive, digest: manifest.digest }
}

export interface BuildOptions {
  repo: string
  /** Scratch space; removed afterwards. */
  workDir: string
  /** containerd socket to import into (namespace k8s.io). */
  containerdSocket: string
  log: (msg: string) => void
  /** Where the Go-built tools are (default .tools/bin of repo). */
  toolsBin?: string
}

/** Image name (`repo:tag`) → manifest digest (`sha256:…`) of what was imported. */
export type ImageDigests = Record<string, string>

/** Builds every image and imports it into the cluster's containerd; returns their digests. */
export async function buildAndImportImages (opts: BuildOptions): Promise<ImageDigests> {
  const { repo, workDir } = opts
  const tools = opts.toolsBin ?? path.join(repo, '.tools/bin')
  const dir = (name: string): string => { const d = path.join(workDir, name); mkdirSync(d, { recursive: true }); return d }
  const base = dir('base'); baseLayer(base)
  const runtime = dir('node-runtime'); const app = dir('app'); projectLayers(repo, runtime, app)
  const kubo = dir('kubo'); putDynamic(kubo, path.join(tools, 'ipfs'), '/usr/local/bin/ipfs')
  // The manifests probe Kubo's loopback gateway with `wget` (busybox's in the upstream image);
  // Debian's static busybox wget crashes, so GNU wget sits before it in PATH.
  putDynamic(kubo, '/usr/bin/wget')
  const cluster = dir('cluster')
  for (const b of ['ipfs-cluster-service', 'ipfs-cluster-ctl']) putDynamic(cluster, path.join(tools, b), `/usr/local/bin/${b}`)
  const nginx = dir('nginx'); nginxLayer(nginx)
  const sidecar = (bin: string): string => { const d = dir(bin); put(d, path.join(tools, bin), `/${bin}`, 0o755); return d }
  const defs: ImageDef[] = [
    // Sandbox holder: PID 1 sleeps; containerd stops sandboxes with SIGKILL.
    { name: IMAGES.pause, layers: [base], config: { entrypoint: ['/bin/sleep', 'infinity'] } },
    { name: IMAGES.busybox, layers: [base], config: { cmd: ['sh'] } },
    {
      name: IMAGES.project,
      layers: [base, runtime, app],
      config: { entrypoint: [...PROJECT_IMAGE.entrypoint], cmd: [...PROJECT_IMAGE.cmd], env: { ...PROJECT_IMAGE.env }, user: PROJECT_IMAGE.user, workdir: PROJECT_IMAGE.workdir }
    },
    { name: IMAGES.kubo, layers: [base, kubo], config: { entrypoint: ['/usr/local/bin/ipfs'], user: '10001:10001' } },
    { name: IMAGES.cluster, layers: [base, cluster], config: { entrypoint: ['/usr/local/bin/ipfs-cluster-service'], user: '10001:10001' } },
    { name: IMAGES.nginx, layers: [base, nginx], config: { entrypoint: ['/docker-entrypoint.sh'], cmd: ['nginx', '-e', 'stderr', '-g', 'daemon off;'], user: '10101:10101' } },
    { name: IMAGES.provisioner, layers: [sidecar('csi-provisioner')], config: { entrypoint: ['/csi-provisioner'] } },
    { name: IMAGES.snapshotter, layers: [sidecar('csi-snapshotter')], config: { entrypoint: ['/csi-snapshotter'] } },
    { name: IMAGES.snapshotController, layers: [sidecar('snapshot-controller')], config: { entrypoint: ['/snapshot-controller'] } }
  ]
  const digests = await importImages(defs, opts)
  rmSync(workDir, { recursive: true, force: true })
  return digests
}

/**
 * Writes each image as an OCI archive under opts.workDir and imports it into the cluster's
 * containerd, under its tag and under `repo@digest` (what a registry pull records), so pods can
 * name it by digest as a release pins images (docs/security.md, item 15).
 */
export async function importImages (defs: ImageDef[], opts: Pick<BuildOptions, 'workDir' | 'containerdSocket' | 'log'>): Promise<ImageDigests> {
  const digests: ImageDigests = {}
  for (const def of defs) {
    const t0 = Date.now()
    const { archive, digest } = await writeOci(def, path.join(opts.workDir, 'oci', def.name.replace(/[^A-Za-z0-9.-]/g, '_')))
    const ctr = ['--address', opts.containerdSocket, '-n', 'k8s.io', 'images']
    sh('ctr', [...ctr, 'import', archive])
    sh('ctr', [...ctr, 'tag', '--force', def.name, `${imageRepo(def.name)}@${digest}`])
    digests[def.name] = digest
    opts.log(`image ${def.name} imported as ${digest.slice(0, 19)}… (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
  }
  return digests
}

/** `registry/path/name:tag` → `registry/path/name`. */
export function imageRepo (name: string): string {
  const slash = name.lastIndexOf('/')
  const colon = name.lastIndexOf(':')
  return colon > slash ? name.slice(0, colon) : name
}

/** The deploy/image/Dockerfile final stage, parsed enough to compare with PROJECT_IMAGE. */
export function parseDockerfileFinalStage (text: string): { copies: string[], packages: string[], entrypoint: string[], cmd: string[], user: string, env: Record<string, string>, workdir: string, links: string[], nodeImage: string } {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  const nodeImage = /^ARG NODE_IMAGE=(\S+)/m.exec(text)?.[1] ?? ''
  const lastFrom = lines.map((l, i) => (l.startsWith('FROM ') ? i : -1)).filter((i) => i >= 0).pop() ?? 0
  const out = { copies: [] as string[], packages: [] as string[], entrypoint: [] as string[], cmd: [] as string[], user: '', env: {} as Record<string, string>, workdir: '', links: [] as string[], nodeImage }
  for (const l of lines.slice(lastFrom + 1)) {
    const [op, ...rest] = l.split(/\s+/)
    const arg = rest.join(' ')
    if (op === 'COPY') {
      const m = /--from=build \/src\/(\S+)/.exec(arg)
      if (m?.[1] !== undefined) out.copies.push(m[1].replace(/\/$/, ''))
    } else if (op === 'RUN') {
      const inst = /apt-get install (.*?)(&&|$)/.exec(arg)?.[1] ?? ''
      out.packages.push(...inst.split(/\s+/).filter((w) => w !== '' && !w.startsWith('-')))
      for (const m of arg.matchAll(/ln -s (\S+) (\S+)/g)) out.links.push(`${m[2]} -> ${m[1]}`)
    } else if (op === 'ENTRYPOINT') out.entrypoint = JSON.parse(arg) as string[]
    else if (op === 'CMD') out.cmd = JSON.parse(arg) as string[]
    else if (op === 'USER') out.user = arg
    else if (op === 'WORKDIR') out.workdir = arg
    else if (op === 'ENV') { const [k, v] = arg.split('='); if (k !== undefined && v !== undefined) out.env[k] = v }
  }
  return out
}

/** The build stage's removals from dist (`rm -rf dist/test dist/scripts`). */
export function parseDistRemovals (text: string): string[] {
  return [...(/rm -rf ((?:dist\/\S+\s*)+)/.exec(text)?.[1] ?? '').matchAll(/dist\/\S+/g)].map((m) => m[0])
}

export function readRepoDockerfile (repo: string): string {
  return readFileSync(path.join(repo, 'deploy/image/Dockerfile'), 'utf8')
}
