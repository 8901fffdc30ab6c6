// Fetches blocks from Kubo (`block/get`), verifies each against its CID, and keeps the verified
// ones in a byte-bounded LRU. Concurrent requests for one block share a single fetch. Every
// fetch has a deadline, so a frozen or dead Kubo turns into an error, never a hung reader.
// Runs of consecutive leaves come in one `cat` request (fetchRun): one HTTP request per block was
// the limit of sequential reads. Each leaf cut from that stream is still hashed against its CID.
import http from 'node:http'
import https from 'node:https'
import v8 from 'node:v8'
import vm from 'node:vm'
import { LRUCache } from 'lru-cache'
import type { CID } from 'multiformats/cid'
import * as dagPb from '@ipld/dag-pb'
import { CsiError, Code, toCsiError } from '../driver/errors.js'
import type { Logger } from '../driver/logger.js'
import { rawPost } from './raw-http-stream.js'
import { IDENTITY, cidProblem, checkCid, verifyBlock } from './verify-block.js'
import type { LocalBlockstore } from './local-blockstore.js'
import { BlockBufferPool } from './block-buffer-pool.js'

/** Kubo refuses blocks over 2 MiB on the network; anything much larger is not a block. */
const MAX_BLOCK_BYTES = 4 * 1024 * 1024
/** Parallel HTTP requests to Kubo; the rest queue in the agent (their deadline keeps running). */
const MAX_SOCKETS = 16
/** Largest leaf fetched through a run; Kubo's chunkers stay at or below 1 MiB by default. */
export const MAX_RUN_LEAF = 1024 * 1024
/** Bytes asked for in one run request: big enough to amortise the request, small enough to stream early. */
export const RUN_BYTES = 8 * 1024 * 1024
const CODEC_RAW = 0x55
const CODEC_DAG_PB = 0x70

/** Free leaf buffers kept for reuse (and, separately, ones waiting for older reads to end). */
const POOL_IDLE_BYTES = 32 * 1024 * 1024

/** A leaf of a file node: its CID, size, and offset within that node's file bytes. */
export interface RunLeaf { cid: CID, size: number, offset: number }

/**
 * Streaming allocates a buffer per run that becomes garbage soon after; V8 collects external
 * memory lazily, so a 1 GiB stream grew the process by hundreds of MiB of dead buffers. A full
 * collection every STREAM_GC_BYTES of streamed data (a few ms each) keeps the RSS flat.
 */
const STREAM_GC_BYTES = 128 * 1024 * 1024
let collectGarbage: (() => void) | undefined
function gcNudge (): void {
  if (collectGarbage === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc')
      collectGarbage = vm.runInNewContext('gc') as () => void
    } catch {
      collectGarbage = () => {}
    }
  }
  collectGarbage()
}

interface Deferred { resolve: (b: Uint8Array) => void, reject: (e: unknown) => void }

export interface BlockFetcherInit {
  kuboApi: string
  headers: Record<string, string>
  /** Deadline of one block fetch, from the moment it is asked for. */
  timeoutMs: number
  cacheBytes: number
  log: Logger
  /** Parallel HTTP requests to Kubo (default MAX_SOCKETS); the preloader sizes it to its concurrency. */
  maxSockets?: number
  /** The node Kubo's flatfs blockstore: blocks this node has are read from disk, not through the API. */
  localBlocks?: LocalBlockstore
}

