// The read-only FUSE filesystem of a content volume: one immutable UnixFS DAG, served lazily and
// verified block by block (see content-tree.ts, block-fetcher.ts). Every operation carries a
// deadline of spec.readTimeoutMs, so a read Kubo cannot serve ends in EIO, never a hang.
//
// A root that is a file (or symlink) rather than a directory is served as a directory holding
// that one entry, named after the root CID: a FUSE mount is always a directory.
// Symlinks are presented so they cannot lead outside the mount (symlink-policy.ts); names Linux
// cannot hold are left out of listings (content-tree.ts). readdir never fetches the children
// themselves, so a 10,000-entry HAMT lists from its shard blocks alone; a listing that outlives
// one readdir's deadline keeps building in the background and serves the next attempt.
import { createHash } from 'node:crypto'
import { constants as fsc } from 'node:fs'
import type { CID } from 'multiformats/cid'
import { parseCid } from '../../driver/content-ref.js'
import { Errno, FsError } from '../../driver/errors.js'
import type { Kubo } from '../../driver/kubo.js'
import type { Logger } from '../../driver/logger.js'
import type { FuseSpec } from './fuse-spec.js'
import type { AsyncFs, FsInstance, Stat, StatFs } from './fuse-ops.js'
import { BlockFetcher } from '../../content/block-fetcher.js'
import { LocalBlockstore } from '../../content/local-blockstore.js'
import { ContentTree, nodeWeight, race } from '../../content/content-tree.js'
import { limitsForHeap } from '../../content/limits.js'
import type { UnixfsNode } from '../../content/unixfs-node.js'
import type { ContentReadStats } from './fuse-metrics.js'
import { safeSymlinkTarget } from './symlink-policy.js'

const O_ACCMODE = 3
const DEFAULT_FILE_MODE = 0o444
const DEFAULT_DIR_MODE = 0o555
/** setuid/setgid bits from content are never honoured: the DAG comes from anyone. */
const MODE_MASK = 0o1777
/** Leaf size assumed for read-ahead until a real one is seen (Kubo's default chunk). */
const DEFAULT_LEAF = 256 * 1024
/** A read this close to where the last one ended still counts as sequential (the kernel reorders). */
const SEQUENTIAL_SLACK = 1024 * 1024
/** Largest read-ahead window: the window starts at readAheadBlocks leaves and doubles while reads stay sequential. */
const MAX_WINDOW = 32 * 1024 * 1024
/** The window is topped up once this much of it is free, so read-ahead goes out in big batched requests. */
const REFILL_BYTES = 8 * 1024 * 1024
/**
 * Read-ahead starts once a reader has read this much contiguously: a model loader's 1 MiB reads
 * (which the kernel splits into contiguous 128 KiB requests) must not pull in blocks nobody reads.
 */
const READ_AHEAD_AFTER = 2 * 1024 * 1024
/** Directory entries resolved in the background after a listing (stat-ahead), at most this many at once. */
const STAT_AHEAD_CONCURRENCY = 32
/** Resolved paths kept (entries and estimated bytes): a listing's stat-ahead fills it. */
const MAX_RESOLVED_PATHS = 200_000
const RESOLVED_BYTES = 64 * 1024 * 1024
/** Single-block files larger than this are kept in entries by CID only: their bytes live in the bounded block cache. */
const INLINE_DATA_MAX = 4096

interface Entry {
  cid: CID
  node: UnixfsNode
  /** Path segments from the mount root. */
  segs: string[]
  /** For symlinks: the target served (see symlink-policy.ts). */
  target?: string
  /** Its attributes, built on first getattr (content is immutable, so they never change). */
  stat?: Stat
}

interface Handle {
  entry: Entry
  /** Where the last read ended (-1: no read-ahead for this handle). */
  next: number
  /** Read-ahead has been asked for up to here. */
  warmedTo: number
  /** Current read-ahead window in bytes (0 until the first sequential read). */
  window: number
  /** Bytes read contiguously so far. */
  seqBytes: number
  /** Leaves below this offset were dropped from the block cache already. */
  forgotTo: number
}

export interface ContentFsDeps { kubo: Kubo, log: Logger }

