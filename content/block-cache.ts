// The block cache: verified blocks kept in a byte-bounded LRU, keyed by CID string. Leaf buffers
// (read from disk into pooled buffers) go back to their pool when the cache lets go of them; see
// block-buffer-pool.ts for why a released buffer waits for older reads before it is reused.
import type { CID } from 'multiformats/cid'
import { LRUCache } from 'lru-cache'
import { BlockBufferPool } from './block-buffer-pool.js'
import type { BlockSource } from './block-source.js'

/** Free leaf buffers kept for reuse (and, separately, ones waiting for older reads to end). */
const POOL_IDLE_BYTES = 32 * 1024 * 1024

export class BlockCache implements BlockSource {
  readonly name = 'cache'
  readonly verified = true
  readonly pooled = false
  private readonly lru: LRUCache<string, Uint8Array>
  /** Where leaves read from disk get their buffers. */
  readonly pool = new BlockBufferPool({ maxIdleBytes: POOL_IDLE_BYTES })
  /** Cached blocks known to be file leaves: only their buffers go back to the pool. */
  private readonly leaves = new Set<string>()

  constructor (maxBytes: number) {
    // lru-cache needs maxSize ≥ 1; a block larger than the whole cache is simply not kept.
    this.lru = new LRUCache<string, Uint8Array>({
      maxSize: Math.max(1, maxBytes),
      sizeCalculation: (b) => Math.max(1, b.byteLength),
      dispose: (bytes, key) => { if (this.leaves.delete(key)) this.pool.release(bytes) }
    })
  }

  /** The block's bytes, at once, marking it recently used (undefined: not cached). */
  get (cid: CID): Uint8Array | undefined { return this.lru.get(cid.toString()) }
  has (key: string): boolean { return this.lru.has(key) }

  /**
   * Keeps a block. `ifRoom`: only while the cache has room (a path walk must not evict what the
   * reads after it need). `leaf`: its buffer came from the pool and returns there when dropped.
   */
  set (key: string, bytes: Uint8Array, ifRoom: boolean, leaf: boolean): void {
    if (ifRoom && this.lru.calculatedSize + bytes.byteLength > this.lru.maxSize) return
    this.lru.set(key, bytes)
    if (leaf && this.lru.has(key)) this.leaves.add(key)
  }

  /** A cached block was decoded as a file leaf: its buffer may be reused once it is dropped. */
  markLeaf (key: string): void {
    if (this.lru.has(key)) this.leaves.add(key)
  }

  delete (key: string): void { this.lru.delete(key) }
  clear (): void { this.lru.clear() }

  /** Bytes held now, and the bound. */
  get bytes (): number { return this.lru.calculatedSize }
  get maxBytes (): number { return this.lru.maxSize }
}
