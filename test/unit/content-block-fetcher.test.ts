// BlockFetcher against a loopback stand-in for Kubo's block/get: verification, dedup, cache
// bound, deadlines. (The real Kubo path is covered by test/integration/content-fs.test.ts.)
import test from 'ava'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { identity } from 'multiformats/hashes/identity'
import * as Digest from 'multiformats/hashes/digest'
import * as raw from 'multiformats/codecs/raw'
import { Code, CsiError } from '../../driver/errors.js'
import { createLogger } from '../../driver/logger.js'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Kubo } from '../../driver/kubo.js'
import { BlockFetcher } from '../../content/block-fetcher.js'

interface FakeKubo {
  url: string
  blocks: Map<string, Uint8Array>
  requests: Map<string, number>
  /** cid → what to do instead of answering normally */
  mode: Map<string, 'hang' | 'corrupt' | 'error'>
  auth: string[]
  close: () => Promise<void>
}

async function fakeKubo (): Promise<FakeKubo> {
  const blocks = new Map<string, Uint8Array>()
  const requests = new Map<string, number>()
  const mode = new Map<string, 'hang' | 'corrupt' | 'error'>()
  const auth: string[] = []
  const hanging: http.ServerResponse[] = []
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x')
    const arg = u.searchParams.get('arg') ?? ''
    requests.set(arg, (requests.get(arg) ?? 0) + 1)
    auth.push(String(req.headers.authorization))
    if (req.method !== 'POST' || u.pathname !== '/api/v0/block/get') { res.writeHead(404).end(); return }
    const m = mode.get(arg)
    if (m === 'hang') { hanging.push(res); return }
    const b = blocks.get(arg)
    if (m === 'error' || b === undefined) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ Message: 'block was not found locally (offline)', Code: 0, Type: 'error' }))
      return
    }
    const body = Buffer.from(b)
    if (m === 'corrupt') body[0] = (body[0] as number) ^ 0xff
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    blocks,
    requests,
    mode,
    auth,
    close: async () => {
      for (const r of hanging) r.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

async function block (text: string): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(text)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

const log = createLogger('error')

async function setup (t: any, opts: { timeoutMs?: number, cacheBytes?: number } = {}): Promise<{ kubo: FakeKubo, f: BlockFetcher }> {
  const kubo = await fakeKubo()
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-fetcher-'))
  await writeFile(path.join(dir, 'token'), 'test-token\n')
  const client = new Kubo({ url: kubo.url, tokenFile: path.join(dir, 'token'), timeoutMs: 60_000 })
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const f = new BlockFetcher({ kubo: client, timeoutMs: opts.timeoutMs ?? 60_000, cacheBytes: opts.cacheBytes ?? 1024 * 1024, log })
  t.teardown(async () => { f.close(); await kubo.close() })
  return { kubo, f }
}

test('a block is fetched once, verified, cached, with the auth header', async (t) => {
  const { kubo, f } = await setup(t)
  const b = await block('hello')
  kubo.blocks.set(b.cid.toString(), b.bytes)
  t.deepEqual(Buffer.from(await f.get(b.cid)), Buffer.from(b.bytes))
  t.deepEqual(Buffer.from(await f.get(b.cid)), Buffer.from(b.bytes))
  t.is(kubo.requests.get(b.cid.toString()), 1)
  t.deepEqual(kubo.auth, ['Bearer test-token'])
})

test('concurrent asks for one block share one fetch', async (t) => {
  const { kubo, f } = await setup(t)
  const b = await block('shared')
  kubo.blocks.set(b.cid.toString(), b.bytes)
  const all = await Promise.all(Array.from({ length: 20 }, async () => await f.get(b.cid)))
  t.is(all.length, 20)
  t.is(kubo.requests.get(b.cid.toString()), 1)
  t.is(f.stats.joined, 19)
})

test('wrong bytes are refused (DATA_LOSS) and never cached', async (t) => {
  const { kubo, f } = await setup(t)
  const b = await block('precious')
  kubo.blocks.set(b.cid.toString(), b.bytes)
  kubo.mode.set(b.cid.toString(), 'corrupt')
  const err = await t.throwsAsync(f.get(b.cid)) as CsiError
  t.is(err.code, Code.DATA_LOSS)
  kubo.mode.delete(b.cid.toString())
  t.deepEqual(Buffer.from(await f.get(b.cid)), Buffer.from(b.bytes))
  t.is(kubo.requests.get(b.cid.toString()), 2)
})

test('a Kubo error becomes UNAVAILABLE carrying its message', async (t) => {
  const { f } = await setup(t)
  const b = await block('missing')
  const err = await t.throwsAsync(f.get(b.cid)) as CsiError
  t.is(err.code, Code.UNAVAILABLE)
  t.regex(err.message, /not found locally/)
})

test('a frozen Kubo fails at the deadline; an immediate re-ask fails at once, a later one asks again', async (t) => {
  // 2 s: the memo then holds the timeout for 1 s, long enough that a loaded machine still
  // re-asks inside it.
  const { kubo, f } = await setup(t, { timeoutMs: 2000 })
  const b = await block('frozen')
  kubo.blocks.set(b.cid.toString(), b.bytes)
  kubo.mode.set(b.cid.toString(), 'hang')
  let started = Date.now()
  const err = await t.throwsAsync(f.get(b.cid)) as CsiError
  const elapsed = Date.now() - started
  t.is(err.code, Code.DEADLINE_EXCEEDED)
  t.true(elapsed >= 1900 && elapsed < 20_000, `failed after ${elapsed} ms`)
  started = Date.now()
  await t.throwsAsync(f.get(b.cid))
  t.true(Date.now() - started < 900, 'the memo answered without waiting')
  t.is(kubo.requests.get(b.cid.toString()), 1)
  kubo.mode.delete(b.cid.toString())
  await new Promise(resolve => setTimeout(resolve, 1200))
  t.deepEqual(Buffer.from(await f.get(b.cid)), Buffer.from(b.bytes))
})

test("a caller's signal ends its wait without cancelling the shared fetch", async (t) => {
  const { kubo, f } = await setup(t, { timeoutMs: 3000 })
  const b = await block('slow')
  kubo.blocks.set(b.cid.toString(), b.bytes)
  kubo.mode.set(b.cid.toString(), 'hang')
  const err = await t.throwsAsync(f.get(b.cid, AbortSignal.timeout(100))) as CsiError
  t.is(err.code, Code.DEADLINE_EXCEEDED)
})

test('the cache is bounded in bytes', async (t) => {
  const { kubo, f } = await setup(t, { cacheBytes: 100 })
  const a = await block('a'.repeat(60))
  const b = await block('b'.repeat(60))
  kubo.blocks.set(a.cid.toString(), a.bytes)
  kubo.blocks.set(b.cid.toString(), b.bytes)
  await f.get(a.cid)
  await f.get(b.cid) // evicts a
  t.true(f.has(b.cid))
  t.false(f.has(a.cid))
  await f.get(a.cid)
  t.is(kubo.requests.get(a.cid.toString()), 2)
})

test('a block asked for with ifRoom is cached only while the cache has room: it never evicts', async (t) => {
  const { kubo, f } = await setup(t, { cacheBytes: 100 })
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(async (ch) => await block(ch.repeat(60))))
  for (const x of [a, b, c]) kubo.blocks.set(x!.cid.toString(), x!.bytes)
  t.deepEqual(await f.get(a!.cid, undefined, true), a!.bytes) // room: kept
  t.true(f.has(a!.cid))
  t.deepEqual(await f.get(b!.cid, undefined, true), b!.bytes) // no room: served, not kept, a stays
  t.false(f.has(b!.cid))
  t.true(f.has(a!.cid))
  await f.get(c!.cid) // a demand read evicts as usual
  t.true(f.has(c!.cid))
  t.false(f.has(a!.cid))
})

