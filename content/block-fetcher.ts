// The read path's verified blocks: it asks an ordered list of block sources (block-source.ts):
// the block cache (block-cache.ts) first, then, by default, the node Kubo's flatfs on disk
// (local-blockstore.ts) and Kubo's API (kubo-block-api.ts); a run of consecutive leaves comes in
// one `cat` request instead (cat-run.ts). Concurrent asks for one block share one fetch
// (inflight.ts). The bytes of every source but the cache are hashed against the CID once, before
// anyone sees them or they are cached; bytes that fail are refused and the next source asked (the
// last source's failure is the reader's EIO). Every fetch has a deadline, so a frozen or dead Kubo
// turns into an error, never a hung reader; a block that timed out fails at once for a moment
// after (timeout-memo.ts).
import type { CID } from 'multiformats/cid'
import { CsiError, Code } from '../driver/errors.js'
import type { Logger } from '../driver/logger.js'
import type { Kubo } from '../driver/kubo.js'
import { IDENTITY, cidProblem, checkCid, verifyBlock } from './verify-block.js'
import type { LocalBlockstore } from './local-blockstore.js'
import type { BlockBufferPool } from './block-buffer-pool.js'
import { BlockCache } from './block-cache.js'
import type { BlockReader, RunLeaf } from './block-reader.js'
import type { BlockHint, BlockSource, BlockSourceName } from './block-source.js'
import { Inflight, raceSignal, type Deferred } from './inflight.js'
import { KuboBlockApi } from './kubo-block-api.js'
import { StreamGc } from './stream-gc.js'
import { TimeoutMemo } from './timeout-memo.js'
import { blockOf } from './unixfs-leaf.js'
import { CODEC_DAG_PB, CODEC_RAW } from './unixfs-node.js'

/** Largest leaf fetched through a run; Kubo's chunkers stay at or below 1 MiB by default. */
export const MAX_RUN_LEAF = 1024 * 1024
/** Bytes asked for in one run request: big enough to amortise the request, small enough to stream early. */
export const RUN_BYTES = 8 * 1024 * 1024

export interface BlockFetcherInit {
  /** The Kubo client blocks come from (its maxSockets bounds parallel block requests). */
  kubo: Kubo
  /** Deadline of one block fetch, from the moment it is asked for. */
  timeoutMs: number
  cacheBytes: number
  log: Logger
  /** The node Kubo's flatfs blockstore: blocks this node has are read from disk, not through the API. */
  localBlocks?: LocalBlockstore
  /**
   * The sources asked after the cache, in order; by default `localBlocks` (when given), then
   * Kubo's API. Read-ahead runs read `localBlocks` and stream from `kubo` whatever this says; a
   * leaf they cannot deliver verified is fetched through these sources.
   */
  sources?: BlockSource[]
}

export class BlockFetcher implements BlockReader {
  private readonly timeoutMs: number
  private readonly log: Logger
  private readonly local: LocalBlockstore | undefined
  private readonly api: KuboBlockApi
  private readonly cache: BlockCache
  /** Asked in order after the cache (which answers at once, before any shared fetch is joined). */
  private readonly sources: readonly BlockSource[]
  private readonly inflight = new Inflight<Uint8Array>()
  /** Blocks whose fetch just hit its deadline fail at once for a moment (see timeout-memo.ts). */
  private readonly recentTimeouts: TimeoutMemo
  private closed = false
  private warnedForeignStore = false
  private readonly gc = new StreamGc()
  /**
   * Counters for metrics (fuse-metrics.ts), tests and debug logs, by source name (see `count`).
   * fetched = localHits (source `disk`, of which `bitswap` Kubo fetched first) + blocks through
   * the API; misses: asks the cache could not answer; localBad/apiBad: blocks that failed
   * verification.
   */
  readonly stats = { fetched: 0, cacheHits: 0, misses: 0, joined: 0, failed: 0, runs: 0, runLeaves: 0, runFallbacks: 0, localHits: 0, localBad: 0, bitswap: 0, apiBad: 0 }

  constructor (init: BlockFetcherInit) {
    this.timeoutMs = init.timeoutMs
    this.log = init.log
    this.local = init.localBlocks
    this.api = new KuboBlockApi(init.kubo)
    this.recentTimeouts = new TimeoutMemo(Math.min(1000, init.timeoutMs))
    this.cache = new BlockCache(init.cacheBytes)
    this.sources = init.sources ?? (this.local !== undefined ? [this.local, this.api] : [this.api])
  }