export async function createContentFs (spec: FuseSpec, deps: ContentFsDeps): Promise<FsInstance> {
  const { kubo, log } = deps
  if (spec.rootCid === undefined) throw new Error('content mode needs rootCid')
  const rootCid = parseCid(spec.rootCid, 'root CID')
  let localBlocks: LocalBlockstore | undefined
  if (spec.kuboBlocksDir !== undefined) {
    // The fast path is optional: without it every block comes through the API, slower but correct.
    try {
      localBlocks = LocalBlockstore.open(spec.kuboBlocksDir)
    } catch (err) {
      log.warn('cannot read the local blockstore; reading every block through the Kubo API', { dir: spec.kuboBlocksDir, error: (err as Error).message })
    }
  }
  const fetcher = new BlockFetcher({ kubo, timeoutMs: spec.readTimeoutMs, cacheBytes: spec.blockCacheBytes, log, ...(localBlocks !== undefined ? { localBlocks } : {}) })
  // A heap-limited server lists no more than its heap holds (content/limits.ts).
  const tree = new ContentTree({ fetcher, log, ...(spec.maxHeapMiB !== undefined ? { limits: limitsForHeap(spec.maxHeapMiB) } : {}) })
  let rootNode: UnixfsNode
  try {
    rootNode = await tree.node(rootCid, AbortSignal.timeout(spec.readTimeoutMs))
  } catch (err) {
    fetcher.close()
    throw err
  }
  const fs = new ContentFs(spec, tree, log, rootCid, rootNode)
  log.info('content filesystem ready', { rootCid: rootCid.toString(), kind: rootNode.kind })
  return {
    fs: fs.ops(),
    stats: (): ContentReadStats => {
      const { blocks, verificationFailures } = fetcher.blockCounts()
      return {
        ...fs.handleStats(),
        blocks: { ...blocks, cache: blocks.cache + tree.cachedBlocks },
        cacheMisses: fetcher.stats.misses,
        verificationFailures,
        cacheBytes: fetcher.cacheBytes,
        cacheMaxBytes: fetcher.cacheMaxBytes
      }
    },
    close: async () => {
      fs.closed = true
      // Where the blocks came from (disk, API runs, single fetches): the first thing to check when a mount is slow.
      log.info('read path totals', { ...fetcher.stats, ...(localBlocks !== undefined ? { disk: localBlocks.stats, buffers: fetcher.poolStats } : {}) })
      fetcher.close()
    }
  }
}

export class ContentFs {
  private readonly resolved: Map<string, Promise<Entry>> = new Map()
  /**
   * The entries of `resolved` that have settled: `find`/`ls -l` send one getattr per entry, and
   * answering a known path without a deadline timer and promise race was most of their cost.
   */
  private readonly settled: Map<string, Entry> = new Map()
  /** Estimated bytes of each settled entry, and their sum. */
  private readonly weights = new Map<string, number>()
  private resolvedBytes = 0
  private readonly statAheadDone = new Set<string>()
  /** Set by close(): background work stops. */
  closed = false
  private readonly handles = new Map<number, Handle>()
  private nextFd = 1
  private readonly wrapped: boolean
  private leafSize = DEFAULT_LEAF
  /** Bytes read-ahead asked for, for metrics. */
  private readAheadBytes = 0

  constructor (
    private readonly spec: FuseSpec,
    private readonly tree: ContentTree,
    private readonly log: Logger,
    private readonly rootCid: CID,
    private readonly rootNode: UnixfsNode
  ) {
    this.wrapped = rootNode.kind === 'file' || rootNode.kind === 'symlink'
  }

