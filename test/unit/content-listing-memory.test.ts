// Hardening #1, measured rather than estimated: what a directory listing really costs on the V8
// heap. Each check runs in a child process (--expose-gc for exact heap figures, or deploy's
// --max-old-space-size=256) over real HAMT blocks built here the way Kubo lays them out.
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { MemStore, buildHamt } from '../helpers/mem-blocks.js'

const here = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url))
const MEM_BLOCKS = here('../helpers/mem-blocks.js')
const CONTENT_TREE = here('../../content/content-tree.js')
const LIMITS = here('../../content/limits.js')
const ERRORS = here('../../driver/errors.js')

let dir: string
/** Blocks files of HAMTs with 100,000 and 200,000 entries, 60-character names. */
const hamts: Record<'small' | 'large', string> = { small: '', large: '' }

async function writeHamt (file: string, n: number): Promise<void> {
  const s = new MemStore()
  const entries: Array<[string, CID]> = []
  for (let i = 0; i < n; i++) {
    entries.push([`weights-shard-${String(i).padStart(8, '0')}-of-${String(n).padStart(8, '0')}.safetensors.part`.slice(0, 60), CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`${n}/${i}`)))])
  }
  const root = await buildHamt(s, entries, 256)
  const parts: Buffer[] = []
  for (const [k, b] of s.blocks) {
    const head = Buffer.alloc(8)
    head.writeUInt32BE(Buffer.byteLength(k), 0)
    head.writeUInt32BE(b.length, 4)
    parts.push(head, Buffer.from(k), Buffer.from(b))
  }
  await writeFile(file, Buffer.concat(parts))
  await writeFile(`${file}.root`, root.toString())
}

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-listing-mem-'))
  hamts.small = path.join(dir, 'small.blocks')
  hamts.large = path.join(dir, 'large.blocks')
  await writeHamt(hamts.small, 100_000)
  await writeHamt(hamts.large, 200_000)
})

test.after.always(async () => { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) })

/** Loads a blocks file into a MemStore; defines `load(file)` in the child's script. */
const LOADER = `
import { MemStore } from ${JSON.stringify(MEM_BLOCKS)}
import { ContentTree } from ${JSON.stringify(CONTENT_TREE)}
import { limitsForHeap } from ${JSON.stringify(LIMITS)}
import { toErrno } from ${JSON.stringify(ERRORS)}
import { CID } from 'multiformats/cid'
import { readFileSync } from 'node:fs'
const log = { error () {}, warn () {}, info () {}, debug () {} }
function load (file) {
  const s = new MemStore()
  const buf = readFileSync(file)
  for (let o = 0; o < buf.length;) {
    const kl = buf.readUInt32BE(o); const bl = buf.readUInt32BE(o + 4); o += 8
    const k = buf.subarray(o, o + kl).toString(); o += kl
    s.blocks.set(k, new Uint8Array(buf.subarray(o, o + bl))); o += bl
  }
  return { s, root: CID.parse(readFileSync(file + '.root', 'utf8')) }
}
`

async function runChild (flags: string[], script: string, env: Record<string, string>): Promise<Record<string, any>> {
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
    execFile(process.execPath, [...flags, '--input-type=module', '-e', LOADER + script], { env: { ...process.env, ...env }, maxBuffer: 1024 * 1024, timeout: 240_000 }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`child failed (${err.message}):\n${stderr.slice(-2000)}`))
      else resolve({ stdout })
    })
  })
  return JSON.parse(stdout.trim().split('\n').pop() as string) as Record<string, any>
}

test('a listing\'s estimated bytes cover the heap it really holds once its shards are evicted (100,000 entries)', async (t) => {
  const r = await runChild(['--expose-gc'], `
const { s, root } = load(process.env.HAMT)
const ct = new ContentTree({ fetcher: s, log, limits: { maxDirEntries: 10_000_000, maxListingBytes: 1e12, listingCacheBytes: 1e12 } })
const node = await ct.node(root)
gc(); gc()
const before = process.memoryUsage().heapUsed
const listing = await ct.list(node, root)
ct.nodes.clear() // what the listing holds by itself, as after the node cache moved on
gc(); gc()
console.log(JSON.stringify({ entries: listing.names.length, estimated: listing.bytes, held: process.memoryUsage().heapUsed - before }))
`, { HAMT: hamts.small })
  t.is(r.entries, 100_000)
  t.true(r.held > 0, `held ${String(r.held)}`)
  t.true(r.held <= r.estimated, `the listing holds ${String(r.held)} bytes of heap, estimated ${String(r.estimated)}`)
})

test('with deploy\'s 256 MiB heap, a HAMT that lists within a quarter of it is served, a larger one fails with EIO, and the process stays up', async (t) => {
  const r = await runChild(['--max-old-space-size=256'], `
const small = load(process.env.SMALL)
const large = load(process.env.LARGE)
const ct = new ContentTree({ fetcher: { ...small.s, get: async (cid, ...a) => (small.s.blocks.has(cid.toString()) ? small.s : large.s).get(cid, ...a), peek: () => undefined, markLeaf () {}, fetchRun () {}, evict () {}, beginUse: () => 1, endUse () {} }, log, limits: limitsForHeap(256) })
const a = await ct.list(await ct.node(small.root), small.root)
let largeErrno = 0
try { await ct.list(await ct.node(large.root), large.root) } catch (err) { largeErrno = toErrno(err) }
// The process still serves: a lookup in the listed directory answers.
const name = a.names[12345]
const found = (await ct.lookup(await ct.node(small.root), small.root, name))?.toString()
console.log(JSON.stringify({ smallEntries: a.names.length, largeErrno, found, expected: a.byName.get(name) }))
`, { SMALL: hamts.small, LARGE: hamts.large })
  t.is(r.smallEntries, 100_000, 'the directory that fits is listed whole')
  t.is(r.largeErrno, 5, 'the one over the quarter-heap budget fails with EIO')
  t.truthy(r.found)
  t.is(r.found, r.expected, 'and the process goes on serving lookups')
})
