// The verified, lazy view of one UnixFS DAG: resolves paths, lists directories (plain and HAMT)
// and reads byte ranges of files, fetching only the blocks an operation needs. Used by the FUSE
// filesystem and by `ipfs-csi mount` to resolve `<cid>/<path>` before mounting.
import { LRUCache } from 'lru-cache'
import { CID } from 'multiformats/cid'
import { CsiError, Code, Errno, FsError } from '../driver/errors.js'
import type { Logger } from '../driver/logger.js'
import { MAX_RUN_LEAF } from './block-fetcher.js'
import type { BlockReader, RunLeaf } from './block-reader.js'
import { decodeNode, type PbLink, type UnixfsNode } from './unixfs-node.js'
import { MURMUR3_X64_64, bucketIndex, bucketPrefix, hamtHash, prefixWidth } from './hamt.js'
import { ContentLimitError, DEFAULT_LIMITS, entryWeight, MAX_FILE_DEPTH, maxHamtLevels, type ContentLimits } from './limits.js'

const utf8 = new TextEncoder()

/** Names that cannot exist in a Linux directory are left out, never an error for the directory. */
export function isValidName (name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0') && utf8.encode(name).length <= 255
}

export interface Listing {
  /** Valid names in DAG order, first occurrence of each. */
  names: string[]
  /**
   * Name → CID as a string: a decoded CID object costs ~600 bytes of heap (views of its block),
   * its string ~80, and a listing may hold a million of them.
   */
  byName: Map<string, string>
  /** Estimated memory it holds (see entryWeight). */
  bytes: number
}

/**
 * A CID's string, flat: multiformats builds it a character at a time, and V8 keeps such a string
 * as a rope of ~60 nodes (~2 KB) until something reads a character of it.
 */
function cidString (cid: CID): string {
  const s = cid.toString()
  s.charCodeAt(0)
  return s
}

/** The CID of `name` in a listing. */
export function entryCid (listing: Listing, name: string): CID | undefined {
  const s = listing.byName.get(name)
  return s === undefined ? undefined : CID.parse(s)
}

export interface ContentTreeInit {
  fetcher: BlockReader
  log: Logger
  /** Safety limits (see limits.ts); defaults for anything left out. */
  limits?: Partial<ContentLimits>
}

/** Sub-shards a HAMT walk fetches ahead of the one it walks, per level. */
const SHARDS_AHEAD = 8

/** Work and memory of one listing being built, shared by the walks of all its shards. */
interface ListingBudget { entries: number, bytes: number, visited: Set<string> }

export class ContentTree {
  private readonly fetcher: BlockReader
  private readonly log: Logger
  /** Decoded nodes that have links (directories, shards, file roots): re-decoding them per read is waste. */
  private readonly nodes = new LRUCache<string, UnixfsNode>({ max: 20_000, maxSize: 64 * 1024 * 1024, sizeCalculation: (n) => nodeWeight(n) })
  /** Complete listings per directory CID (content is immutable), bounded by their estimated bytes. */
  private readonly listings: LRUCache<string, Listing>
  /** Listings being built, shared by their callers; they go to `listings` once done, at their size. */
  private readonly building = new Map<string, Promise<Listing>>()
  private readonly limits: ContentLimits
  /** Leaf blocks readCached took straight from the block cache (BlockFetcher.get counts its own hits). */
  cachedBlocks = 0

  constructor (init: ContentTreeInit) {
    this.fetcher = init.fetcher
    this.log = init.log
    this.limits = { ...DEFAULT_LIMITS, ...init.limits }
    this.listings = new LRUCache<string, Listing>({ maxSize: Math.max(1, this.limits.listingCacheBytes), sizeCalculation: (l) => Math.max(1, l.bytes) })
  }

  /** Cache sizes, for tests and debug logs. */
  stats (): { listings: number, listingBytes: number, nodeBytes: number } {
    return { listings: this.listings.size, listingBytes: this.listings.calculatedSize, nodeBytes: this.nodes.calculatedSize }
  }