  ops (): AsyncFs {
    return {
      getattr: async (p) => {
        const known = this.known(p)
        if (known !== undefined) return this.stat(known, p)
        return await this.withDeadline(async (s) => this.stat(await this.resolve(p, s), p))
      },
      readdir: async (p) => await this.withDeadline(async (s) => await this.readdir(p, s)),
      readlink: async (p) => await this.withDeadline(async (s) => {
        const e = await this.resolve(p, s)
        if (e.node.kind !== 'symlink') throw new FsError(Errno.EINVAL, 'not a symlink')
        return e.target as string
      }),
      open: async (p, flags) => {
        if ((flags & O_ACCMODE) !== fsc.O_RDONLY || (flags & fsc.O_TRUNC) !== 0) throw new FsError(Errno.EROFS, 'content volumes are read-only')
        const entry = this.known(p) ?? await this.withDeadline(async (s) => await this.resolve(p, s))
        if (entry.node.kind !== 'file') throw new FsError(Errno.EISDIR, 'not a file')
        const fd = this.nextFd++
        this.handles.set(fd, { entry, next: 0, warmedTo: 0, window: 0, seqBytes: 0, forgotTo: 0 })
        return fd
      },
      release: async (_p, fd) => { this.handles.delete(fd) },
      read: async (p, fd, buf, len, pos) => this.readCached(fd, buf, len, pos) ?? await this.withDeadline(async (s) => await this.read(p, fd, buf, len, pos, s)),
      statfs: async () => this.statfs(),
      access: async (p, mode) => await this.withDeadline(async (s) => {
        await this.resolve(p, s)
        if ((mode & fsc.W_OK) !== 0) throw new FsError(Errno.EROFS, 'content volumes are read-only')
      }),
      // Every change is refused with EROFS (not ENOSYS) so tools report "Read-only file system".
      write: rofs, create: rofs, truncate: rofs, ftruncate: rofs, unlink: rofs, mkdir: rofs, rmdir: rofs,
      rename: rofs, symlink: rofs, chmod: rofs, chown: rofs, utimens: rofs
    }
  }

  /** Open files, and the read-ahead they run now (summed windows), for metrics. */
  handleStats (): { openHandles: number, readAheadWindowBytes: number, readAheadBytes: number } {
    let window = 0
    for (const h of this.handles.values()) window += h.window
    return { openHandles: this.handles.size, readAheadWindowBytes: window, readAheadBytes: this.readAheadBytes }
  }

  private async withDeadline<T> (fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = AbortSignal.timeout(this.spec.readTimeoutMs)
    return await race(fn(signal), signal)
  }

  private async read (p: string, fd: number, buf: Buffer, len: number, pos: number, signal: AbortSignal): Promise<number> {
    let h = this.handles.get(fd)
    if (h === undefined) {
      // A read without our open (should not happen): serve it, without read-ahead state.
      h = { entry: await this.resolve(p, signal), next: -1, warmedTo: 0, window: 0, seqBytes: 0, forgotTo: 0 }
    }
    const file = h.entry.node
    if (file.kind !== 'file') throw new FsError(Errno.EISDIR, 'not a file')
    const n = await this.tree.read(file, pos, len, buf, signal, h.entry.cid)
    if (h.next >= 0) this.readAhead(h, file, pos, pos + n)
    return n
  }

  /** `read` when every block it needs is cached (see ContentTree.readCached); undefined otherwise. */
  private readCached (fd: number, buf: Buffer, len: number, pos: number): number | undefined {
    const h = this.handles.get(fd)
    if (h === undefined || h.entry.node.kind !== 'file') return undefined
    const file = h.entry.node
    const n = this.tree.readCached(file, pos, len, buf)
    if (n !== undefined && h.next >= 0) this.readAhead(h, file, pos, pos + n)
    return n
  }

