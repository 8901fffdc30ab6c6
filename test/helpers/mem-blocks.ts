// An in-memory stand-in for BlockFetcher (blocks by CID, the buffer-pool hooks as no-ops) and a
// HAMT builder laid out the way Kubo does it, for ContentTree's unit tests.
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { Code, CsiError } from '../../driver/errors.js'
import type { BlockReader } from '../../content/block-reader.js'
import { bucketIndex, bucketPrefix, hamtHash } from '../../content/hamt.js'

export class MemStore implements BlockReader {
  readonly blocks = new Map<string, Uint8Array>()
  gets = 0
  async get (cid: CID): Promise<Uint8Array> {
    this.gets++
    const b = this.blocks.get(cid.toString())
    if (b === undefined) throw new CsiError(Code.UNAVAILABLE, 'missing')
    return b
  }

  /** Blocks `peek` may see (BlockFetcher.peek sees only its cache). */
  readonly cached = new Set<string>()
  peek (cid: CID): Uint8Array | undefined {
    return this.cached.has(cid.toString()) ? this.blocks.get(cid.toString()) : undefined
  }

  // The buffer-pool hooks of BlockFetcher: nothing here is pooled; uses must pair up.
  openUses = 0
  markLeaf (): void {}
  fetchRun (): void {}
  evict (): void {}
  beginUse (): number { return ++this.openUses }
  endUse (): void { this.openUses-- }

  async putRaw (bytes: Uint8Array): Promise<CID> {
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    this.blocks.set(cid.toString(), bytes)
    return cid
  }

  async putPb (data: UnixFS, links: dagPb.PBLink[]): Promise<CID> {
    const bytes = dagPb.encode(dagPb.prepare({ Data: data.marshal(), Links: links }))
    const cid = CID.createV1(dagPb.code, await sha256.digest(bytes))
    this.blocks.set(cid.toString(), bytes)
    return cid
  }

  /** A file node over children (each [cid, size]) with optional inline data first. */
  async putFile (children: Array<[CID, number]>, inline?: Uint8Array): Promise<CID> {
    const d = new UnixFS({ type: 'file', ...(inline !== undefined ? { data: inline } : {}) })
    for (const [, size] of children) d.addBlockSize(BigInt(size))
    return await this.putPb(d, children.map(([cid, size]) => ({ Hash: cid, Name: '', Tsize: size })))
  }
}

export /** Builds a HAMT the way Kubo lays it out (one entry per bucket, collisions pushed into sub-shards). */
async function buildHamt (s: MemStore, entries: Array<[string, CID]>, fanout: number, depth = 0, hashType = 0x22n): Promise<CID> {
  const buckets = new Map<number, Array<[string, CID]>>()
  for (const e of entries) {
    const i = bucketIndex(hamtHash(new TextEncoder().encode(e[0])), depth, fanout) as number
    buckets.set(i, [...(buckets.get(i) ?? []), e])
  }
  const links: dagPb.PBLink[] = []
  for (const [i, group] of buckets) {
    const prefix = bucketPrefix(i, fanout)
    if (group.length === 1) links.push({ Name: prefix + (group[0] as [string, CID])[0], Hash: (group[0] as [string, CID])[1], Tsize: 1 })
    else links.push({ Name: prefix, Hash: await buildHamt(s, group, fanout, depth + 1, hashType), Tsize: 1 })
  }
  return await s.putPb(new UnixFS({ type: 'hamt-sharded-directory', fanout: BigInt(fanout), hashType }), links)
}