  /** `ifRoom`: see BlockFetcher.get (resolving paths only needs the node, not its bytes later). */
  async node (cid: CID, signal?: AbortSignal, ifRoom = false): Promise<UnixfsNode> {
    const key = cid.toString()
    const hit = this.nodes.get(key)
    if (hit !== undefined) return hit
    const bytes = await this.fetcher.get(cid, signal, ifRoom)
    let n: UnixfsNode
    try {
      n = decodeNode(cid, bytes)
    } catch (err) {
      this.log.error('block is not servable UnixFS', { cid: key, error: (err as Error).message })
      throw err
    }
    if (n.kind !== 'file' || n.children.length > 0) this.nodes.set(key, n)
    else this.fetcher.markLeaf(cid)
    return n
  }

  /** Looks `name` up in a directory node without listing it (HAMT: walks only the shards on its hash path). */
  async lookup (dir: UnixfsNode, dirCid: CID, name: string, signal?: AbortSignal): Promise<CID | undefined> {
    if (!isValidName(name)) return undefined
    // A finished listing answers at once; one still being built is not waited for (a huge HAMT
    // listing can take longer than one lookup's deadline, while the hash path is a few blocks).
    const listing = this.listings.get(dirCid.toString())
    if (listing !== undefined) return entryCid(listing, name)
    if (dir.kind === 'directory') return entryCid(await this.list(dir, dirCid, signal), name)
    if (dir.kind !== 'hamt') throw new FsError(Errno.ENOTDIR, 'not a directory')
    this.checkHamt(dir, dirCid)
    const hash = hamtHash(utf8.encode(name))
    let shard = dir
    let shardCid = dirCid
    for (let depth = 0; ; depth++) {
      const index = bucketIndex(hash, depth, shard.fanout)
      if (index === undefined) return undefined
      const prefix = bucketPrefix(index, shard.fanout)
      const width = prefix.length
      const link = shard.links.find(l => l.name.startsWith(prefix))
      if (link === undefined) return undefined
      if (link.name.length > width) return link.name.slice(width) === name ? link.cid : undefined
      const next = await this.node(link.cid, signal)
      if (next.kind !== 'hamt') throw new CsiError(Code.DATA_LOSS, `HAMT shard ${shardCid.toString()} links to ${link.cid.toString()}, which is not a shard`)
      if (next.fanout !== shard.fanout) throw new CsiError(Code.DATA_LOSS, `HAMT shard ${link.cid.toString()} has fanout ${next.fanout}, its parent ${shard.fanout}`)
      shard = next
      shardCid = link.cid
    }
  }

  /** The complete listing of a directory (plain or HAMT), cached per CID. */
  async list (dir: UnixfsNode, dirCid: CID, signal?: AbortSignal): Promise<Listing> {
    const key = dirCid.toString()
    const done = this.listings.get(key)
    if (done !== undefined) return done
    let p = this.building.get(key)
    if (p === undefined) {
      // The walk is shared and uses only the fetcher's per-block deadlines, not one caller's signal.
      p = this.buildListing(dir, dirCid)
      this.building.set(key, p)
      // A listing larger than the whole cache is not kept (lru-cache refuses it): it is rebuilt
      // when asked for again, at a cost bounded by the walk's own limits.
      p.then((l) => { this.listings.set(key, l) }, () => {}).finally(() => this.building.delete(key))
    }
    return await race(p, signal)
  }

  private async buildListing (dir: UnixfsNode, dirCid: CID): Promise<Listing> {
    // Entries go straight into the listing as the walk meets them: no copy of the whole listing
    // is ever held besides it.
    const listing: Listing = { names: [], byName: new Map(), bytes: 0 }
    let skipped = 0
    const add = (name: string, cid: CID): void => {
      if (!isValidName(name) || listing.byName.has(name)) { skipped++; return }
      listing.byName.set(name, cidString(cid))
      listing.names.push(name)
      listing.bytes += entryWeight(name)
    }
    const budget: ListingBudget = { entries: 0, bytes: 0, visited: new Set([dirCid.toString()]) }
    try {
      if (dir.kind === 'directory') {
        for (const l of dir.links) this.count(budget, dirCid, l.name)
        for (const l of dir.links) add(l.name, l.cid)
      } else if (dir.kind === 'hamt') {
        this.checkHamt(dir, dirCid)
        await this.walkShard(dir, dirCid, add, budget, 1, maxHamtLevels(dir.fanout))
      } else {
        throw new FsError(Errno.ENOTDIR, 'not a directory')
      }
    } catch (err) {
      if (err instanceof ContentLimitError || (err instanceof CsiError && err.code === Code.DATA_LOSS)) {
        this.log.error('directory not listed: it is over a safety limit or malformed', { cid: dirCid.toString(), error: err.message, ...(err instanceof ContentLimitError ? { limit: err.limit } : {}) })
      }
      throw err
    }
    if (skipped > 0) this.log.info('directory entries left out (invalid or duplicate names)', { cid: dirCid.toString(), skipped })
    return listing
  }

