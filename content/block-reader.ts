// What the UnixFS layer (content-tree.ts) needs from a source of verified blocks. BlockFetcher
// is the real one (cache, the node's flatfs, Kubo's API); tests use an in-memory one. Every
// method is required, so the tree never checks which kind it was given.
import type { CID } from 'multiformats/cid'

/** A leaf of a file node: its CID, size, and offset within that node's file bytes. */
export interface RunLeaf { cid: CID, size: number, offset: number }

export interface BlockReader {
  /** Verified bytes of a block. `ifRoom`: cache it only while the cache has room (path walks). */
  get: (cid: CID, signal?: AbortSignal, ifRoom?: boolean) => Promise<Uint8Array>
  /** A cached block's bytes, without waiting (undefined: not cached). */
  peek: (cid: CID) => Uint8Array | undefined
  /** Starts fetching consecutive leaves of the file node `parent` in batches (read-ahead). */
  fetchRun: (parent: CID, leaves: RunLeaf[]) => void
  /** A sequential reader is past this block: it may leave the cache. */
  evict: (cid: CID) => void
  /** The block was decoded as a file leaf: its buffer may be reused once it leaves the cache. */
  markLeaf: (cid: CID) => void
  /** Brackets code holding views of cached blocks across awaits (see block-buffer-pool.ts). */
  beginUse: () => number
  endUse: (token: number) => void
}
