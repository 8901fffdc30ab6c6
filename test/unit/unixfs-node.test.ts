import test from 'ava'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { Code, CsiError } from '../../driver/errors.js'
import { decodeNode, decodeUnixfsData } from '../../content/unixfs-node.js'

async function pbBlock (data: UnixFS, links: dagPb.PBLink[] = []): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = dagPb.encode(dagPb.prepare({ Data: data.marshal(), Links: links }))
  return { cid: CID.createV1(dagPb.code, await sha256.digest(bytes)), bytes }
}

test('UnixFS data: mode and mtime are reported only when present', (t) => {
  const plain = decodeUnixfsData(new UnixFS({ type: 'file', data: new Uint8Array([1, 2]) }).marshal())
  t.is(plain.mode, undefined)
  t.is(plain.mtime, undefined)
  t.deepEqual(Array.from(plain.data ?? []), [1, 2])
  const withMeta = decodeUnixfsData(new UnixFS({ type: 'file', mode: 0o640, mtime: { secs: 1_700_000_000n, nsecs: 5_000_000 } }).marshal())
  t.is(withMeta.mode, 0o640)
  t.is(withMeta.mtime?.secs, 1_700_000_000n)
  t.is(withMeta.mtime?.nsecs, 5_000_000)
})

test('HAMT data keeps fanout and hash type', (t) => {
  const d = decodeUnixfsData(new UnixFS({ type: 'hamt-sharded-directory', fanout: 256n, hashType: 0x22n }).marshal())
  t.is(d.type, 5)
  t.is(d.fanout, 256n)
  t.is(d.hashType, 0x22n)
})

test('a raw block is a file of its own bytes', (t) => {
  const bytes = new Uint8Array([9, 8, 7])
  const n = decodeNode(CID.createV1(raw.code, { code: 0, size: 0, digest: new Uint8Array(), bytes: new Uint8Array([0, 0]) } as any), bytes)
  t.is(n.kind, 'file')
  if (n.kind === 'file') t.is(n.size, 3)
})

test('a file node sums its data and block sizes, and keeps mode/mtime', async (t) => {
  const leaf = await pbBlock(new UnixFS({ type: 'raw', data: new Uint8Array(10) }))
  const data = new UnixFS({ type: 'file', data: new Uint8Array(4), mode: 0o755, mtime: { secs: 10n } })
  data.addBlockSize(10n)
  const root = await pbBlock(data, [{ Hash: leaf.cid, Name: '', Tsize: leaf.bytes.length }])
  const n = decodeNode(root.cid, root.bytes)
  t.is(n.kind, 'file')
  if (n.kind !== 'file') return
  t.is(n.size, 14)
  t.is(n.children.length, 1)
  t.is(n.mode, 0o755)
  t.is(n.mtimeMs, 10_000)
})

test('a file whose block sizes do not match its links is refused as DATA_LOSS', async (t) => {
  const leaf = await pbBlock(new UnixFS({ type: 'raw', data: new Uint8Array(10) }))
  const root = await pbBlock(new UnixFS({ type: 'file' }), [{ Hash: leaf.cid, Name: '', Tsize: 10 }])
  const err = t.throws(() => decodeNode(root.cid, root.bytes))
  t.true(err instanceof CsiError)
  t.is((err as CsiError).code, Code.DATA_LOSS)
})

test('directories, symlinks and unknown codecs', async (t) => {
  const leaf = await pbBlock(new UnixFS({ type: 'file', data: new Uint8Array(1) }))
  const dir = await pbBlock(new UnixFS({ type: 'directory' }), [{ Hash: leaf.cid, Name: 'x.json', Tsize: 5 }])
  const d = decodeNode(dir.cid, dir.bytes)
  t.is(d.kind, 'directory')
  if (d.kind === 'directory') t.deepEqual(d.links.map(l => l.name), ['x.json'])
  const link = await pbBlock(new UnixFS({ type: 'symlink', data: new TextEncoder().encode('../a') }))
  const s = decodeNode(link.cid, link.bytes)
  t.is(s.kind, 'symlink')
  if (s.kind === 'symlink') t.is(new TextDecoder().decode(s.target), '../a')
  const cbor = CID.createV1(0x71, leaf.cid.multihash)
  t.is((t.throws(() => decodeNode(cbor, leaf.bytes)) as CsiError).code, Code.DATA_LOSS)
  t.is((t.throws(() => decodeNode(leaf.cid, new Uint8Array([0xff, 0xff]))) as CsiError).code, Code.DATA_LOSS)
})