  /** Counts one entry against the listing's limits; throws ContentLimitError past them. */
  private count (budget: ListingBudget, dirCid: CID, name: string): void {
    budget.entries++
    budget.bytes += entryWeight(name)
    if (budget.entries > this.limits.maxDirEntries) {
      throw new ContentLimitError(`directory ${dirCid.toString()} has more than ${this.limits.maxDirEntries} entries`, this.limits.maxDirEntries)
    }
    if (budget.bytes > this.limits.maxListingBytes) {
      throw new ContentLimitError(`directory ${dirCid.toString()} lists as more than ${this.limits.maxListingBytes} bytes`, this.limits.maxListingBytes)
    }
  }

  /**
   * Collects a shard's entries (DAG order), then its sub-shards'. Bounded three ways: each shard
   * is walked once (a shard linked twice is malformed: a HAMT places every shard by hash prefix),
   * no deeper than the hash allows, and entries count against the listing's limits as they come,
   * so a bomb fails after as much work as the limits allow, not after expanding it.
   */
  private async walkShard (shard: UnixfsNode & { kind: 'hamt' }, cid: CID, add: (name: string, cid: CID) => void, budget: ListingBudget, level: number, maxLevels: number): Promise<void> {
    const width = prefixWidth(shard.fanout)
    const subs: PbLink[] = []
    for (const l of shard.links) {
      if (l.name.length > width) {
        const name = l.name.slice(width)
        this.count(budget, cid, name)
        add(name, l.cid)
      } else if (l.name.length === width) {
        const key = l.cid.toString()
        if (budget.visited.has(key)) throw new CsiError(Code.DATA_LOSS, `HAMT shard ${key} is linked more than once in directory ${cid.toString()}`)
        budget.visited.add(key)
        subs.push(l)
      } else {
        throw new CsiError(Code.DATA_LOSS, `HAMT shard ${cid.toString()} has a link named ${JSON.stringify(l.name)}`)
      }
    }
    if (subs.length > 0 && level >= maxLevels) throw new CsiError(Code.DATA_LOSS, `HAMT shard ${cid.toString()} links below level ${maxLevels}, deeper than a 64-bit hash allows at fanout ${shard.fanout}`)
    // Sub-shards are walked one after the other (DAG order), the next few fetched meanwhile: a
    // decoded shard costs ~150 KB of heap, and fetching all of a level at once held them all.
    const ahead: Array<Promise<UnixfsNode>> = []
    let queued = 0
    for (const l of subs) {
      while (queued < subs.length && ahead.length < SHARDS_AHEAD) {
        const p = this.node((subs[queued++] as PbLink).cid)
        p.catch(() => {}) // awaited in turn below; a walk that throws first leaves it unobserved
        ahead.push(p)
      }
      const next = await (ahead.shift() as Promise<UnixfsNode>)
      if (next.kind !== 'hamt') throw new CsiError(Code.DATA_LOSS, `HAMT shard ${cid.toString()} links to ${l.cid.toString()}, which is not a shard`)
      if (next.fanout !== shard.fanout) throw new CsiError(Code.DATA_LOSS, `HAMT shard ${l.cid.toString()} has fanout ${next.fanout}, its parent ${shard.fanout}`)
      await this.walkShard(next, l.cid, add, budget, level + 1, maxLevels)
    }
  }

  private checkHamt (dir: UnixfsNode & { kind: 'hamt' }, cid: CID): void {
    if (dir.hashType !== MURMUR3_X64_64) {
      this.log.error('HAMT directory uses an unsupported hash function', { cid: cid.toString(), hashType: dir.hashType })
      throw new CsiError(Code.DATA_LOSS, `HAMT directory ${cid.toString()} uses hash function 0x${dir.hashType.toString(16)}; only murmur3-x64-64 is supported`)
    }
  }

