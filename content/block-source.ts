// One place a block's bytes can come from. BlockFetcher (block-fetcher.ts) asks its sources in
// order: the block cache (block-cache.ts), the node Kubo's flatfs on disk (local-blockstore.ts),
// Kubo's API (kubo-block-api.ts). A source only finds bytes; whether they are the block is the
// fetcher's business: it hashes the bytes of every source that is not `verified` once, against
// the CID, before anyone sees them or they are cached.
import type { CID } from 'multiformats/cid'
import type { BlockBufferPool } from './block-buffer-pool.js'

/** The metrics label of a source (fuse-metrics.ts counts blocks and verification failures by it). */
export type BlockSourceName = 'cache' | 'disk' | 'api'

export interface BlockHint {
  /** The block's size when a parent node told it (a file leaf), so a read can size its buffer. */
  size?: number
  /** Where a `pooled` source gets leaf buffers (they return there when the cache drops them). */
  pool?: BlockBufferPool
}

export interface BlockSource {
  readonly name: BlockSourceName
  /** Its bytes are verified already (the cache holds only verified blocks): not hashed again. */
  readonly verified: boolean
  /** Its bytes for a hinted leaf come from `hint.pool`, and may go back to it once uncached. */
  readonly pooled: boolean
  /**
   * The bytes this source holds for `cid`, or undefined when it does not have them. Throws when
   * it cannot tell (a deadline passed, Kubo refused or failed): the fetcher stops there. The
   * cache answers at once; the others by `deadline` (ms since the epoch) at the latest.
   */
  get: (cid: CID, deadline: number, hint?: BlockHint) => Uint8Array | undefined | Promise<Uint8Array | undefined>
}