export class BlockFetcher {
  private readonly base: URL
  private readonly basePath: string
  private readonly agent: http.Agent
  private readonly request: typeof http.request
  private readonly headers: Record<string, string>
  private readonly timeoutMs: number
  private readonly log: Logger
  private readonly local: LocalBlockstore | undefined
  private readonly cache: LRUCache<string, Uint8Array>
  /** Leaf buffers read from disk are reused (see block-buffer-pool.ts). */
  private readonly pool = new BlockBufferPool({ maxIdleBytes: POOL_IDLE_BYTES })
  /** Cached blocks known to be file leaves: only their buffers go back to the pool. */
  private readonly leaves = new Set<string>()
  private readonly inflight = new Map<string, Promise<Uint8Array>>()
  /** Blocks whose fetch just hit its deadline → until when a new ask fails at once. */
  private readonly recentTimeouts = new Map<string, number>()
  private readonly timeoutMemoMs: number
  private closed = false
  private warnedForeignStore = false
  /** Run bytes asked for since the last gcNudge. */
  private streamed = 0
  /** Counters for tests and debug logs. */
  readonly stats = { fetched: 0, cacheHits: 0, joined: 0, failed: 0, runs: 0, runLeaves: 0, runFallbacks: 0, localHits: 0, localBad: 0 }

  constructor (init: BlockFetcherInit) {
    this.base = new URL(init.kuboApi)
    this.basePath = this.base.pathname.replace(/\/$/, '')
    const isHttps = this.base.protocol === 'https:'
    const maxSockets = init.maxSockets ?? MAX_SOCKETS
    this.agent = isHttps ? new https.Agent({ keepAlive: true, maxSockets }) : new http.Agent({ keepAlive: true, maxSockets })
    this.request = isHttps ? https.request : http.request
    this.headers = { ...init.headers, 'content-length': '0' }
    this.timeoutMs = init.timeoutMs
    this.log = init.log
    this.local = init.localBlocks
    this.timeoutMemoMs = Math.min(1000, init.timeoutMs)
    // lru-cache needs maxSize ≥ 1; a block larger than the whole cache is simply not kept.
    this.cache = new LRUCache<string, Uint8Array>({
      maxSize: Math.max(1, init.cacheBytes),
      sizeCalculation: (b) => Math.max(1, b.byteLength),
      dispose: (bytes, key) => { if (this.leaves.delete(key)) this.pool.release(bytes) }
    })
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
    const hit = this.cache.get(key)
    if (hit !== undefined) { this.stats.cacheHits++; return hit }
    let p = this.inflight.get(key)
    if (p === undefined) {
      // The kernel retries a failed readahead page with a second read of the same range at once;
      // without this memo one read(2) against a frozen Kubo would take twice the deadline.
      const until = this.recentTimeouts.get(key)
      if (until !== undefined) {
        if (Date.now() < until) throw new CsiError(Code.DEADLINE_EXCEEDED, `kubo block/get ${key}: no answer within ${this.timeoutMs} ms moments ago; not asking again yet`)
        this.recentTimeouts.delete(key)
      }
      p = this.fetchVerified(cid, key, ifRoom).finally(() => this.inflight.delete(key))
      this.inflight.set(key, p)
    } else {
      this.stats.joined++
    }
    return signal === undefined ? await p : await raceSignal(p, signal, key)
  }

  /** A cached block's verified bytes, without waiting or counting (undefined: not cached). */
  peek (cid: CID): Uint8Array | undefined {
    if (cid.multihash.code === IDENTITY) return cid.multihash.digest
    return this.cache.get(cid.toString())
  }

  /**
   * A dag-pb block was decoded as a file leaf: nothing long-lived keeps views of its bytes, so
   * its buffer may be reused once it leaves the cache. (Raw blocks are always leaves.)
   */
  markLeaf (cid: CID): void {
    const key = cid.toString()
    if (this.cache.has(key)) this.leaves.add(key)
  }

  /**
   * Brackets code that holds views of cached blocks across awaits (a FUSE read gathering its
   * parts): no buffer released meanwhile is reused before `endUse`.
   */
  beginUse (): number { return this.pool.beginUse() }
  endUse (token: number): void { this.pool.endUse(token) }