  /**
   * Copies file bytes [pos, pos+len) into `buf`, fetching the leaves it needs in parallel.
   * Returns the number of bytes copied (short at EOF). `buf` is touched only once every block
   * arrived and only while `signal` has not fired: after the deadline the FUSE reply has gone
   * and the buffer belongs to libfuse again.
   */
  async read (file: UnixfsNode, pos: number, len: number, buf: Buffer, signal?: AbortSignal, fileCid?: CID): Promise<number> {
    if (file.kind !== 'file') throw new FsError(Errno.EISDIR, 'not a file')
    const end = Math.min(file.size, pos + len)
    if (pos >= end) return 0
    const parts: Part[] = []
    // The parts are views of cached blocks, held across awaits until copied.
    const use = this.fetcher.beginUse()
    try {
      await this.collect(file, fileCid, 0, pos, end, parts, signal, 0)
      if (signal?.aborted === true) throw new CsiError(Code.DEADLINE_EXCEEDED, 'read deadline passed')
      for (const p of parts) buf.set(p.bytes, p.at - pos)
    } finally {
      this.fetcher.endUse(use)
    }
    return end - pos
  }

  /**
   * `read` answered at once when every block it needs is cached (read-ahead's usual result):
   * no promise, timer or abort listener per 128 KiB request. Undefined when a block is missing;
   * `buf` may then hold part of the range, which the caller's `read` overwrites.
   */
  readCached (file: UnixfsNode, pos: number, len: number, buf: Buffer): number | undefined {
    if (file.kind !== 'file') return undefined
    const end = Math.min(file.size, pos + len)
    if (pos >= end) return 0
    const before = this.cachedBlocks
    if (this.copyCached(file, 0, pos, end, buf, 0)) return end - pos
    this.cachedBlocks = before // the async read that follows asks the fetcher (which counts) for them again
    return undefined
  }

  private copyCached (node: UnixfsNode & { kind: 'file' }, nodeOff: number, start: number, end: number, buf: Buffer, depth: number): boolean {
    if (depth > MAX_FILE_DEPTH) return false // the async path reports it
    const own = dataPart(node, nodeOff, start, end)
    if (own !== undefined) buf.set(own.bytes, own.at - start)
    for (const { child, cStart } of childrenIn(node, nodeOff, start, end)) {
      let n = this.nodes.get(child.cid.toString())
      if (n === undefined) {
        const bytes = this.fetcher.peek(child.cid)
        if (bytes === undefined) return false
        this.cachedBlocks++
        try {
          n = decodeNode(child.cid, bytes)
        } catch {
          return false // the async path reports it
        }
        if (n.kind === 'file' && n.children.length === 0) this.fetcher.markLeaf(child.cid)
      }
      if (n.kind !== 'file' || n.size !== child.size) return false
      if (!this.copyCached(n, cStart, start, end, buf, depth + 1)) return false
    }
    return true
  }

  /** Fetches (into the caches) the blocks under [start, end) without copying; for read-ahead. */
  async warm (file: UnixfsNode, start: number, end: number, fileCid?: CID): Promise<void> {
    if (file.kind !== 'file') return
    await this.collect(file, fileCid, 0, start, Math.min(end, file.size), undefined, undefined, 0)
  }

  /**
   * Drops from the block cache the leaves that end in (start, end] (a sequential reader is past
   * them and the kernel page cache holds their bytes), so streaming a big file does not fill the
   * cache with bytes nobody reads again. Only walks nodes already cached; never fetches.
   */
  forget (file: UnixfsNode, start: number, end: number): void {
    if (file.kind !== 'file' || start >= end) return
    const walk = (node: UnixfsNode & { kind: 'file' }, nodeOff: number, depth: number): void => {
      if (depth > MAX_FILE_DEPTH) return
      for (const { child, cStart } of childrenIn(node, nodeOff, start, end)) {
        const cEnd = cStart + child.size
        const inner = this.nodes.get(child.cid.toString())
        if (inner !== undefined && inner.kind === 'file') walk(inner, cStart, depth + 1)
        // A leaf straddling `start` was not wholly inside the previous range: it goes now.
        else if (cEnd <= end) this.fetcher.evict(child.cid)
      }
    }
    walk(file, 0, 0)
  }