  /**
   * Verified bytes of a block; `signal` bounds this caller's wait (the shared fetch has its own
   * deadline). `ifRoom`: the caller needs the block now but nobody may read its bytes again soon (resolving
   * a path: a file's size comes from its root block). It is cached only while the cache has room,
   * so a walk over a tree larger than the cache does not evict everything before the reads that
   * follow it (an LRU under a scan keeps nothing useful).
   */
  async get (cid: CID, signal?: AbortSignal, ifRoom = false): Promise<Uint8Array> {
    if (cidProblem(cid) !== undefined) {
      this.log.error('refusing a block whose CID cannot be trusted', { cid: cid.toString(), code: cid.multihash.code, digestBytes: cid.multihash.digest.length })
      checkCid(cid)
    }
    if (cid.multihash.code === IDENTITY) return cid.multihash.digest // the CID is the block
    const key = cid.toString()
    const hit = this.cache.get(cid)
    if (hit !== undefined) { this.count(this.cache.name, 'hit'); return hit }
    this.stats.misses++
    let p = this.inflight.get(key)
    if (p === undefined) {
      // The kernel retries a failed readahead page with a second read of the same range at once;
      // without this memo one read(2) against a frozen Kubo would take twice the deadline.
      if (this.recentTimeouts.has(key)) throw new CsiError(Code.DEADLINE_EXCEEDED, `kubo block/get ${key}: no answer within ${this.timeoutMs} ms moments ago; not asking again yet`)
      p = this.inflight.start(key, () => this.walk(cid, key, ifRoom))
    } else {
      this.stats.joined++
    }
    return signal === undefined ? await p : await raceSignal(p, signal, key)
  }

  /** A cached block's verified bytes, without waiting or counting (undefined: not cached). */
  peek (cid: CID): Uint8Array | undefined {
    if (cid.multihash.code === IDENTITY) return cid.multihash.digest
    return this.cache.get(cid)
  }

  /**
   * Blocks served, and blocks refused for failing verification, by metrics label: each source's
   * name, and `bitswap` for blocks read from disk after Kubo fetched them for a read-ahead run.
   */
  blockCounts (): { blocks: Record<BlockSourceName | 'bitswap', number>, verificationFailures: Record<'disk' | 'api', number> } {
    const f = this.stats
    return {
      blocks: { cache: f.cacheHits, disk: f.localHits - f.bitswap, bitswap: f.bitswap, api: f.fetched - f.localHits },
      verificationFailures: { disk: f.localBad, api: f.apiBad }
    }
  }

  /** Bytes in the block cache now, and its bound. */
  get cacheBytes (): number { return this.cache.bytes }
  get cacheMaxBytes (): number { return this.cache.maxBytes }

  /**
   * A dag-pb block was decoded as a file leaf: nothing long-lived keeps views of its bytes, so
   * its buffer may be reused once it leaves the cache. (Raw blocks are always leaves.)
   */
  markLeaf (cid: CID): void {
    this.cache.markLeaf(cid.toString())
  }

  /**
   * Brackets code that holds views of cached blocks across awaits (a FUSE read gathering its
   * parts): no buffer released meanwhile is reused before `endUse`.
   */
  beginUse (): number { return this.cache.pool.beginUse() }
  endUse (token: number): void { this.cache.pool.endUse(token) }

  /** Pool counters, for tests and debug logs. */
  get poolStats (): BlockBufferPool['stats'] { return this.cache.pool.stats }

  has (cid: CID): boolean {
    return cid.multihash.code === IDENTITY || this.cache.has(cid.toString())
  }

  /** Drops a block from the cache (a sequential reader consumed it; the kernel page cache has it now). */
  evict (cid: CID): void {
    this.cache.delete(cid.toString())
  }

