// The links of one verified block, by codec: what a DAG walk (preloader, verify) follows next.
// dag-pb links carry Tsize (the linked subtree's cumulative size), used for progress estimates.
import * as dagPb from '@ipld/dag-pb'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { CsiError, Code } from '../driver/errors.js'

export const CODEC = { raw: 0x55, dagPb: 0x70, dagCbor: 0x71 } as const

export interface BlockLink { cid: CID, /** subtree size from the parent, when the codec records it */ tsize?: number }

/** Throws DATA_LOSS when the block cannot be decoded or its codec is not walkable. */
export function blockLinks (cid: CID, bytes: Uint8Array): BlockLink[] {
  switch (cid.code) {
    case CODEC.raw: return []
    case CODEC.dagPb: {
      let node: dagPb.PBNode
      try { node = dagPb.decode(bytes) } catch (err) { throw new CsiError(Code.DATA_LOSS, `block ${cid.toString()} is not valid dag-pb: ${(err as Error).message}`) }
      return node.Links.map(l => (l.Tsize !== undefined ? { cid: l.Hash, tsize: l.Tsize } : { cid: l.Hash }))
    }
    case CODEC.dagCbor: {
      let value: unknown
      try { value = dagCbor.decode(bytes) } catch (err) { throw new CsiError(Code.DATA_LOSS, `block ${cid.toString()} is not valid dag-cbor: ${(err as Error).message}`) }
      const out: BlockLink[] = []
      collectCids(value, out, 0)
      return out
    }
    default:
      throw new CsiError(Code.DATA_LOSS, `block ${cid.toString()} has codec 0x${cid.code.toString(16)}, which cannot be walked (dag-pb, raw and dag-cbor can)`)
  }
}

function collectCids (v: unknown, out: BlockLink[], depth: number): void {
  if (depth > 64 || v === null || typeof v !== 'object') return
  const asCid = CID.asCID(v)
  if (asCid !== null) { out.push({ cid: asCid }); return }
  if (v instanceof Uint8Array) return
  for (const x of Array.isArray(v) ? v : Object.values(v)) collectCids(x, out, depth + 1)
}
