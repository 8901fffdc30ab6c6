// ContentTree over an in-memory block store: multi-level file reads, inline data, size checks,
// directory listings with bad names left out.
import test from 'ava'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { Code, CsiError, Errno, FsError } from '../../driver/errors.js'
import { createLogger } from '../../driver/logger.js'
import { MemStore, buildHamt } from '../helpers/mem-blocks.js'
import { ContentTree, isValidName } from '../../content/content-tree.js'
import { bucketIndex, bucketPrefix, hamtHash } from '../../content/hamt.js'

function tree (store: MemStore): ContentTree {
  return new ContentTree({ fetcher: store, log: createLogger('error') })
}

const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_v, i) => (i * 31 + seed) & 0xff)

/** A 260-byte file: 10 bytes inline, then two inner nodes over leaves of 100+50 and 70+30 bytes. */
async function twoLevelFile (): Promise<{ s: MemStore, leaves: CID[], whole: Buffer, ct: ContentTree, node: Awaited<ReturnType<ContentTree['node']>> }> {
  const s = new MemStore()
  const parts = [bytes(100, 1), bytes(50, 2), bytes(70, 3), bytes(30, 4)]
  const leaves = await Promise.all(parts.map(async p => await s.putRaw(p)))
  const mid1 = await s.putFile([[leaves[0] as CID, 100], [leaves[1] as CID, 50]])
  const mid2 = await s.putFile([[leaves[2] as CID, 70], [leaves[3] as CID, 30]])
  const inline = bytes(10, 9)
  const root = await s.putFile([[mid1, 150], [mid2, 100]], inline)
  const whole = Buffer.concat([inline, ...parts])
  const ct = tree(s)
  const node = await ct.node(root)
  return { s, leaves, whole, ct, node }
}

test('reads across a two-level file with inline data match the concatenation', async (t) => {
  const { s, leaves, whole, ct, node } = await twoLevelFile()
  t.is(node.kind === 'file' ? node.size : -1, 260)
  for (const [pos, len] of [[0, 260], [0, 5], [5, 20], [109, 2], [160, 100], [259, 10], [255, 5], [100, 0]] as Array<[number, number]>) {
    const buf = Buffer.alloc(len)
    const n = await ct.read(node, pos, len, buf)
    t.deepEqual(buf.subarray(0, n), whole.subarray(pos, pos + len), `read ${pos}+${len}`)
  }
  t.is(await ct.read(node, 260, 10, Buffer.alloc(10)), 0)
})

test('readCached answers from cached blocks only, with the bytes read() gives; size mismatches fall back', async (t) => {
  const { s, leaves, whole, ct, node } = await twoLevelFile()
  t.is(ct.readCached(node, 0, 260, Buffer.alloc(260)), undefined, 'inner nodes not decoded yet')
  await ct.read(node, 0, 260, Buffer.alloc(260)) // decodes (and caches) the inner nodes
  t.is(ct.readCached(node, 0, 260, Buffer.alloc(260)), undefined, 'no leaf cached')
  for (const l of leaves.slice(0, 2)) s.cached.add(l.toString())
  const gets = s.gets
  const buf = Buffer.alloc(30)
  t.is(ct.readCached(node, 100, 30, buf), 30, 'leaves 0-1 cover 100..130')
  t.deepEqual(buf, whole.subarray(100, 130))
  t.is(ct.readCached(node, 150, 20, Buffer.alloc(20)), undefined, 'leaf 2 is not cached')
  for (const l of leaves) s.cached.add(l.toString())
  for (const [pos, len] of [[0, 260], [5, 20], [259, 10], [255, 5]] as Array<[number, number]>) {
    const b = Buffer.alloc(len)
    const n = ct.readCached(node, pos, len, b)
    t.deepEqual(b.subarray(0, n), whole.subarray(pos, pos + len), `readCached ${pos}+${len}`)
  }
  t.is(ct.readCached(node, 260, 10, Buffer.alloc(10)), 0, 'at EOF')
  t.is(s.gets, gets, 'readCached never fetches')
  const short = await s.putRaw(bytes(100, 7))
  const lying = await ct.node(await s.putFile([[short, 120]]))
  s.cached.add(short.toString())
  t.is(ct.readCached(lying, 0, 10, Buffer.alloc(10)), undefined, 'a size mismatch is left to read() (DATA_LOSS)')
})

