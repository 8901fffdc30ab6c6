// The images the upstream storage suite's pods run, built locally under the exact names e2e.test
// uses (test/utils/image/manifest.go of k8s.io/kubernetes v1.37.2), so kubelet never pulls. Each
// name is checked against `e2e.test --list-images`: a new e2e.test with other tags fails here, not
// with ErrImagePull in the middle of the run.
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { baseLayer, importImages, nginxLayer, put, type ImageDef } from './images.js'

const E2E_IMAGES = 'registry.k8s.io/e2e-test-images'

/** The test images the selected specs start (by their ImageID in the suite). */
export const UPSTREAM_IMAGES = {
  // e2epod.GetDefaultTestImage on Linux: most test pods (sleep, sh -c checks, writers, readers).
  busybox: `${E2E_IMAGES}/busybox:1.37.0-2`,
  // subPath pods (`agnhost mounttest`), e2epod.MakePod's pause-like pods.
  agnhost: `${E2E_IMAGES}/agnhost:2.66.1`,
  // volumes "should allow exec of files on the volume" (a sh -c command).
  nginx: `${E2E_IMAGES}/nginx:1.27.0-2`,
  // multiVolume's pods (a sh -c command).
  glibcDnsTesting: `${E2E_IMAGES}/glibc-dns-testing:2.1.1`
} as const

export interface UpstreamImageOptions {
  workDir: string
  containerdSocket: string
  /** Where e2e.test and agnhost are (.tools/bin). */
  toolsBin: string
  log: (msg: string) => void
}

export async function buildAndImportUpstreamImages (opts: UpstreamImageOptions): Promise<void> {
  const listed = new Set(execFileSync(path.join(opts.toolsBin, 'e2e.test'), ['--list-images'], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }).split('\n').map((l) => l.trim()))
  const unknown = Object.values(UPSTREAM_IMAGES).filter((name) => !listed.has(name))
  if (unknown.length > 0) throw new Error(`e2e.test --list-images does not name ${unknown.join(', ')}: update UPSTREAM_IMAGES to its tags`)
  const dir = (name: string): string => { const d = path.join(opts.workDir, name); mkdirSync(d, { recursive: true }); return d }
  const base = dir('base'); baseLayer(base)
  // agnhost as its Dockerfile lays it out: /agnhost (built from k8s.io/kubernetes/test/images/agnhost
  // at v1.37.2), the agnhost-2 link, /uploads; a shell and applets from the base layer.
  const agnhost = dir('agnhost')
  put(agnhost, path.join(opts.toolsBin, 'agnhost'), '/agnhost', 0o755)
  execFileSync('ln', ['-s', 'agnhost', path.join(agnhost, 'agnhost-2')])
  mkdirSync(path.join(agnhost, 'uploads'), { recursive: true })
  const nginx = dir('nginx'); nginxLayer(nginx)
  const defs: ImageDef[] = [
    { name: UPSTREAM_IMAGES.busybox, layers: [base], config: { cmd: ['sh'] } },
    { name: UPSTREAM_IMAGES.agnhost, layers: [base, agnhost], config: { entrypoint: ['/agnhost'], cmd: ['pause'] } },
    { name: UPSTREAM_IMAGES.nginx, layers: [base, nginx], config: { entrypoint: ['/docker-entrypoint.sh'], cmd: ['nginx', '-e', 'stderr', '-g', 'daemon off;'] } },
    { name: UPSTREAM_IMAGES.glibcDnsTesting, layers: [base], config: { cmd: ['sh'] } }
  ]
  await importImages(defs, opts)
}
