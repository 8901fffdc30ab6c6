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

/**
 * Heap one listing entry holds once the shards it came from are gone: its map slot and names-array
 * slot (~50 bytes), its CID's string (~110) and its name with the link name it was cut from.
 * Measured on Node 20: 203-281 bytes for 10-60 character names, 269 for 20 characters in a
 * 300,000-entry HAMT (a larger Map has more slack); counted with ~10% to spare.
 */
export function entryWeight (name: string): number {
  return 256 + 2 * name.length
}

/**
 * Limits for a process with `heapMiB` of V8 heap: one listing being built and the listing cache a
 * quarter of it each (at most the defaults), leaving the rest to the node cache (64 MiB) and the
 * server itself. A listing past its quarter fails with EIO instead of taking the process down.
 */
export function limitsForHeap (heapMiB: number): ContentLimits {
  const quarter = Math.floor(heapMiB * 1024 * 1024 / 4)
  return {
    maxDirEntries: DEFAULT_LIMITS.maxDirEntries,
    maxListingBytes: Math.min(DEFAULT_LIMITS.maxListingBytes, quarter),
    listingCacheBytes: Math.min(DEFAULT_LIMITS.listingCacheBytes, quarter)
  }
}

/**
 * Levels a file DAG may have below its root. Kubo's balanced layout (174 links per node) passes
 * 2^64 bytes within 8 levels and its trickle layout stays far below this; a chain built deeper
 * only costs stack and round trips, and its reads fail with EIO.
 */
export const MAX_FILE_DEPTH = 256

/** A DAG over one of the limits. FAILED_PRECONDITION: the content is fine to hash, not to serve. */
export class ContentLimitError extends CsiError {
  readonly limit: number
  constructor (message: string, limit: number) {
    super(Code.FAILED_PRECONDITION, message)
    this.name = 'ContentLimitError'
    this.limit = limit
  }
}
