// Leaf buffer reuse: the pool's quarantine rules, and (through a real BlockFetcher, ContentTree and
// flatfs directory) that a read holding a view of an evicted leaf never sees its buffer reused.
import test from 'ava'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { createLogger } from '../../driver/logger.js'
import { BlockBufferPool, MIN_POOLED_BYTES } from '../../content/block-buffer-pool.js'
import { Kubo } from '../../driver/kubo.js'
import { BlockFetcher } from '../../content/block-fetcher.js'
import { ContentTree } from '../../content/content-tree.js'
import { LocalBlockstore } from '../../content/local-blockstore.js'

const SIZE = 128 * 1024

test('a released buffer waits for the uses that began before its release, and only those', (t) => {
  const pool = new BlockBufferPool({ maxIdleBytes: 8 * SIZE })
  const a = pool.acquire(SIZE)
  const early = pool.beginUse()
  pool.release(a)
  const late = pool.beginUse()
  const b = pool.acquire(SIZE)
  t.not(b.buffer, a.buffer, 'a use that began before the release may still read it')
  pool.endUse(early)
  const c = pool.acquire(SIZE)
  t.is(c.buffer, a.buffer, 'reused once the older use ended, though a newer one still runs')
  pool.endUse(late)
  t.deepEqual(pool.stats, { allocated: 2, reused: 1, released: 1, dropped: 0 })
})

test('only its own buffers come back, once; small ones and unshown ones are handled apart', (t) => {
  const pool = new BlockBufferPool({ maxIdleBytes: 8 * SIZE })
  pool.release(new Uint8Array(SIZE)) // not from the pool
  const a = pool.acquire(SIZE)
  pool.release(a)
  pool.release(a) // a second release of the same buffer is ignored
  t.is(pool.stats.released, 1)
  t.is(pool.acquire(SIZE).buffer, a.buffer)
  t.not(pool.acquire(SIZE).buffer, a.buffer, 'handed out once, not twice')
  const small = pool.acquire(MIN_POOLED_BYTES - 1)
  pool.release(small)
  t.is(pool.stats.released, 1, 'buffers below MIN_POOLED_BYTES are never pooled')
  const unshown = pool.acquire(SIZE)
  const use = pool.beginUse()
  pool.giveBack(unshown) // never shown to anyone: free at once, even with a use running
  t.is(pool.acquire(SIZE).buffer, unshown.buffer)
  pool.endUse(use)
})

test('idle and quarantined buffers are each bounded by maxIdleBytes', (t) => {
  const pool = new BlockBufferPool({ maxIdleBytes: 2 * SIZE })
  const bufs = Array.from({ length: 5 }, () => pool.acquire(SIZE))
  const use = pool.beginUse()
  for (const b of bufs) pool.release(b)
  t.true(pool.heldBytes <= 2 * SIZE, 'quarantine bounded while a use runs')
  pool.endUse(use)
  for (const b of Array.from({ length: 5 }, () => pool.acquire(SIZE))) pool.giveBack(b)
  t.true(pool.heldBytes <= 4 * SIZE)
  t.true(pool.stats.dropped >= 3)
})

