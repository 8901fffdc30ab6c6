// Read-only access to the node Kubo's flatfs blockstore (`$IPFS_PATH/blocks`), so a block that is
// already on this node is read from disk instead of being copied through Kubo's HTTP API. This is
// the fast path of the read path: no request, no HTTP framing, no copy in Kubo. It is safe because
// every block read here is still hashed against its CID by the caller; a missing, partial or
// corrupt file simply falls back to Kubo's API (which also fetches blocks the node lacks).
//
// flatfs (github.com/ipfs/go-ds-flatfs) stores a block under its datastore key: the multihash in
// unpadded upper-case RFC 4648 base32 (Kubo's dshelp.MultihashToDsKey), in a directory chosen by
// the shard function written to `blocks/SHARDING`, as `<key>.data`. Writes go to a temporary file
// that is renamed into place, so a reader sees a whole block or nothing.
import fs from 'node:fs'
import path from 'node:path'
import { base32upper } from 'multiformats/bases/base32'
import type { CID } from 'multiformats/cid'
import type { BlockBufferPool } from './block-buffer-pool.js'
import type { BlockHint, BlockSource } from './block-source.js'
import { openFlatfsDir, type ShardFn } from '../driver/flatfs-dir.js'

/** Anything larger is not a block Kubo would write (its network limit is 2 MiB). */
const MAX_BLOCK_BYTES = 4 * 1024 * 1024
/** First read when the size is not known: Kubo's default chunk (256 KiB) plus dag-pb framing. */
const DEFAULT_GUESS = 256 * 1024
/**
 * The directory belongs to another program: never follow a symlink planted as a block file, and
 * never block on a FIFO (an open of one without a writer would hold a thread-pool thread forever).
 * What such a file yields is hashed like any block and fails.
 */
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK
/** Scratch buffers kept for reads without a size hint (one per concurrent read). */
const MAX_SCRATCH = 64
/** Room past a size hint: dag-pb framing of a leaf, and one byte to see that the block ended. */
const SLACK = 4096

export class LocalBlockstore implements BlockSource {
  readonly name = 'disk'
  readonly verified = false
  readonly pooled = true
  readonly dir: string
  private readonly shard: ShardFn
  /** Counters for tests and debug logs. */
  readonly stats = { hits: 0, misses: 0, errors: 0 }
  private readonly scratch: Buffer[] = []

  private constructor (dir: string, shard: ShardFn) {
    this.dir = dir
    this.shard = shard
  }

  /** Opens a flatfs directory; throws with a clear reason when it is not one we can read. */
  static open (dir: string): LocalBlockstore {
    return new LocalBlockstore(dir, openFlatfsDir(dir))
  }

  /** Where flatfs keeps the block with this CID's multihash. */
  pathOf (cid: CID): string {
    // Kubo's key is the multihash in unpadded upper-case base32 (no multibase prefix).
    const key = base32upper.baseEncode(cid.multihash.bytes)
    return path.join(this.dir, this.shard(key), `${key}.data`)
  }

  /** BlockSource: the block as stored here (a local read: no deadline needed). */
  async get (cid: CID, _deadline: number, hint?: BlockHint): Promise<Uint8Array | undefined> {
    return await this.read(cid, hint?.size, hint?.pool)
  }

  /**
   * The block's bytes as stored, or undefined when this node does not have it (or it cannot be
   * read). Unverified: the caller hashes them against the CID before use. `pool`: where a read
   * with a size hint (a leaf) gets its buffer; the caller releases it to the pool once the block
   * leaves its cache (see block-buffer-pool.ts).
   */
  async read (cid: CID, sizeHint?: number, pool?: BlockBufferPool): Promise<Uint8Array | undefined> {
    // Plain fds and callbacks, not fs/promises FileHandles: a FileHandle is a tracked object, and
    // creating one per block was the largest item of a metadata walk's profile.
    let fd: number
    try {
      fd = await new Promise<number>((resolve, reject) => fs.open(this.pathOf(cid), OPEN_FLAGS, (err, fd) => err !== null ? reject(err) : resolve(fd)))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.stats.misses++
      else this.stats.errors++
      return undefined
    }
    // Without a size hint (directories, file roots: mostly small) the first read goes into a
    // reused scratch buffer and the block is copied out at its size.
    const scratch = sizeHint === undefined ? this.scratch.pop() ?? Buffer.allocUnsafeSlow(DEFAULT_GUESS + SLACK) : undefined
    const first = scratch ?? (pool !== undefined ? pool.acquire(Math.min(MAX_BLOCK_BYTES, (sizeHint ?? DEFAULT_GUESS) + SLACK)) : undefined)
    let kept: Buffer | undefined
    try {
      // A block that fits the first read costs open + read (+ close, not waited for): two
      // thread-pool round trips instead of four with an fstat; a larger one reads on into a
      // buffer twice the size.
      let buf = first ?? Buffer.allocUnsafeSlow(Math.min(MAX_BLOCK_BYTES, (sizeHint ?? DEFAULT_GUESS) + SLACK))
      let got = 0
      for (;;) {
        const at = got
        const b = buf
        const bytesRead = await new Promise<number>((resolve, reject) => fs.read(fd, b, at, b.length - at, at, (err, n) => err !== null ? reject(err) : resolve(n)))
        got += bytesRead
        if (bytesRead === 0 || got < buf.length) break
        if (buf.length >= MAX_BLOCK_BYTES) { this.stats.errors++; return undefined }
        const bigger = Buffer.allocUnsafeSlow(Math.min(MAX_BLOCK_BYTES, buf.length * 2))
        buf.copy(bigger, 0, 0, got)
        buf = bigger
      }
      this.stats.hits++
      // The block cache keeps what it is given: a block much smaller than its buffer (or in the
      // scratch buffer) gets its own.
      if (buf === scratch || got < buf.length / 2) buf = Buffer.from(buf.subarray(0, got))
      kept = buf
      return new Uint8Array(buf.buffer, buf.byteOffset, got)
    } catch {
      this.stats.errors++
      return undefined
    } finally {
      if (scratch !== undefined && this.scratch.length < MAX_SCRATCH) this.scratch.push(scratch)
      // A pooled buffer nobody was shown (the block did not fit it, was copied out, or failed).
      if (first !== undefined && first !== scratch && first !== kept) pool?.giveBack(first)
      fs.close(fd, () => {})
    }
  }


}
