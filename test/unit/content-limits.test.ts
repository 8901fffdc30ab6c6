// Safety limits of the content layer (hardening #1): a hostile DAG's directory listing costs
// bounded work and memory, fails with EIO and a log line past the limits, and the tree keeps
// serving everything else.
import test from 'ava'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import { Errno, toErrno } from '../../driver/errors.js'
import type { Logger } from '../../driver/logger.js'
import { ContentTree } from '../../content/content-tree.js'
import { bucketPrefix } from '../../content/hamt.js'
import { entryWeight } from '../../content/limits.js'
import { MemStore, buildHamt } from '../helpers/mem-blocks.js'

interface Logged { level: string, msg: string, meta: Record<string, unknown> }

/** A Logger that records lines (ContentTree logs only through these four methods). */
function recordingLog (): { log: Logger, lines: Logged[] } {
  const lines: Logged[] = []
  const at = (level: string) => (msg: string, meta: Record<string, unknown> = {}) => { lines.push({ level, msg, meta }) }
  const log = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') } as unknown as Logger
  return { log, lines }
}

function treeOf (s: MemStore, log: Logger, limits: Record<string, number> = {}): ContentTree {
  // Built as a variable, not a literal: the limits are the subject under test.
  const init = { fetcher: s, log, limits }
  return new ContentTree(init)
}

const hamtData = (fanout: number): UnixFS => new UnixFS({ type: 'hamt-sharded-directory', fanout: BigInt(fanout), hashType: 0x22n })

/**
 * The "HAMT bomb" of issue 12: a bottom shard with `fanout` entries, then `levels` shards above
 * it whose every slot links to the one shard below. It lists as fanout^(levels+1) entries.
 */
async function hamtBomb (s: MemStore, fanout: number, levels: number): Promise<CID> {
  const leaf = await s.putRaw(new Uint8Array([1]))
  const entries: dagPb.PBLink[] = []
  for (let i = 0; i < fanout; i++) entries.push({ Name: `${bucketPrefix(i, fanout)}file-${i}`, Hash: leaf, Tsize: 1 })
  let below = await s.putPb(hamtData(fanout), entries)
  for (let l = 0; l < levels; l++) {
    const links: dagPb.PBLink[] = []
    for (let i = 0; i < fanout; i++) links.push({ Name: bucketPrefix(i, fanout), Hash: below, Tsize: 1 })
    below = await s.putPb(hamtData(fanout), links)
  }
  return below
}

test('a HAMT whose slots all link one shard below is refused with EIO and a log line, not expanded', async (t) => {
  const s = new MemStore()
  const root = await hamtBomb(s, 16, 3) // 65,536 entries when expanded, 16 distinct
  const { log, lines } = recordingLog()
  const ct = treeOf(s, log)
  const node = await ct.node(root)
  const err = await t.throwsAsync(ct.list(node, root))
  t.is(toErrno(err), Errno.EIO)
  t.true(lines.some(l => l.level === 'error' && l.meta.cid === root.toString()), JSON.stringify(lines))
  t.true(s.gets <= 5, `the walk fetched ${s.gets} blocks for 4 distinct shards`)
})

test('a HAMT deeper than a 64-bit hash allows is refused (fanout 256: 8 levels)', async (t) => {
  const s = new MemStore()
  const leaf = await s.putRaw(new Uint8Array([2]))
  const chain = async (levels: number): Promise<CID> => {
    let below = await s.putPb(hamtData(256), [{ Name: '00a', Hash: leaf, Tsize: 1 }, { Name: '01b', Hash: leaf, Tsize: 1 }])
    for (let l = 1; l < levels; l++) below = await s.putPb(hamtData(256), [{ Name: '00', Hash: below, Tsize: 1 }])
    return below
  }
  const { log } = recordingLog()
  const ct = treeOf(s, log)
  const ok = await chain(8)
  t.deepEqual((await ct.list(await ct.node(ok), ok)).names, ['a', 'b'])
  const deep = await chain(9)
  t.is(toErrno(await t.throwsAsync(ct.list(await ct.node(deep), deep))), Errno.EIO)
})

test('a directory over the entry cap fails with EIO and a log line; the tree keeps listing others', async (t) => {
  const s = new MemStore()
  const f = await s.putRaw(new Uint8Array([3]))
  const { log, lines } = recordingLog()
  const ct = treeOf(s, log, { maxDirEntries: 100 })
  const plain = async (n: number): Promise<CID> => await s.putPb(new UnixFS({ type: 'directory' }), Array.from({ length: n }, (_v, i) => ({ Name: `f${i}`, Hash: f, Tsize: 1 })))
  const big = await plain(101)
  t.is(toErrno(await t.throwsAsync(ct.list(await ct.node(big), big))), Errno.EIO)
  t.true(lines.some(l => l.level === 'error' && l.meta.cid === big.toString() && l.meta.limit === 100), JSON.stringify(lines))
  const hamt = await buildHamt(s, Array.from({ length: 300 }, (_v, i): [string, CID] => [`e${i}`, f]), 16)
  t.is(toErrno(await t.throwsAsync(ct.list(await ct.node(hamt), hamt))), Errno.EIO)
  // The same tree still serves directories within the cap, and a name lookup in the big one.
  const small = await plain(100)
  t.is((await ct.list(await ct.node(small), small)).names.length, 100)
  t.deepEqual(await ct.lookup(await ct.node(hamt), hamt, 'e7'), f)
})

