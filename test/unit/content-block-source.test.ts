// BlockFetcher over an ordered list of fake block sources: the order they are asked in, the
// refusal of bytes that fail verification (next source, or DATA_LOSS from the last one), and
// the metrics label each block is counted under. Kubo is never reached: the fake sources stand
// in for flatfs and the API (the real ones are covered by content-fs and node-content).
import test from 'ava'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { Code, CsiError } from '../../driver/errors.js'
import { createLogger } from '../../driver/logger.js'
import { Kubo } from '../../driver/kubo.js'
import { BlockFetcher } from '../../content/block-fetcher.js'
import type { BlockSource, BlockSourceName } from '../../content/block-source.js'

class FakeSource implements BlockSource {
  readonly verified = false
  readonly pooled = false
  readonly blocks = new Map<string, Uint8Array>()
  readonly asked: string[] = []
  constructor (readonly name: BlockSourceName, private readonly calls: string[]) {}
  async get (cid: CID): Promise<Uint8Array | undefined> {
    this.asked.push(cid.toString())
    this.calls.push(this.name)
    return this.blocks.get(cid.toString())
  }
}

async function block (text: string): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(text)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

function setup (t: any): { f: BlockFetcher, disk: FakeSource, api: FakeSource, calls: string[] } {
  const calls: string[] = []
  const disk = new FakeSource('disk', calls)
  const api = new FakeSource('api', calls)
  // Port 9 on loopback: nothing listens, and these tests must never get that far.
  const f = new BlockFetcher({ kubo: new Kubo({ url: 'http://127.0.0.1:9', timeoutMs: 1000 }), timeoutMs: 5000, cacheBytes: 1024 * 1024, log: createLogger('error'), sources: [disk, api] })
  t.teardown(() => f.close())
  return { f, disk, api, calls }
}

test('sources are asked in order and the first that has the block answers, counted under its name', async (t) => {
  const { f, disk, api, calls } = setup(t)
  const a = await block('on disk and in the API')
  const b = await block('only in the API')
  disk.blocks.set(a.cid.toString(), a.bytes)
  api.blocks.set(a.cid.toString(), a.bytes)
  api.blocks.set(b.cid.toString(), b.bytes)
  t.deepEqual(Buffer.from(await f.get(a.cid)), Buffer.from(a.bytes))
  t.deepEqual(calls, ['disk'], 'the API is not asked for a block the disk has')
  t.deepEqual(Buffer.from(await f.get(b.cid)), Buffer.from(b.bytes))
  t.deepEqual(calls, ['disk', 'disk', 'api'])
  // Both now come from the cache, which is asked first and asks nobody.
  await f.get(a.cid)
  await f.get(b.cid)
  t.deepEqual(calls, ['disk', 'disk', 'api'])
  t.deepEqual(f.blockCounts(), { blocks: { cache: 2, disk: 1, bitswap: 0, api: 1 }, verificationFailures: { disk: 0, api: 0 } })
})

test('wrong bytes from a source are refused and the next source asked', async (t) => {
  const { f, disk, api, calls } = setup(t)
  const a = await block('the real block')
  disk.blocks.set(a.cid.toString(), new TextEncoder().encode('not the real block'))
  api.blocks.set(a.cid.toString(), a.bytes)
  t.deepEqual(Buffer.from(await f.get(a.cid)), Buffer.from(a.bytes))
  t.deepEqual(calls, ['disk', 'api'])
  t.deepEqual(f.blockCounts(), { blocks: { cache: 0, disk: 0, bitswap: 0, api: 1 }, verificationFailures: { disk: 1, api: 0 } })
  // What was cached is the verified block, not the disk's bytes.
  t.deepEqual(Buffer.from(f.peek(a.cid) ?? []), Buffer.from(a.bytes))
})

test('wrong bytes from the last source are refused with DATA_LOSS (EIO) and not cached', async (t) => {
  const { f, disk, api } = setup(t)
  const a = await block('served wrong by everyone')
  const wrong = new TextEncoder().encode('substituted')
  disk.blocks.set(a.cid.toString(), wrong)
  api.blocks.set(a.cid.toString(), wrong)
  const err = await t.throwsAsync(f.get(a.cid), { instanceOf: CsiError, message: /failed verification/ })
  t.is((err as CsiError).code, Code.DATA_LOSS)
  t.is(f.peek(a.cid), undefined)
  t.deepEqual(f.blockCounts(), { blocks: { cache: 0, disk: 0, bitswap: 0, api: 0 }, verificationFailures: { disk: 1, api: 1 } })
  t.is(f.stats.failed, 1)
})

test('a block no source has is UNAVAILABLE after every source was asked once', async (t) => {
  const { f, disk, api } = setup(t)
  const a = await block('nowhere')
  const err = await t.throwsAsync(f.get(a.cid), { instanceOf: CsiError })
  t.is((err as CsiError).code, Code.UNAVAILABLE)
  t.deepEqual(disk.asked, [a.cid.toString()])
  t.deepEqual(api.asked, [a.cid.toString()])
})
