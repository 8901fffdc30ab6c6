// Batched leaf fetches (BlockFetcher.fetchRun): one `cat` per run of leaves, each leaf still
// verified against its CID, wrong or missing leaves fetched again with block/get, and a silent
// Kubo failing at the deadline. A fake Kubo HTTP server plays `cat` (offset/length, 4 KiB chunks
// like Kubo's) and `block/get`.
import test from 'ava'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { Code, CsiError } from '../../driver/errors.js'
import { createLogger } from '../../driver/logger.js'
import { Kubo } from '../../driver/kubo.js'
import { BlockFetcher } from '../../content/block-fetcher.js'
import type { RunLeaf } from '../../content/block-reader.js'

interface Leaf { cid: CID, block: Uint8Array, data: Uint8Array }

interface FakeKubo {
  url: string
  /** Bytes `cat` serves for the parent, and blocks `block/get` serves. */
  file: Buffer
  blocks: Map<string, Uint8Array>
  cats: string[]
  blockGets: string[]
  /** Flip a byte of the cat output at this offset (-1: none); hang: never answer cat. */
  corruptAt: number
  hangCat: boolean
  /** Bytes cat sends beyond what was asked (negative: it stops that many bytes short). */
  catExtra: number
  close: () => Promise<void>
}

async function fakeKubo (): Promise<FakeKubo> {
  const hanging: http.ServerResponse[] = []
  const k: FakeKubo = { url: '', file: Buffer.alloc(0), blocks: new Map(), cats: [], blockGets: [], corruptAt: -1, hangCat: false, catExtra: 0, close: async () => {} }
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    const arg = u.searchParams.get('arg') ?? ''
    if (u.pathname === '/api/v0/cat') {
      k.cats.push(`${u.searchParams.get('offset') ?? ''}+${u.searchParams.get('length') ?? ''}`)
      if (k.hangCat) { hanging.push(res); return }
      const off = Number(u.searchParams.get('offset') ?? 0)
      const len = Number(u.searchParams.get('length') ?? k.file.length)
      const body = k.catExtra >= 0 ? Buffer.concat([k.file.subarray(off, off + len), Buffer.alloc(k.catExtra, 7)]) : Buffer.from(k.file.subarray(off, off + len + k.catExtra))
      if (k.corruptAt >= off && k.corruptAt < off + len) body[k.corruptAt - off] = (body[k.corruptAt - off] as number) ^ 0xff
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'X-Stream-Error' })
      for (let i = 0; i < body.length; i += 4096) res.write(body.subarray(i, i + 4096))
      res.addTrailers({ 'X-Stream-Error': '' })
      res.end()
      return
    }
    if (u.pathname === '/api/v0/block/get') {
      k.blockGets.push(arg)
      const b = k.blocks.get(arg)
      if (b === undefined) { res.writeHead(500).end('{"Message":"not found"}'); return }
      res.writeHead(200).end(Buffer.from(b))
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  k.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  k.close = async () => {
    for (const r of hanging) r.destroy()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return k
}

function bytesOf (seed: number, n: number): Uint8Array {
  const b = new Uint8Array(n)
  let x = seed * 2654435761 >>> 0
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24 }
  return b
}

async function rawLeaf (seed: number, n: number): Promise<Leaf> {
  const data = bytesOf(seed, n)
  return { cid: CID.createV1(raw.code, await sha256.digest(data)), block: data, data }
}

/** A dag-pb leaf as Kubo writes one with its defaults (CIDv0). */
async function pbLeaf (seed: number, n: number): Promise<Leaf> {
  const data = bytesOf(seed, n)
  const block = dagPb.encode({ Data: new UnixFS({ type: 'file', data }).marshal(), Links: [] })
  return { cid: CID.createV0(await sha256.digest(block)), block, data }
}

const log = createLogger('error')
const parent = CID.parse('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi')

// A generous default: the fake answers at once, but a loaded 2-core machine running the suite's
// workers in parallel can starve the event loop for seconds. Deadline tests pass their own.
async function setup (t: any, leaves: Leaf[], timeoutMs = 60_000): Promise<{ kubo: FakeKubo, f: BlockFetcher, run: RunLeaf[] }> {
  const kubo = await fakeKubo()
  kubo.file = Buffer.concat(leaves.map(l => l.data))
  for (const l of leaves) kubo.blocks.set(l.cid.toString(), l.block)
  const f = new BlockFetcher({ kubo: new Kubo({ url: kubo.url, timeoutMs: 60_000 }), timeoutMs, cacheBytes: 64 * 1024 * 1024, log })
  t.teardown(async () => { f.close(); await kubo.close() })
  let off = 0
  const run = leaves.map((l) => { const r = { cid: l.cid, size: l.data.byteLength, offset: off }; off += l.data.byteLength; return r })
  return { kubo, f, run }
}

