// Every metric family the code registers is shown moving by a Prometheus test: the family names
// in the source (string literals ipfs_csi_*) must each be asserted non-zero by
// test/integration/monitoring.test.ts or monitoring-gateway.test.ts (test/helpers/metric-families.ts),
// or be listed with the test that covers it instead.
import test from 'ava'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { ROOT } from '../helpers/repo.js'
import { FAMILIES_COVERED_ELSEWHERE, GATEWAY_FAMILIES, READ_PATH_FAMILIES, familyOf } from '../helpers/metric-families.js'

const SOURCE_DIRS = ['driver', 'content', 'controller', 'node-plugin', 'preloader', 'api', 'gateway']

async function sourceFiles (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...await sourceFiles(p))
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p)
  }
  return out
}

/** ipfs_csi_* names in string literals (a prefix such as 'ipfs_csi_fuse_' is not a family). */
async function registeredFamilies (): Promise<Set<string>> {
  const names = new Set<string>()
  for (const d of SOURCE_DIRS) {
    for (const f of await sourceFiles(path.join(ROOT, d))) {
      for (const m of (await readFile(f, 'utf8')).matchAll(/['"`](ipfs_csi_[a-z0-9_]*[a-z0-9])['"`]/g)) names.add(m[1] as string)
    }
  }
  return names
}

test('every family the code registers is moved by a Prometheus test (or listed with the test that covers it)', async (t) => {
  const registered = await registeredFamilies()
  t.true(registered.size > 60, `found ${registered.size} families: is the scan still reading the source?`)
  const moved = new Set([...Object.values(READ_PATH_FAMILIES), ...Object.values(GATEWAY_FAMILIES)].map(familyOf))
  const uncovered = [...registered].filter(f => !moved.has(f) && FAMILIES_COVERED_ELSEWHERE[f] === undefined).sort()
  t.deepEqual(uncovered, [], 'families no test moves')
  // And no test asks for a family the code does not have (a renamed metric).
  const unknown = [...moved].filter(f => f.startsWith('ipfs_csi_') && !registered.has(f)).sort()
  t.deepEqual(unknown, [], 'families the tests ask for that the code does not register')
})

test('familyOf reads the family of a selector, histogram series included', (t) => {
  t.is(familyOf('ipfs_csi_fuse_read_duration_seconds_bucket{le="+Inf"}'), 'ipfs_csi_fuse_read_duration_seconds')
  t.is(familyOf('ipfs_csi:fuse_block_cache_hit_ratio:rate5m'), 'ipfs_csi:fuse_block_cache_hit_ratio:rate5m')
  t.is(familyOf('ipfs_csi_kubo_up{job="x"}'), 'ipfs_csi_kubo_up')
})