test('the listing cache is bounded in bytes: a listing larger than the budget is not kept', async (t) => {
  const s = new MemStore()
  const f = await s.putRaw(new Uint8Array([4]))
  const { log } = recordingLog()
  const budget = 64 * 1024
  const ct = treeOf(s, log, { listingCacheBytes: budget })
  const long = 'n'.repeat(200)
  // 1,000 entries with 200-character names: well over 64 KiB as a listing.
  const entries = Array.from({ length: 1000 }, (_v, i): [string, CID] => [`${long}${i}`, f])
  const hamt = await buildHamt(s, entries, 16)
  t.is((await ct.list(await ct.node(hamt), hamt)).names.length, 1000)
  t.true(ct.stats().listingBytes <= budget, `listing cache holds ${ct.stats().listingBytes} bytes`)
  // Many small listings: kept while they fit, the total never over the budget.
  for (let i = 0; i < 40; i++) {
    const dir = await buildHamt(s, entries.slice(i * 20, i * 20 + 20), 16)
    await ct.list(await ct.node(dir), dir)
    t.true(ct.stats().listingBytes <= budget, `after ${i + 1} listings: ${ct.stats().listingBytes} bytes`)
    // Each kept listing counts at its estimate (20 names of 200+ characters), not as 1.
    t.true(ct.stats().listingBytes >= ct.stats().listings * 20 * entryWeight(long), `${ct.stats().listings} listings counted as ${ct.stats().listingBytes} bytes`)
  }
  t.true(ct.stats().listings > 0)
})

/** A file of one byte under `levels` file nodes, each with the one below as its only child. */
async function fileChain (s: MemStore, levels: number): Promise<CID> {
  let below = await s.putRaw(new Uint8Array([42]))
  for (let i = 0; i < levels; i++) below = await s.putFile([[below, 1]])
  return below
}

test('a file DAG deeper than 256 levels fails its reads with EIO, cached or not; 256 levels read', async (t) => {
  const s = new MemStore()
  const { log } = recordingLog()
  const ct = treeOf(s, log)
  const ok = await fileChain(s, 256)
  const buf = Buffer.alloc(1)
  t.is(await ct.read(await ct.node(ok), 0, 1, buf, undefined, ok), 1)
  t.is(buf[0], 42)
  const deep = await fileChain(s, 5000)
  const node = await ct.node(deep)
  t.is(toErrno(await t.throwsAsync(ct.read(node, 0, 1, Buffer.alloc(1), undefined, deep))), Errno.EIO)
  // With every block cached (as read-ahead leaves them), the synchronous path refuses it too
  // instead of recursing 5,000 frames deep, and forgetting the range does not recurse either.
  for (const k of s.blocks.keys()) s.cached.add(k)
  t.is(ct.readCached(node, 0, 1, Buffer.alloc(1)), undefined)
  t.notThrows(() => ct.forget(node, 0, 1))
  t.is(toErrno(await t.throwsAsync(ct.warm(node, 0, 1, deep))), Errno.EIO)
})

/** UnixFS `Data` of a file node with these child sizes, encoded by hand (ipfs-unixfs writes sizes of 2^31 and up as 0). */
function fileData (sizes: bigint[]): UnixFS {
  const varint = (n: bigint): number[] => { const out: number[] = []; do { let b = Number(n & 0x7fn); n >>= 7n; if (n > 0n) b |= 0x80; out.push(b) } while (n > 0n); return out }
  const bytes = new Uint8Array([0x08, 0x02, ...sizes.flatMap(s => [0x20, ...varint(s)])])
  return { marshal: () => bytes } as unknown as UnixFS
}

test('a file DAG that claims 256 TiB from 31 blocks costs one path per read: a 128 KiB read at 100 TiB fetches 32 blocks', async (t) => {
  const s = new MemStore()
  const leafBytes = new Uint8Array(256 * 1024).map((_v, i) => (i * 7) & 0xff)
  let below = await s.putRaw(leafBytes)
  let size = BigInt(leafBytes.length)
  // Each level links the one below twice: the size doubles, the block count grows by one.
  for (let level = 0; level < 30; level++) {
    below = await s.putPb(fileData([size, size]), [{ Hash: below, Name: '', Tsize: 1 }, { Hash: below, Name: '', Tsize: 1 }])
    size *= 2n
  }
  t.is(size, 256n * 1024n ** 4n, 'the root claims 256 TiB')
  t.is(s.blocks.size, 31)
  const { log } = recordingLog()
  const ct = treeOf(s, log)
  const root = await ct.node(below)
  t.is(root.kind === 'file' ? root.size : -1, 2 ** 48)
  const buf = Buffer.alloc(128 * 1024)
  const at = 100 * 1024 ** 4
  t.is(await ct.read(root, at, buf.length, buf, undefined, below), buf.length)
  t.true(buf.equals(Buffer.from(leafBytes.subarray(0, buf.length))), 'the bytes of the leaf at that offset')
  t.true(s.gets <= 32, `fetched ${s.gets} blocks`)
})