  /**
   * Sequential readers get the bytes ahead of them fetched while they consume this read: the window
   * starts at readAheadBlocks leaves and doubles up to MAX_WINDOW while the reader stays
   * sequential; it is topped up in batches (one `cat` per run of leaves, see fetchRun). Leaves the
   * reader has passed leave the block cache: the kernel page cache serves re-reads.
   */
  private readAhead (h: Handle, file: UnixfsNode & { kind: 'file' }, pos: number, end: number): void {
    const sequential = Math.abs(pos - h.next) <= SEQUENTIAL_SLACK
    h.next = end
    if (!sequential) { h.window = 0; h.seqBytes = 0; return }
    h.seqBytes += end - pos
    if (file.children.length === 0) return
    const passed = end - SEQUENTIAL_SLACK
    if (passed - h.forgotTo >= REFILL_BYTES) {
      this.tree.forget(file, h.forgotTo, passed)
      h.forgotTo = passed
    }
    if (this.spec.readAheadBlocks <= 0 || end >= file.size || h.seqBytes < READ_AHEAD_AFTER) return
    const base = this.spec.readAheadBlocks * this.leafSize
    const refill = Math.min(REFILL_BYTES, Math.max(this.leafSize, Math.floor(h.window / 2)))
    if (h.window === 0) h.window = base
    else if (h.warmedTo < end + h.window - refill) h.window = Math.min(MAX_WINDOW, Math.max(base, h.window * 2))
    if (h.warmedTo >= end + h.window - refill) return
    const from = Math.max(end, h.warmedTo)
    const to = Math.min(file.size, end + h.window)
    h.warmedTo = to
    this.readAheadBytes += to - from
    this.tree.warm(file, from, to, h.entry.cid).catch((err: Error) => this.log.debug('read-ahead failed', { error: err.message }))
  }

  private async readdir (p: string, signal: AbortSignal): Promise<string[]> {
    const e = await this.resolve(p, signal)
    if (e.segs.length === 0 && this.wrapped) return [this.rootCid.toString()]
    if (e.node.kind !== 'directory' && e.node.kind !== 'hamt') throw new FsError(Errno.ENOTDIR, 'not a directory')
    const names = (await this.tree.list(e.node, e.cid, signal)).names
    this.statAhead(p, names)
    return names
  }