test('only the leaves a read needs are fetched', async (t) => {
  const s = new MemStore()
  const leaves = await Promise.all([0, 1, 2, 3].map(async i => await s.putRaw(bytes(100, i))))
  const root = await s.putFile(leaves.map(c => [c, 100]))
  const ct = tree(s)
  const node = await ct.node(root)
  s.gets = 0
  await ct.read(node, 150, 20, Buffer.alloc(20))
  t.is(s.gets, 1)
})

test('a child whose size differs from its parent\'s record is DATA_LOSS, not shifted bytes', async (t) => {
  const s = new MemStore()
  const leaf = await s.putRaw(bytes(100, 1))
  const root = await s.putFile([[leaf, 120]])
  const ct = tree(s)
  const node = await ct.node(root)
  const err = await t.throwsAsync(ct.read(node, 0, 10, Buffer.alloc(10))) as CsiError
  t.is(err.code, Code.DATA_LOSS)
})

test('a failed read leaves the caller\'s buffer untouched', async (t) => {
  const s = new MemStore()
  const good = await s.putRaw(bytes(100, 1))
  const missing = CID.createV1(raw.code, await sha256.digest(bytes(100, 2)))
  const root = await s.putFile([[good, 100], [missing, 100]])
  const ct = tree(s)
  const buf = Buffer.alloc(200, 7)
  await t.throwsAsync(ct.read(await ct.node(root), 0, 200, buf))
  t.true(buf.every(b => b === 7))
})

test('directory listings leave out names Linux cannot hold, and duplicates', async (t) => {
  const s = new MemStore()
  const f = await s.putRaw(bytes(3, 1))
  const names = ['ok', 'a/b', '.', '..', '', 'x\0y', 'n'.repeat(256), 'ok', 'é']
  const dir = await s.putPb(new UnixFS({ type: 'directory' }), names.map(Name => ({ Name, Hash: f, Tsize: 3 })))
  const ct = tree(s)
  const node = await ct.node(dir)
  t.deepEqual((await ct.list(node, dir)).names.sort(), ['ok', 'é'])
  t.deepEqual(await ct.lookup(node, dir, 'ok'), f)
  t.is(await ct.lookup(node, dir, 'a/b'), undefined)
  t.is(await ct.lookup(node, dir, 'nope'), undefined)
  const fileNode = await ct.node(f)
  const err = await t.throwsAsync(ct.list(fileNode, f)) as FsError
  t.is(err.errno, Errno.ENOTDIR)
})

test('isValidName', (t) => {
  for (const ok of ['a', 'a.b', '...', ' ', 'n'.repeat(255)]) t.true(isValidName(ok), ok)
  for (const bad of ['', '.', '..', 'a/b', '/', 'a\0', 'n'.repeat(256), 'é'.repeat(128)]) t.false(isValidName(bad), JSON.stringify(bad))
})

test('HAMT: lookups walk only the hash path; listings are complete', async (t) => {
  const s = new MemStore()
  const entries: Array<[string, CID]> = []
  for (let i = 0; i < 300; i++) entries.push([`file-${i}.json`, await s.putRaw(new TextEncoder().encode(String(i)))])
  const root = await buildHamt(s, entries, 16)
  const ct = tree(s)
  const node = await ct.node(root)
  t.is(node.kind, 'hamt')
  s.gets = 0
  for (const [name, cid] of entries.slice(0, 50)) t.deepEqual(await ct.lookup(node, root, name), cid, name)
  t.true(s.gets < 50 * 4, `lookups fetched ${s.gets} blocks`)
  t.is(await ct.lookup(node, root, 'file-300.json'), undefined)
  t.is(await ct.lookup(node, root, '..'), undefined)
  const listing = await ct.list(node, root)
  t.deepEqual([...listing.names].sort(), entries.map(e => e[0]).sort())
})

test('HAMT with an unsupported hash function is refused with DATA_LOSS', async (t) => {
  const s = new MemStore()
  const f = await s.putRaw(new Uint8Array([1]))
  const root = await buildHamt(s, [['a', f]], 256, 0, 0x12n)
  const ct = tree(s)
  const node = await ct.node(root)
  t.is(((await t.throwsAsync(ct.lookup(node, root, 'a'))) as CsiError).code, Code.DATA_LOSS)
  t.is(((await t.throwsAsync(ct.list(node, root))) as CsiError).code, Code.DATA_LOSS)
})