test('raw leaves of a run come in one cat request, each verified and cached', async (t) => {
  const leaves = await Promise.all([1, 2, 3, 4, 5].map(async (s) => await rawLeaf(s, 100_000 + s * 1000)))
  const { kubo, f, run } = await setup(t, leaves)
  f.fetchRun(parent, run)
  for (const l of leaves) t.deepEqual(Buffer.from(await f.get(l.cid)), Buffer.from(l.block))
  t.is(kubo.cats.length, 1)
  t.deepEqual(kubo.blockGets, [])
  t.is(f.stats.runLeaves, 5)
  for (const l of leaves) t.true(f.has(l.cid))
  f.fetchRun(parent, run) // all cached: no new request
  t.is(kubo.cats.length, 1)
})

test('dag-pb leaves are rebuilt from their data and verified', async (t) => {
  const leaves = await Promise.all([7, 8, 9].map(async (s) => await pbLeaf(s, 262_144)))
  const { kubo, f, run } = await setup(t, leaves)
  f.fetchRun(parent, run)
  for (const l of leaves) t.deepEqual(Buffer.from(await f.get(l.cid)), Buffer.from(l.block))
  t.is(kubo.cats.length, 1)
  t.deepEqual(kubo.blockGets, [])
})

test('a leaf whose cat bytes do not verify is fetched with block/get; wrong bytes are never served', async (t) => {
  const leaves = await Promise.all([1, 2, 3].map(async (s) => await rawLeaf(s, 50_000)))
  const { kubo, f, run } = await setup(t, leaves)
  kubo.corruptAt = 50_000 + 123 // inside the second leaf
  f.fetchRun(parent, run)
  for (const l of leaves) t.deepEqual(Buffer.from(await f.get(l.cid)), Buffer.from(l.block))
  t.deepEqual(kubo.blockGets, [(leaves[1] as Leaf).cid.toString()])
  t.is(f.stats.runFallbacks, 1)
})

test('a leaf wrong in both cat and block/get fails with DATA_LOSS', async (t) => {
  const leaves = await Promise.all([1, 2].map(async (s) => await rawLeaf(s, 50_000)))
  const { kubo, f, run } = await setup(t, leaves)
  kubo.corruptAt = 10
  const bad = leaves[0] as Leaf
  kubo.blocks.set(bad.cid.toString(), bytesOf(99, 50_000))
  f.fetchRun(parent, run)
  const err = await t.throwsAsync(f.get(bad.cid))
  t.true(err instanceof CsiError && err.code === Code.DATA_LOSS, err?.message)
  t.false(f.has(bad.cid))
  t.deepEqual(Buffer.from(await f.get((leaves[1] as Leaf).cid)), Buffer.from((leaves[1] as Leaf).block))
})

test('a cat that ends early: the leaves it did not deliver whole are fetched alone with block/get', async (t) => {
  const leaves = await Promise.all([1, 2, 3].map(async (s) => await rawLeaf(s, 50_000)))
  const { kubo, f, run } = await setup(t, leaves)
  kubo.catExtra = -60_000 // the first leaf whole, 40,000 bytes of the second
  f.fetchRun(parent, run)
  for (const l of leaves) t.deepEqual(Buffer.from(await f.get(l.cid)), Buffer.from(l.block))
  t.deepEqual(kubo.blockGets.sort(), [(leaves[1] as Leaf).cid.toString(), (leaves[2] as Leaf).cid.toString()].sort())
  t.is(f.stats.runLeaves, 1)
  t.is(f.stats.runFallbacks, 2)
})

test('a cat that sends more than asked: the leaves before the excess are kept, none is served from the excess', async (t) => {
  const leaves = await Promise.all([1, 2].map(async (s) => await rawLeaf(s, 50_000)))
  const { kubo, f, run } = await setup(t, leaves)
  kubo.catExtra = 10_000
  f.fetchRun(parent, run)
  for (const l of leaves) t.deepEqual(Buffer.from(await f.get(l.cid)), Buffer.from(l.block))
  // Every leaf arrived whole before the excess: both verified from the stream, no fallback.
  t.is(f.stats.runLeaves, 2)
  t.deepEqual(kubo.blockGets, [])
})

test('a cat that never answers fails its leaves at the deadline (DEADLINE_EXCEEDED)', async (t) => {
  const leaves = await Promise.all([1, 2].map(async (s) => await rawLeaf(s, 10_000)))
  const { kubo, f, run } = await setup(t, leaves, 800)
  kubo.hangCat = true
  const started = Date.now()
  f.fetchRun(parent, run)
  const err = await t.throwsAsync(f.get((leaves[0] as Leaf).cid))
  t.true(err instanceof CsiError && err.code === Code.DEADLINE_EXCEEDED, err?.message)
  t.true(Date.now() - started < 800 + 5000)
})

test('a dag-pb leaf rebuilt by hand is byte-identical to ipfs-unixfs marshal (any length)', async (t) => {
  const { UnixFS } = await import('ipfs-unixfs')
  const { unixfsFileLeaf } = await import('../../content/unixfs-leaf.js')
  for (const n of [0, 1, 127, 128, 300, 16_383, 16_384, 262_144, 1_048_576]) {
    const data = new Uint8Array(n).map((_, i) => i * 7)
    t.deepEqual(unixfsFileLeaf(data), new UnixFS({ type: 'file', data }).marshal(), `length ${n}`)
  }
})