  /**
   * After a listing, resolves its entries in the background a few at a time: `find`, `ls -l` and
   * loaders stat every entry next, one at a time, and each stat needs the entry's root block.
   * Started once per directory; failures are dropped (a later stat retries and reports them).
   */
  private statAhead (dir: string, names: string[]): void {
    const key = dir === '' ? '/' : dir
    if (this.statAheadDone.has(key) || names.length === 0) return
    this.statAheadDone.add(key)
    const prefix = key === '/' ? '/' : key + '/'
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < names.length && !this.closed) {
        const p = prefix + (names[next++] as string)
        if (this.resolved.has(p)) continue
        // No per-entry timer: the work is bounded by the fetcher's per-block deadlines.
        await this.resolve(p).catch(() => {})
      }
    }
    for (let i = 0; i < Math.min(STAT_AHEAD_CONCURRENCY, names.length); i++) worker().catch(() => {})
  }

  /**
   * Bounded in entries and in bytes (a path's entry holds its directory node, links and all):
   * the oldest paths go first (Map keeps insertion order).
   */
  private evictResolved (): void {
    while (this.resolved.size > MAX_RESOLVED_PATHS || this.resolvedBytes > RESOLVED_BYTES) {
      const oldest = this.resolved.keys().next().value as string
      this.resolved.delete(oldest)
      this.settled.delete(oldest)
      this.resolvedBytes -= this.weights.get(oldest) ?? 0
      this.weights.delete(oldest)
    }
  }

  /** The entry of a path already resolved, without waiting. */
  private known (p: string): Entry | undefined {
    return this.settled.get(p === '' ? '/' : p)
  }

  /** Path → entry, cached per path (content is immutable); failures are not cached. */
  private async resolve (p: string, signal?: AbortSignal): Promise<Entry> {
    const known = this.known(p)
    if (known !== undefined) return known
    const key = p === '' ? '/' : p
    let pr = this.resolved.get(key)
    if (pr === undefined) {
      const mine = this.resolveUncached(key)
      pr = mine
      this.resolved.set(key, mine)
      this.evictResolved()
      mine.then((e) => {
        if (this.resolved.get(key) !== mine) return
        this.settled.set(key, e)
        const w = 64 + 2 * key.length + nodeWeight(e.node)
        this.weights.set(key, w)
        this.resolvedBytes += w
        this.evictResolved()
      }, () => { if (this.resolved.get(key) === mine) this.resolved.delete(key) })
    }
    return await race(pr, signal)
  }

  private async resolveUncached (p: string): Promise<Entry> {
    const segs = p.split('/').filter(s => s !== '')
    if (segs.length === 0) return { cid: this.rootCid, node: this.rootNode, segs }
    const name = segs[segs.length - 1] as string
    const parentPath = '/' + segs.slice(0, -1).join('/')
    // Each path is resolved once; its parent's entry comes from the cache. The shared work is
    // bounded by the fetcher's per-block deadline; each waiter by its own op deadline.
    const parent = this.settled.get(parentPath) ?? await this.resolve(parentPath, AbortSignal.timeout(this.spec.readTimeoutMs * 4))
    let cid: CID | undefined
    if (parent.segs.length === 0 && this.wrapped) {
      cid = name === this.rootCid.toString() ? this.rootCid : undefined
    } else {
      if (parent.node.kind !== 'directory' && parent.node.kind !== 'hamt') throw new FsError(Errno.ENOTDIR, 'not a directory')
      cid = await this.tree.lookup(parent.node, parent.cid, name)
    }
    if (cid === undefined) throw new FsError(Errno.ENOENT, 'no such entry')
    let node = cid.equals(this.rootCid) && this.wrapped ? this.rootNode : await this.tree.node(cid, undefined, true)
    // A one-block file is kept as a file with itself as its only part, so the (long-lived, path-
    // keyed) entry does not hold its bytes: reads take them from the bounded block cache.
    if (node.kind === 'file' && node.children.length === 0 && node.data.byteLength > INLINE_DATA_MAX) {
      node = { ...node, data: new Uint8Array(0), children: [{ cid, size: node.size }] }
    }
    const entry: Entry = { cid, node, segs }
    if (node.kind === 'symlink') {
      const target = safeSymlinkTarget(new TextDecoder().decode(node.target), segs.slice(0, -1))
      if (target === undefined) throw new FsError(Errno.ENOENT, 'symlink target cannot exist on Linux')
      entry.target = target
    }
    return entry
  }

  private stat (e: Entry, p: string): Stat {
    e.stat ??= this.buildStat(e, p)
    return e.stat
  }

  private buildStat (e: Entry, p: string): Stat {
    const n = e.node
    const mtime = new Date(n.mtimeMs ?? 0)
    const base = { mtime, atime: mtime, ctime: mtime, uid: 0, gid: 0, ino: inodeOf(p), blksize: 4096 }
    const isRoot = e.segs.length === 0
    if (isRoot && this.wrapped) return { ...base, mode: fsc.S_IFDIR | DEFAULT_DIR_MODE, size: 4096, nlink: 2, blocks: 8 }
    switch (n.kind) {
      case 'file': return { ...base, mode: fsc.S_IFREG | ((n.mode ?? DEFAULT_FILE_MODE) & MODE_MASK), size: n.size, nlink: 1, blocks: Math.ceil(n.size / 512) }
      case 'symlink': {
        const size = Buffer.byteLength(e.target ?? '')
        return { ...base, mode: fsc.S_IFLNK | 0o777, size, nlink: 1, blocks: 0 }
      }
      default: return { ...base, mode: fsc.S_IFDIR | ((n.mode ?? DEFAULT_DIR_MODE) & MODE_MASK), size: 4096, nlink: 2, blocks: 8 }
    }
  }

  private statfs (): StatFs {
    // Size of the content when known: a file's exact size, a directory's cumulative link sizes.
    const n = this.rootNode
    const bytes = n.kind === 'file' ? n.size : n.kind === 'directory' || n.kind === 'hamt' ? n.links.reduce((s, l) => s + l.tsize, 0) : 0
    const bsize = 4096
    return { bsize, frsize: bsize, blocks: Math.ceil(bytes / bsize), bfree: 0, bavail: 0, files: 0, ffree: 0, favail: 0, fsid: 0, flag: 1 /* ST_RDONLY */, namemax: 255 }
  }
}

async function rofs (): Promise<never> {
  throw new FsError(Errno.EROFS, 'content volumes are read-only')
}

/** Stable inode per path (48 bits of its hash), so tools that compare inodes see the same file. */
function inodeOf (p: string): number {
  if (p === '/' || p === '') return 1
  return createHash('sha1').update(p).digest().readUIntBE(0, 6) || 2
}
