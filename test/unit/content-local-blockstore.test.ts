// Pure logic of the local blockstore fast path: flatfs shard functions and block paths. The end to
// end behaviour (reads from a real Kubo repo, fallbacks) is in test/integration/content-fs.test.ts.
import test from 'ava'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import { LocalBlockstore } from '../../content/local-blockstore.js'
import { parseShardFn } from '../../driver/flatfs-dir.js'

test('shard functions match go-ds-flatfs, including padding of short keys', (t) => {
  const ntl = parseShardFn('/repo/flatfs/shard/v1/next-to-last/2\n')
  t.is(ntl('CIQABCDEFGH'), 'FG')
  t.is(ntl('AB'), '_A')
  t.is(ntl('A'), '__')
  const prefix = parseShardFn('/repo/flatfs/shard/v1/prefix/3')
  t.is(prefix('CIQABC'), 'CIQ')
  t.is(prefix('C'), 'C__')
  const suffix = parseShardFn('/repo/flatfs/shard/v1/suffix/2')
  t.is(suffix('CIQABC'), 'BC')
  t.is(suffix('C'), '_C')
  for (const bad of ['', '/repo/flatfs/shard/v1/next-to-last/0', '/repo/flatfs/shard/v2/prefix/2', '/repo/flatfs/shard/v1/../2', 'next-to-last/2']) {
    t.throws(() => parseShardFn(bad), undefined, bad)
  }
})

test('a block path is <dir>/<shard>/<base32 multihash>.data; CIDv0 and CIDv1 of one multihash share it', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-flatfs-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  await writeFile(path.join(dir, 'SHARDING'), '/repo/flatfs/shard/v1/next-to-last/2\n')
  const store = LocalBlockstore.open(dir)
  const v0 = CID.parse('QmTn6pHdrN9abfUkUxVJourkS4VK8uXApbDrbn7DgFpRd9')
  // The key Kubo writes for this multihash (`ipfs cid format -f %M -b base32upper`, prefix dropped).
  const key = 'CIQFBT3ZIERJLNYWNDX25MCINDPWV7GUJXQB7WMWMK53CEMP7MFCEKA'
  t.is(store.pathOf(v0), path.join(dir, 'EK', `${key}.data`))
  t.is(store.pathOf(CID.createV1(0x70, v0.multihash)), store.pathOf(v0))
  t.is(await store.read(v0), undefined, 'a block this node lacks is a miss, not an error')
  await mkdir(path.join(dir, 'EK'))
  await writeFile(store.pathOf(v0), 'bytes as stored')
  t.is(Buffer.from((await store.read(v0)) as Uint8Array).toString(), 'bytes as stored')
  t.deepEqual(store.stats, { hits: 1, misses: 1, errors: 0 })
})

test('opening refuses what is not a flatfs directory', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-flatfs-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  t.throws(() => LocalBlockstore.open('relative/blocks'), { message: /absolute/ })
  t.throws(() => LocalBlockstore.open(dir), { message: /SHARDING/ })
  await writeFile(path.join(dir, 'SHARDING'), '/repo/flatfs/shard/v1/weird/2')
  t.throws(() => LocalBlockstore.open(dir), { message: /unsupported flatfs shard function/ })
})

test('a symlink or a FIFO planted as a block file is not followed and does not block', async (t) => {
  const { symlink } = await import('node:fs/promises')
  const { execFileSync } = await import('node:child_process')
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-flatfs-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  await writeFile(path.join(dir, 'SHARDING'), '/repo/flatfs/shard/v1/next-to-last/2\n')
  const store = LocalBlockstore.open(dir)
  const v0 = CID.parse('QmTn6pHdrN9abfUkUxVJourkS4VK8uXApbDrbn7DgFpRd9')
  await mkdir(path.dirname(store.pathOf(v0)))
  await symlink('/etc/hostname', store.pathOf(v0))
  t.is(await store.read(v0), undefined, 'symlink refused (ELOOP)')
  await rm(store.pathOf(v0))
  execFileSync('mkfifo', [store.pathOf(v0)])
  const got = await store.read(v0) // returns at once: no writer, empty read
  t.true(got === undefined || got.byteLength === 0)
})