  /**
   * Starts fetching leaves (raw, or dag-pb leaves as Kubo writes them) that are consecutive in the
   * file node `parent`, with one `cat` request per run of up to RUN_BYTES instead of one
   * `block/get` per leaf. Leaves already cached or being fetched are skipped. Each leaf's bytes are
   * verified against its CID (a dag-pb leaf is rebuilt from its data and hashed); a leaf that does
   * not verify, or that the stream does not deliver, is fetched on its own with block/get, so a
   * wrong guess costs one more request and never serves unverified bytes. Callers then `get` the
   * leaves, joining these fetches.
   */
  fetchRun (parent: CID, leaves: RunLeaf[]): void {
    if (this.closed) return
    let run: RunLeaf[] = []
    let runBytes = 0
    const flush = (): void => {
      if (run.length > 0) this.startRun(parent, run)
      run = []
      runBytes = 0
    }
    for (const l of leaves) {
      const key = l.cid.toString()
      const usable = l.cid.multihash.code !== IDENTITY && cidProblem(l.cid) === undefined &&
        (l.cid.code === CODEC_RAW || l.cid.code === CODEC_DAG_PB) && l.size > 0 && l.size <= MAX_RUN_LEAF
      if (!usable || this.cache.has(key) || this.inflight.has(key) || this.recentTimeouts.has(key)) { flush(); continue }
      const last = run[run.length - 1]
      if (last !== undefined && (last.offset + last.size !== l.offset || runBytes + l.size > RUN_BYTES)) flush()
      run.push(l)
      runBytes += l.size
    }
    flush()
  }

  private startRun (parent: CID, run: RunLeaf[]): void {
    const waiters = run.map(l => this.inflight.claim(l.cid.toString()))
    this.gc.streamed(run.reduce((sum, l) => sum + l.size, 0))
    const local = this.local
    if (local === undefined) { this.streamRun(parent, run, waiters); return }
    // Leaves on this node's disk are read from there (all at once: the fs thread pool bounds
    // them). A leaf the node lacks is fetched by Kubo (`block/stat` makes it get the block over
    // bitswap and answers with a few bytes) and then read from disk like the rest: streaming it
    // out of Kubo over HTTP as well cost Kubo and this process CPU for nothing.
    run.forEach((l, i) => {
      const w = waiters[i] as Deferred<Uint8Array>
      this.ask(local, l.cid, Date.now() + this.timeoutMs, { size: l.size }, false, false)
        .then(async (b) => b ?? await this.fetchThenReadLocal(local, l.cid, l.size))
        .then(w.resolve, w.reject)
    })
  }

  /** Has Kubo fetch a block (over bitswap if need be), then reads it from disk; the sources after the disk if that fails. */
  private async fetchThenReadLocal (local: LocalBlockstore, cid: CID, sizeHint: number): Promise<Uint8Array> {
    const key = cid.toString()
    const deadline = Date.now() + this.timeoutMs
    try {
      if (this.closed) throw new CsiError(Code.UNAVAILABLE, 'block fetcher is closed')
      await this.api.stat(cid, deadline)
      const bytes = await this.ask(local, cid, deadline, { size: sizeHint }, false, false)
      if (bytes !== undefined) { this.stats.bitswap++; return bytes }
      if (!this.warnedForeignStore) {
        // Kubo has the block but the directory does not: it is some other repo's, or not flatfs.
        this.warnedForeignStore = true
        this.log.warn('Kubo has a block its blocks directory lacks: is --kubo-blocks-dir the blockstore of the --kubo-api Kubo? Reading through the API', { cid: key, dir: local.dir })
      }
    } catch (err) {
      if (err instanceof CsiError && err.code === Code.DEADLINE_EXCEEDED) {
        this.stats.failed++
        this.recentTimeouts.remember(key)
        throw err
      }
    }
    return await this.walk(cid, key, false, this.sources.indexOf(local) + 1)
  }