/** Kubo's block/get and block/stat, each held until the test lets it answer (with `block`). */
async function slowKubo (block: Uint8Array): Promise<{ url: string, asked: Promise<void>, answer: () => void, close: () => Promise<void> }> {
  let asked!: () => void
  const askedP = new Promise<void>((resolve) => { asked = resolve })
  let answer!: () => void
  const answerP = new Promise<void>((resolve) => { answer = resolve })
  const server = http.createServer((req, res) => {
    const u = req.url ?? ''
    asked()
    void answerP.then(() => {
      if (u.startsWith('/api/v0/block/get')) res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from(block))
      else if (u.startsWith('/api/v0/block/stat')) res.writeHead(200, { 'content-type': 'application/json' }).end('{"Key":"x","Size":1}')
      else res.writeHead(500).end('{"Message":"unexpected"}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    asked: askedP,
    answer,
    close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) }
  }
}

test('a read holding a view of an evicted leaf gets the right bytes while other leaves reuse buffers', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-pool-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  await writeFile(path.join(dir, 'SHARDING'), '/repo/flatfs/shard/v1/next-to-last/2\n')
  const store = LocalBlockstore.open(dir)
  const put = async (cid: CID, bytes: Uint8Array): Promise<void> => {
    await mkdir(path.dirname(store.pathOf(cid)), { recursive: true })
    await writeFile(store.pathOf(cid), bytes)
  }
  // A file of 12 raw leaves, each with its own bytes; leaf 2 is not on disk yet.
  const leaves = await Promise.all(Array.from({ length: 12 }, async (_v, i) => {
    const bytes = Uint8Array.from({ length: SIZE }, (_x, j) => (j * 7 + i * 13) & 0xff)
    return { bytes, cid: CID.createV1(raw.code, await sha256.digest(bytes)) }
  }))
  const fileData = new UnixFS({ type: 'file' })
  for (let i = 0; i < leaves.length; i++) fileData.addBlockSize(BigInt(SIZE))
  const rootBytes = dagPb.encode(dagPb.prepare({ Data: fileData.marshal(), Links: leaves.map(l => ({ Hash: l.cid, Name: '', Tsize: SIZE })) }))
  const rootCid = CID.createV1(dagPb.code, await sha256.digest(rootBytes))
  await put(rootCid, rootBytes)
  for (const [i, l] of leaves.entries()) if (i !== 2) await put(l.cid, l.bytes)

  const kubo = await slowKubo((leaves[2] as { bytes: Uint8Array }).bytes)
  t.teardown(kubo.close)
  const fetcher = new BlockFetcher({ kubo: new Kubo({ url: kubo.url, timeoutMs: 10_000 }), timeoutMs: 10_000, cacheBytes: 4 * SIZE, log: createLogger('error'), localBlocks: store })
  t.teardown(() => fetcher.close())
  const tree = new ContentTree({ fetcher, log: createLogger('error') })
  const root = await tree.node(rootCid)

  await tree.warm(root, 0, 2 * SIZE, rootCid) // leaves 0 and 1 into the cache (one run: pooled buffers)
  t.is(fetcher.poolStats.allocated, 2)
  const got = Buffer.alloc(3 * SIZE)
  const reading = tree.read(root, 0, 3 * SIZE, got, undefined, rootCid) // holds leaves 0-1, waits for leaf 2
  await kubo.asked
  tree.forget(root, 0, 2 * SIZE) // leaves 0 and 1 leave the cache while the read still holds views of them
  t.is(fetcher.poolStats.released, 2)
  for (let i = 4; i < leaves.length; i += 2) await tree.warm(root, i * SIZE, (i + 2) * SIZE, rootCid)
  await put((leaves[2] as { cid: CID }).cid, (leaves[2] as { bytes: Uint8Array }).bytes)
  kubo.answer()
  t.is(await reading, 3 * SIZE)
  t.true(got.equals(Buffer.concat(leaves.slice(0, 3).map(l => l.bytes))), 'leaves 0-1 unchanged under the read')

  // With no read running, released buffers are reused, and what they then hold is still right.
  tree.forget(root, 0, leaves.length * SIZE)
  for (let i = 0; i < leaves.length; i += 2) await tree.warm(root, i * SIZE, (i + 2) * SIZE, rootCid)
  t.true(fetcher.poolStats.reused > 0, JSON.stringify(fetcher.poolStats))
  const all = Buffer.alloc(leaves.length * SIZE)
  t.is(await tree.read(root, 0, all.length, all, undefined, rootCid), all.length)
  t.true(all.equals(Buffer.concat(leaves.map(l => l.bytes))))
})
