// Rebuilding a file leaf's block from the bytes a `cat` stream gave for it, so it can be hashed
// against its CID like any block (content/block-fetcher.ts batches leaves that way).
import type { CID } from 'multiformats/cid'
import * as dagPb from '@ipld/dag-pb'
import { CODEC_RAW } from './unixfs-node.js'

/**
 * The block a leaf's file bytes came from: a raw leaf is its bytes; a dag-pb leaf is rebuilt the
 * way Kubo writes one (UnixFS file node holding the data, no links). If the rebuilt block does not
 * hash to the CID, the caller fetches the real block instead.
 */
export function blockOf (cid: CID, bytes: Buffer): Uint8Array {
  const u8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (cid.code === CODEC_RAW) return u8
  return dagPb.encode({ Data: unixfsFileLeaf(u8), Links: [] })
}

/**
 * The UnixFS `Data` message of a file leaf as Kubo (and ipfs-unixfs) write it: Type = File (field
 * 1), Data (field 2), filesize (field 3). Written here because loading ipfs-unixfs for these three
 * fields cost every FUSE server ~70 ms of start-up; a mismatch only means a block/get fallback.
 */
export function unixfsFileLeaf (data: Uint8Array): Uint8Array {
  const len = varint(data.byteLength)
  const dataField = data.byteLength > 0 ? 1 + len.length + data.byteLength : 0 // empty Data is left out
  const out = new Uint8Array(2 + dataField + 1 + len.length)
  let at = 0
  out[at++] = 0x08; out[at++] = 0x02
  if (dataField > 0) {
    out[at++] = 0x12; out.set(len, at); at += len.length
    out.set(data, at); at += data.byteLength
  }
  out[at++] = 0x18; out.set(len, at)
  return out
}

function varint (n: number): Uint8Array {
  const bytes: number[] = []
  while (n >= 0x80) { bytes.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80) }
  bytes.push(n)
  return Uint8Array.from(bytes)
}