test('identity CIDs need no request; unknown hash functions are refused without one', async (t) => {
  const { kubo, f } = await setup(t)
  const id = CID.createV1(raw.code, identity.digest(new Uint8Array([1, 2, 3])))
  t.deepEqual(Array.from(await f.get(id)), [1, 2, 3])
  const odd = CID.createV1(raw.code, Digest.create(0x1e, new Uint8Array(32)))
  const err = await t.throwsAsync(f.get(odd)) as CsiError
  t.is(err.code, Code.DATA_LOSS)
  t.regex(err.message, /cannot verify/)
  t.is(kubo.requests.size, 0)
})

test('Kubo not listening fails fast with UNAVAILABLE', async (t) => {
  const kubo = await fakeKubo()
  const url = kubo.url
  await kubo.close()
  const f = new BlockFetcher({ kubo: new Kubo({ url, timeoutMs: 10_000 }), timeoutMs: 10_000, cacheBytes: 1000, log })
  t.teardown(() => f.close())
  const started = Date.now()
  const err = await t.throwsAsync(f.get((await block('x')).cid)) as CsiError
  t.is(err.code, Code.UNAVAILABLE)
  t.true(Date.now() - started < 5000)
})

test('verifcid at the fetcher: a SHA-1 CID or a 19-byte digest is refused with DATA_LOSS before any request, even when Kubo has the bytes', async (t) => {
  const { kubo, f } = await setup(t)
  const bytes = new TextEncoder().encode('named by a weak hash')
  const { createHash } = await import('node:crypto')
  const sha1 = CID.createV1(raw.code, Digest.create(0x11, new Uint8Array(createHash('sha1').update(bytes).digest())))
  const short = CID.createV1(raw.code, Digest.create(sha256.code, (await sha256.digest(bytes)).digest.subarray(0, 19)))
  for (const cid of [sha1, short]) {
    kubo.blocks.set(cid.toString(), bytes)
    const err = await t.throwsAsync(f.get(cid)) as CsiError
    t.is(err.code, Code.DATA_LOSS, cid.toString())
    t.is(kubo.requests.get(cid.toString()), undefined, 'Kubo was never asked for it')
  }
})
