// What serving one DAG may cost. Blocks are verified, but verified content can still be built to
// exhaust memory (a HAMT whose every slot links the same shard lists as billions of entries), so
// every walk over structure the content chooses is bounded here, and a DAG past a bound fails
// with EIO for that operation alone: the FUSE server keeps serving everything else.
import { CsiError, Code } from '../driver/errors.js'

export interface ContentLimits {
  /** Entries one directory listing may hold (plain or HAMT); past it the listing fails. */
  maxDirEntries: number
  /** Estimated bytes one listing may take while it is built (names dominate). */
  maxListingBytes: number
  /** Bytes the cache of finished listings may hold in total; a larger listing is not kept. */
  listingCacheBytes: number
}

export const DEFAULT_LIMITS: ContentLimits = {
  maxDirEntries: 1_000_000,
  maxListingBytes: 128 * 1024 * 1024,
  listingCacheBytes: 128 * 1024 * 1024
}

/**
 * Levels a HAMT may have: each level consumes log2(fanout) bits of the 64-bit murmur3 hash, so
 * Kubo never makes a shard below this (fanout 256: 8 levels, fanout 16: 16).
 */
export function maxHamtLevels (fanout: number): number {
  return Math.floor(64 / Math.log2(fanout))
}

/** Memory estimate of one listing entry: the name (UTF-16) plus the array, map and CID overhead. */
export function entryWeight (name: string): number {
  return 96 + 2 * name.length
}

/** A DAG over one of the limits. FAILED_PRECONDITION: the content is fine to hash, not to serve. */
export class ContentLimitError extends CsiError {
  readonly limit: number
  constructor (message: string, limit: number) {
    super(Code.FAILED_PRECONDITION, message)
    this.name = 'ContentLimitError'
    this.limit = limit
  }
}