  private async collect (node: UnixfsNode & { kind: 'file' }, nodeCid: CID | undefined, nodeOff: number, start: number, end: number, out: Part[] | undefined, signal: AbortSignal | undefined, depth: number): Promise<void> {
    if (depth > MAX_FILE_DEPTH) throw new ContentLimitError(`file DAG under ${nodeCid?.toString() ?? 'a file'} is deeper than ${MAX_FILE_DEPTH} levels`, MAX_FILE_DEPTH)
    const own = out !== undefined ? dataPart(node, nodeOff, start, end) : undefined
    if (own !== undefined) out?.push(own)
    const work: Array<Promise<void>> = []
    // Leaves under this node that the range needs go out as one batched request (see fetchRun);
    // the node() calls below then join those fetches.
    // Only read-ahead batches (out === undefined): a read fetches exactly the leaves it touches,
    // and Kubo's reader behind `cat` may prefetch past the range it is asked for.
    if (out === undefined && nodeCid !== undefined && node.children.length > 0) {
      const run: RunLeaf[] = []
      for (const { child, cStart } of childrenIn(node, nodeOff, start, end)) {
        if (child.size <= MAX_RUN_LEAF && !this.nodes.has(child.cid.toString())) run.push({ cid: child.cid, size: child.size, offset: cStart - nodeOff })
      }
      if (run.length > 1) this.fetcher.fetchRun(nodeCid, run)
    }
    for (const { child, cStart } of childrenIn(node, nodeOff, start, end)) {
      work.push((async () => {
        const n = await this.node(child.cid, signal)
        // A child whose real size differs from what its parent says would shift every byte after it.
        if (n.kind !== 'file' || n.size !== child.size) {
          throw new CsiError(Code.DATA_LOSS, `file block ${child.cid.toString()} does not match its parent (expected a file part of ${child.size} bytes)`)
        }
        await this.collect(n, child.cid, cStart, start, end, out, signal, depth + 1)
      })())
    }
    await Promise.all(work)
  }
}

interface Part { bytes: Uint8Array, at: number }

/** The part of a file node's own bytes (before its children) inside [start, end), if any. */
function dataPart (node: UnixfsNode & { kind: 'file' }, nodeOff: number, start: number, end: number): Part | undefined {
  const from = Math.max(start, nodeOff)
  const to = Math.min(end, nodeOff + node.data.byteLength)
  return from < to ? { bytes: node.data.subarray(from - nodeOff, to - nodeOff), at: from } : undefined
}

/** The non-empty children of a file node (its bytes start at `nodeOff`) that overlap [start, end). */
function * childrenIn (node: UnixfsNode & { kind: 'file' }, nodeOff: number, start: number, end: number): Generator<{ child: { cid: CID, size: number }, cStart: number }> {
  let off = nodeOff + node.data.byteLength
  for (const child of node.children) {
    const cStart = off
    off += child.size
    if (off <= start || child.size === 0) continue
    if (cStart >= end) break
    yield { child, cStart }
  }
}

/** Estimated memory of a decoded node. */
export function nodeWeight (n: UnixfsNode): number {
  switch (n.kind) {
    case 'file': return 256 + n.data.byteLength + n.children.length * CHILD_HEAP_BYTES
    case 'symlink': return 256 + n.target.byteLength
    default: return 256 + n.links.reduce((s, l) => s + LINK_HEAP_BYTES + 2 * l.name.length, 0)
  }
}

/**
 * Heap of one decoded link: the object, and its CID with the views of the block it was decoded
 * from (measured on Node 20: ~555 bytes per file child, ~600 per named link with a 20-character
 * name). Counting less let the "64 MiB" node cache hold half a gigabyte.
 */
const CHILD_HEAP_BYTES = 600
const LINK_HEAP_BYTES = 600

/** Waits for `p` unless `signal` fires first (then EIO through DEADLINE_EXCEEDED). */
export async function race<T> (p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return await p
  if (signal.aborted) throw new CsiError(Code.DEADLINE_EXCEEDED, 'operation deadline passed')
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(new CsiError(Code.DEADLINE_EXCEEDED, 'operation deadline passed'))
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([p, aborted])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}