  /** Pool counters, for tests and debug logs. */
  get poolStats (): BlockBufferPool['stats'] { return this.pool.stats }

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
    const now = Date.now()
    for (const l of leaves) {
      const key = l.cid.toString()
      const usable = l.cid.multihash.code !== IDENTITY && cidProblem(l.cid) === undefined &&
        (l.cid.code === CODEC_RAW || l.cid.code === CODEC_DAG_PB) && l.size > 0 && l.size <= MAX_RUN_LEAF
      const memo = this.recentTimeouts.get(key)
      if (!usable || this.cache.has(key) || this.inflight.has(key) || (memo !== undefined && now < memo)) { flush(); continue }
      const last = run[run.length - 1]
      if (last !== undefined && (last.offset + last.size !== l.offset || runBytes + l.size > RUN_BYTES)) flush()
      run.push(l)
      runBytes += l.size
    }
    flush()
  }

  /** Registers in-flight promises for a run's leaves; their deferreds settle them. */
  private claim (run: RunLeaf[]): Deferred[] {
    return run.map((l) => {
      const key = l.cid.toString()
      let d: Deferred = { resolve: () => {}, reject: () => {} }
      const p: Promise<Uint8Array> = new Promise<Uint8Array>((resolve, reject) => { d = { resolve, reject } })
        .finally(() => { if (this.inflight.get(key) === p) this.inflight.delete(key) })
      p.catch(() => {}) // a read-ahead nobody waits for must not be an unhandled rejection
      this.inflight.set(key, p)
      return d
    })
  }

  private startRun (parent: CID, run: RunLeaf[]): void {
    const waiters = this.claim(run)
    this.streamed += run.reduce((sum, l) => sum + l.size, 0)
    if (this.streamed >= STREAM_GC_BYTES) { this.streamed = 0; setImmediate(gcNudge) }
    if (this.local === undefined) { this.streamRun(parent, run, waiters); return }
    // Leaves on this node's disk are read from there (all at once: the fs thread pool bounds
    // them). A leaf the node lacks is fetched by Kubo (`block/stat` makes it get the block over
    // bitswap and answers with a few bytes) and then read from disk like the rest: streaming it
    // out of Kubo over HTTP as well cost Kubo and this process CPU for nothing.
    run.forEach((l, i) => {
      const w = waiters[i] as Deferred
      this.readLocal(l.cid, l.size)
        .then(async (b) => b ?? await this.fetchThenReadLocal(l.cid, l.size))
        .then(w.resolve, w.reject)
    })
  }

  /** Has Kubo fetch a block (over bitswap if need be), then reads it from disk; block/get if that fails. */
  private async fetchThenReadLocal (cid: CID, sizeHint: number): Promise<Uint8Array> {
    const key = cid.toString()
    const deadline = Date.now() + this.timeoutMs
    try {
      await this.httpCall('block/stat', key, deadline)
      const bytes = await this.readLocal(cid, sizeHint)
      if (bytes !== undefined) return bytes
      if (!this.warnedForeignStore) {
        // Kubo has the block but the directory does not: it is some other repo's, or not flatfs.
        this.warnedForeignStore = true
        this.log.warn('Kubo has a block its blocks directory lacks: is --kubo-blocks-dir the blockstore of the --kubo-api Kubo? Reading through the API', { cid: key, dir: this.local?.dir })
      }
    } catch (err) {
      if (err instanceof CsiError && err.code === Code.DEADLINE_EXCEEDED) {
        this.stats.failed++
        this.rememberTimeout(key)
        throw err
      }
    }
    return await this.fetchVerifiedRemote(cid, key)
  }

  /** A verified block from the local blockstore (now cached), or undefined to ask Kubo. */
  private async readLocal (cid: CID, sizeHint?: number, ifRoom = false): Promise<Uint8Array | undefined> {
    if (this.local === undefined || this.closed) return undefined
    const bytes = await this.local.read(cid, sizeHint, this.pool)
    if (bytes === undefined) return undefined
    try {
      verifyBlock(cid, bytes)
    } catch (err) {
      // Kubo will be asked; if it serves the same bytes they fail again and the read gets EIO.
      this.stats.localBad++
      this.log.warn('block on disk failed verification, asking Kubo', { cid: cid.toString(), error: (err as Error).message })
      return undefined
    }
    this.stats.fetched++
    this.stats.localHits++
    this.keep(cid.toString(), bytes, ifRoom, cid.code === CODEC_RAW)
    return bytes
  }

  private streamRun (parent: CID, run: RunLeaf[], waiters: Deferred[]): void {
    this.stats.runs++
    const first = run[0] as RunLeaf
    const total = run.reduce((s, l) => s + l.size, 0)
    let done = 0 // leaves settled, in order
    let cur: Buffer | undefined
    let fill = 0
    const settleLeaf = (i: number, bytes: Buffer): void => {
      const l = run[i] as RunLeaf
      const key = l.cid.toString()
      const block = blockOf(l.cid, bytes)
      let ok = false
      try {
        verifyBlock(l.cid, block)
        ok = true
      } catch {}
      if (ok) {
        this.stats.fetched++
        this.stats.runLeaves++
        this.keep(key, block, false)
        ;(waiters[i] as Deferred).resolve(block)
      } else {
        this.fallback(i, run, waiters)
      }
    }
    const failRest = (err: unknown): void => {
      const timedOut = err instanceof CsiError && err.code === Code.DEADLINE_EXCEEDED
      for (let i = done; i < run.length; i++) {
        if (timedOut) {
          const l = run[i] as RunLeaf
          this.stats.failed++
          this.rememberTimeout(l.cid.toString())
          ;(waiters[i] as Deferred).reject(new CsiError(Code.DEADLINE_EXCEEDED, `kubo cat of ${l.cid.toString()}: no data within ${this.timeoutMs} ms`))
        } else {
          this.fallback(i, run, waiters)
        }
      }
      done = run.length
    }
    const target = { protocol: this.base.protocol, hostname: this.base.hostname.replace(/^\[|\]$/g, ''), port: this.base.port, path: `${this.basePath}/api/v0/cat?arg=${encodeURIComponent(parent.toString())}&offset=${first.offset}&length=${total}&progress=false` }
    let settled = false
    let timer: NodeJS.Timeout | undefined
    const finish = (err?: unknown): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (err !== undefined) { req?.destroy(); failRest(err) } else if (done < run.length) failRest(new CsiError(Code.UNAVAILABLE, 'cat ended early'))
    }
    // A deadline on progress, not on the whole run: a run is many blocks, and each waiting reader
    // is bounded by its own read deadline anyway. One timer re-armed lazily (not per chunk).
    let lastData = Date.now()
    const check = (): void => {
      const idle = Date.now() - lastData
      if (idle >= this.timeoutMs) finish(new CsiError(Code.DEADLINE_EXCEEDED, `kubo cat ${parent.toString()}: no data within ${this.timeoutMs} ms`))
      else timer = setTimeout(check, this.timeoutMs - idle)
    }
    timer = setTimeout(check, this.timeoutMs)
    // Copies payload bytes into leaf buffers; each full leaf is verified and handed out.
    const consume = (c: Buffer, from: number, to: number): void => {
      if (settled) return
      lastData = Date.now()
      let at = from
      while (at < to && done < run.length) {
        const l = run[done] as RunLeaf
        if (cur === undefined) {
          // One buffer per leaf (not views of one per run): the cache's byte accounting stays
          // true, and one leaf kept in the cache cannot pin a whole run's memory.
          cur = Buffer.allocUnsafeSlow(l.size)
          fill = 0
        }
        const n = Math.min(l.size - fill, to - at)
        c.copy(cur, fill, at, at + n)
        fill += n
        at += n
        if (fill === l.size) {
          const bytes = cur
          cur = undefined
          fill = 0
          settleLeaf(done++, bytes)
        }
      }
      if (at < to) finish(new CsiError(Code.UNAVAILABLE, 'cat sent more bytes than asked for'))
    }
    const ended = (streamErr: string | undefined): void => {
      finish(streamErr !== undefined && streamErr !== '' ? new CsiError(Code.UNAVAILABLE, `kubo cat: ${streamErr}`) : undefined)
    }
    let req: { destroy: () => void } | undefined
    if (this.base.protocol === 'http:') {
      req = rawPost({
        host: target.hostname,
        port: Number(target.port === '' ? 80 : target.port),
        path: target.path,
        headers: this.headers,
        onData: consume,
        onEnd: (err, status, trailers) => {
          if (err !== undefined) finish(err)
          else if (status !== 200) finish(new CsiError(Code.UNAVAILABLE, `kubo cat: HTTP ${status}`))
          else ended(trailers['x-stream-error'])
        }
      })
    } else {
      const r = this.request({ ...target, method: 'POST', agent: this.agent, headers: this.headers }, (res) => {
        if (res.statusCode !== 200) { res.resume(); finish(new CsiError(Code.UNAVAILABLE, `kubo cat: HTTP ${res.statusCode ?? '?'}`)); return }
        res.on('data', (c: Buffer) => consume(c, 0, c.length))
        res.on('error', (err) => finish(err))
        res.on('end', () => ended(res.trailers['x-stream-error']))
      })
      r.on('error', (err) => finish(err))
      r.end()
      req = r
    }
  }

  /** Fetches leaf i of a run on its own (block/get, own deadline) and settles its waiter. */
  private fallback (i: number, run: RunLeaf[], waiters: Deferred[]): void {
    const l = run[i] as RunLeaf
    const w = waiters[i] as Deferred
    this.stats.runFallbacks++
    this.fetchVerified(l.cid, l.cid.toString()).then(w.resolve, w.reject)
  }

  close (): void {
    this.closed = true
    this.agent.destroy()
    this.cache.clear()
  }

  private keep (key: string, bytes: Uint8Array, ifRoom: boolean, leaf = false): void {
    if (this.closed) return
    if (ifRoom && this.cache.calculatedSize + bytes.byteLength > this.cache.maxSize) return
    this.cache.set(key, bytes)
    if (leaf && this.cache.has(key)) this.leaves.add(key)
  }

  private async fetchVerified (cid: CID, key: string, ifRoom = false): Promise<Uint8Array> {
    const local = await this.readLocal(cid, undefined, ifRoom)
    if (local !== undefined) return local
    return await this.fetchVerifiedRemote(cid, key, ifRoom)
  }

  private async fetchVerifiedRemote (cid: CID, key: string, ifRoom = false): Promise<Uint8Array> {
    const deadline = Date.now() + this.timeoutMs
    try {
      let bytes: Uint8Array
      try {
        bytes = await this.httpCall('block/get', key, deadline)
      } catch (err) {
        // A keep-alive socket Kubo closed while idle fails at once; one retry on a fresh socket.
        if ((err as { retryable?: boolean }).retryable !== true || Date.now() >= deadline) throw err
        bytes = await this.httpCall('block/get', key, deadline)
      }
      try {
        verifyBlock(cid, bytes)
      } catch (err) {
        this.log.error('block failed verification, refusing to serve it', { cid: key, bytes: bytes.byteLength, error: (err as Error).message })
        throw err
      }
      this.stats.fetched++
      this.keep(key, bytes, ifRoom)
      return bytes
    } catch (err) {
      this.stats.failed++
      if (err instanceof CsiError && err.code === Code.DEADLINE_EXCEEDED) this.rememberTimeout(key)
      throw err
    }
  }

  /** A block whose fetch just hit its deadline: asks for it fail at once for a moment (bounded memo). */
  private rememberTimeout (key: string): void {
    if (this.recentTimeouts.size > 10_000) this.recentTimeouts.clear()
    this.recentTimeouts.set(key, Date.now() + this.timeoutMemoMs)
  }

  /** POSTs `block/get` (the block's bytes) or `block/stat` (Kubo fetches it; a small JSON answer). */
  private async httpCall (endpoint: 'block/get' | 'block/stat', key: string, deadline: number): Promise<Uint8Array> {
    if (this.closed) throw new CsiError(Code.UNAVAILABLE, 'block fetcher is closed')
    // Plain request options rather than a URL object per block: this runs for every leaf read.
    const target = { protocol: this.base.protocol, hostname: this.base.hostname.replace(/^\[|\]$/g, ''), port: this.base.port, path: `${this.basePath}/api/v0/${endpoint}?arg=${encodeURIComponent(key)}` }
    return await new Promise<Uint8Array>((resolve, reject) => {
      let settled = false
      const fail = (err: CsiError): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        req.destroy()
        reject(err)
      }
      const req = this.request({ ...target, method: 'POST', agent: this.agent, headers: this.headers }, (res) => {
        const chunks: Buffer[] = []
        let total = 0
        res.on('data', (c: Buffer) => {
          total += c.length
          if (total > MAX_BLOCK_BYTES && res.statusCode === 200) fail(new CsiError(Code.DATA_LOSS, `kubo ${endpoint} ${key}: block is larger than ${MAX_BLOCK_BYTES} bytes`))
          else chunks.push(c)
        })
        res.on('error', (err) => fail(wrap(key, err)))
        res.on('end', () => {
          if (settled) return
          const body = Buffer.concat(chunks)
          if (res.statusCode !== 200) {
            let msg = body.toString('utf8')
            try { msg = JSON.parse(msg).Message ?? msg } catch {}
            const code = res.statusCode === 401 || res.statusCode === 403 ? Code.PERMISSION_DENIED : Code.UNAVAILABLE
            fail(new CsiError(code, `kubo ${endpoint} ${key}: HTTP ${res.statusCode ?? '?'}: ${msg.trim().slice(0, 300)}`))
            return
          }
          const streamErr = res.trailers['x-stream-error']
          if (streamErr !== undefined && streamErr !== '') { fail(new CsiError(Code.UNAVAILABLE, `kubo ${endpoint} ${key}: ${streamErr}`)); return }
          settled = true
          clearTimeout(timer)
          resolve(new Uint8Array(body.buffer, body.byteOffset, body.byteLength))
        })
      })
      const timer = setTimeout(() => fail(new CsiError(Code.DEADLINE_EXCEEDED, `kubo ${endpoint} ${key}: no answer within ${this.timeoutMs} ms`)), Math.max(0, deadline - Date.now()))
      req.on('error', (err: NodeJS.ErrnoException) => {
        const e = wrap(key, err)
        if (req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) (e as { retryable?: boolean }).retryable = true
        fail(e)
      })
      req.end()
    })
  }
}

/**
 * The block a leaf's file bytes came from: a raw leaf is its bytes; a dag-pb leaf is rebuilt the
 * way Kubo writes one (UnixFS file node holding the data, no links). If the rebuilt block does not
 * hash to the CID, the caller fetches the real block instead.
 */
function blockOf (cid: CID, bytes: Buffer): Uint8Array {
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

function wrap (key: string, err: unknown): CsiError {
  const e = toCsiError(err)
  // Anything that is not a deadline is "Kubo cannot give us the block now": UNAVAILABLE → EIO.
  const code = e.code === Code.DEADLINE_EXCEEDED ? e.code : Code.UNAVAILABLE
  return new CsiError(code, `kubo block/get ${key}: ${e.message}`, { cause: err })
}

/** Waits for `p` unless `signal` fires first; the shared fetch itself goes on for other waiters. */
async function raceSignal<T> (p: Promise<T>, signal: AbortSignal, key: string): Promise<T> {
  if (signal.aborted) throw new CsiError(Code.DEADLINE_EXCEEDED, `block ${key}: read deadline passed`)
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(new CsiError(Code.DEADLINE_EXCEEDED, `block ${key}: read deadline passed`))
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([p, aborted])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}