  /** The run through one `cat` stream: each leaf is hashed as it arrives, a bad one fetched alone. */
  private streamRun (parent: CID, run: RunLeaf[], waiters: Array<Deferred<Uint8Array>>): void {
    this.stats.runs++
    this.api.catRun(parent, run, this.timeoutMs, {
      leaf: (i, bytes) => {
        const l = run[i] as RunLeaf
        const block = blockOf(l.cid, bytes)
        let ok = false
        try {
          verifyBlock(l.cid, block)
          ok = true
        } catch {}
        if (ok) {
          this.stats.fetched++
          this.stats.runLeaves++
          this.keep(l.cid.toString(), block, false)
          ;(waiters[i] as Deferred<Uint8Array>).resolve(block)
        } else {
          // A dag-pb leaf rebuilt differently is a wrong guess; a raw leaf is the block itself.
          if (l.cid.code === CODEC_RAW) this.stats.apiBad++
          this.fallback(i, run, waiters)
        }
      },
      rest: (from, err) => {
        const timedOut = err.code === Code.DEADLINE_EXCEEDED
        for (let i = from; i < run.length; i++) {
          if (timedOut) {
            const l = run[i] as RunLeaf
            this.stats.failed++
            this.recentTimeouts.remember(l.cid.toString())
            ;(waiters[i] as Deferred<Uint8Array>).reject(new CsiError(Code.DEADLINE_EXCEEDED, `kubo cat of ${l.cid.toString()}: no data within ${this.timeoutMs} ms`))
          } else {
            this.fallback(i, run, waiters)
          }
        }
      }
    })
  }

  /** Fetches leaf i of a run on its own (block/get, own deadline) and settles its waiter. */
  private fallback (i: number, run: RunLeaf[], waiters: Array<Deferred<Uint8Array>>): void {
    const l = run[i] as RunLeaf
    const w = waiters[i] as Deferred<Uint8Array>
    this.stats.runFallbacks++
    this.walk(l.cid, l.cid.toString()).then(w.resolve, w.reject)
  }

  close (): void {
    this.closed = true
    this.cache.clear()
  }

  private keep (key: string, bytes: Uint8Array, ifRoom: boolean, leaf = false): void {
    if (this.closed) return
    this.cache.set(key, bytes, ifRoom, leaf)
  }

  /**
   * Asks the sources from index `from` on, in order, for a block the cache lacks: the first that
   * has it and whose bytes verify answers. One deadline bounds the whole walk.
   */
  private async walk (cid: CID, key: string, ifRoom = false, from = 0): Promise<Uint8Array> {
    const deadline = Date.now() + this.timeoutMs
    try {
      for (let i = from; i < this.sources.length; i++) {
        const bytes = await this.ask(this.sources[i] as BlockSource, cid, deadline, undefined, ifRoom, i === this.sources.length - 1)
        if (bytes !== undefined) return bytes
      }
      throw new CsiError(Code.UNAVAILABLE, `no block source has ${key}`)
    } catch (err) {
      this.stats.failed++
      if (err instanceof CsiError && err.code === Code.DEADLINE_EXCEEDED) this.recentTimeouts.remember(key)
      throw err
    }
  }

  /**
   * One source's verified bytes of a block (now cached), or undefined: it does not have the
   * block, or its bytes failed verification and another source comes after it (`last`: they
   * are refused with DATA_LOSS, the reader's EIO). A source's errors propagate.
   */
  private async ask (source: BlockSource, cid: CID, deadline: number, hint: BlockHint | undefined, ifRoom: boolean, last: boolean): Promise<Uint8Array | undefined> {
    if (this.closed) throw new CsiError(Code.UNAVAILABLE, 'block fetcher is closed')
    const bytes = await source.get(cid, deadline, { ...hint, pool: this.cache.pool })
    if (bytes === undefined) return undefined
    if (!source.verified) {
      try {
        verifyBlock(cid, bytes)
      } catch (err) {
        this.count(source.name, 'bad')
        const fields = { cid: cid.toString(), source: source.name, bytes: bytes.byteLength, error: (err as Error).message }
        if (last) {
          this.log.error('block failed verification, refusing to serve it', fields)
          throw err
        }
        // The next source is asked; if it serves the same bytes they fail again and the read gets EIO.
        this.log.warn(`block on ${source.name} failed verification, asking the next source`, fields)
        return undefined
      }
    }
    this.count(source.name, 'hit')
    this.keep(cid.toString(), bytes, ifRoom, source.pooled && cid.code === CODEC_RAW)
    return bytes
  }

  /** Counts a block a source delivered (`hit`) or whose bytes it failed verification (`bad`). */
  private count (name: BlockSourceName, what: 'hit' | 'bad'): void {
    const s = this.stats
    if (what === 'bad') {
      if (name === 'disk') s.localBad++
      else if (name === 'api') s.apiBad++
      return
    }
    if (name === 'cache') { s.cacheHits++; return }
    s.fetched++
    if (name === 'disk') s.localHits++
  }
}
