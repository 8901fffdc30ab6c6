// The layers of docs/architecture.md, checked on the sources: `driver/` is the base, `content/`
// sits on it, the services (controller, node plugin, preloader, API, gateway) sit on both and
// never import each other; the FUSE adapters (node-plugin/fuse/) never import the node service
// around them. Only the wiring (driver/cli.ts, driver/serve.ts) reaches up.
import test from 'ava'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { ROOT } from '../helpers/repo.js'

/** Top-level folder → the folders its files may import from (besides itself). */
const MAY_IMPORT: Record<string, string[]> = {
  driver: ['proto'],
  content: ['driver'],
  controller: ['driver', 'content', 'proto'],
  'node-plugin': ['driver', 'content', 'proto'],
  preloader: ['driver', 'content'],
  api: ['driver', 'content', 'sdk'],
  gateway: ['driver', 'content']
}
/** Wiring: they start every service, so they import them. */
const WIRING = new Set(['driver/cli.ts', 'driver/serve.ts'])
const FUSE = 'node-plugin/fuse/'

export interface SourceFile { file: string, text: string }

const SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

/** Every relative import of `files` (repo-relative paths) that goes against the layers. */
export function layerViolations (files: SourceFile[]): string[] {
  const out: string[] = []
  for (const { file, text } of files) {
    const layer = file.split('/')[0] as string
    const allowed = MAY_IMPORT[layer]
    if (allowed === undefined || WIRING.has(file)) continue
    for (const m of text.matchAll(SPECIFIER)) {
      const spec = m[1] ?? m[2] ?? ''
      if (!spec.startsWith('.')) continue
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec))
      const targetLayer = target.split('/')[0] as string
      if (targetLayer !== layer && !allowed.includes(targetLayer)) out.push(`${file} imports ${target} (${layer} may import ${[layer, ...allowed].join(', ')})`)
      else if (file.startsWith(FUSE) && targetLayer === 'node-plugin' && !target.startsWith(FUSE)) out.push(`${file} imports ${target} (the FUSE adapters never import the node service)`)
    }
  }
  return out
}

function sources (): SourceFile[] {
  const files: SourceFile[] = []
  const walk = (rel: string): void => {
    for (const e of readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`
      if (e.isDirectory()) walk(r)
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) files.push({ file: r, text: readFileSync(path.join(ROOT, r), 'utf8') })
    }
  }
  for (const layer of Object.keys(MAY_IMPORT)) walk(layer)
  return files
}

test('no source file imports a higher layer or another service', (t) => {
  const files = sources()
  t.true(files.length > 100, `scanned ${files.length} files`)
  t.deepEqual(layerViolations(files), [])
})

test('the check flags each kind of crossing and lets the allowed ones through', (t) => {
  const files: SourceFile[] = [
    { file: 'driver/config.ts', text: "import { LocalBlockstore } from '../content/local-blockstore.js'" },
    { file: 'content/x.ts', text: "import type { A } from '../node-plugin/a.js'\nimport { b } from '../driver/b.js'" },
    { file: 'node-plugin/x.ts', text: "import {\n  ModelRecords\n} from '../api/models/model-index.js'\nimport { s } from './fuse/fuse-spec.js'" },
    { file: 'api/x.ts', text: "export { c } from '../controller/cluster-client.js'\nconst m = await import('../preloader/verify.js')" },
    { file: 'node-plugin/fuse/y.ts', text: "import { v } from '../node-volumes.js'\nimport { o } from './fuse-ops.js'" },
    { file: 'driver/serve.ts', text: "import { NodeService } from '../node-plugin/node-service.js'" }
  ]
  t.deepEqual(layerViolations(files).map(v => v.split(' (')[0]), [
    'driver/config.ts imports content/local-blockstore.js',
    'content/x.ts imports node-plugin/a.js',
    'node-plugin/x.ts imports api/models/model-index.js',
    'api/x.ts imports controller/cluster-client.js',
    'api/x.ts imports preloader/verify.js',
    'node-plugin/fuse/y.ts imports node-plugin/node-volumes.js'
  ])
})
