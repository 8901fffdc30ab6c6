// A writable volume: a FUSE filesystem over one Kubo MFS directory (spec.mfsPath). Its data is
// in IPFS, not on this node: another FUSE server on the same Kubo sees it after a remount.
//
// Design (see the writable/ modules):
//  - Files open for writing are buffered whole in a local spill file and replace the MFS file
//    on flush/fsync/release: `add` (outside any lock, it does not touch MFS), then, as one
//    serialized MFS mutation, files/cp --force + touch (mtime) [+ chmod] + files/stat to verify
//    the size (retried once). We never use files/write: Kubo 0.43 can silently lose one that
//    races an MFS read of its parent.
//  - All MFS mutations of this server run one at a time and never alongside an MFS read
//    (RwGate); MFS reads (stat, ls) run together.
//  - File data is read by CID (`cat` of the CID files/stat gave), in 1 MiB chunks with
//    read-ahead (writable/chunk-reader.ts), so data reads never touch MFS at all. Existing
//    content is copied into a spill file only when a change needs it (O_TRUNC needs none).
//  - Close-to-open consistency: close() (FUSE flush) returns once the data is in MFS.
//  - Limits: a change rewrites the whole file (fine for typical files; an fsync-heavy append
//    to a huge file re-uploads it each time), and a flush of a file too big to upload within
//    the op bound answers EIO while the upload still completes in the background.
//  - Capacity: see writable/capacity.ts. spec.readOnly: every mutation fails with EROFS.
//  - Spill files count against the node's spill budget and this volume's share of it
//    (writable/spill-budget.ts): a write that needs more fails with ENOSPC for that file alone.
//  - Every Kubo call has a deadline; a failing Kubo gives EIO, never a hang.
import { tmpdir } from 'node:os'
import path from 'node:path'
import { DEFAULTS } from '../../driver/constants.js'
import { Errno, FsError } from '../../driver/errors.js'
import type { Kubo } from '../../driver/kubo.js'
import type { Logger } from '../../driver/logger.js'
import type { FuseSpec } from './fuse-spec.js'
import type { AsyncFs, FsInstance, Stat, StatFs } from './fuse-ops.js'
import { Capacity } from './writable/capacity.js'
import { MfsClient, transferDeadline, type MfsStat } from './writable/mfs-client.js'
import { checkMfsRoot, isWithin, normalize, rebase, toMfs } from './writable/mfs-path.js'
import { OpenFile } from './writable/open-file.js'
import { ChunkReader } from './writable/chunk-reader.js'
import { RwGate } from './writable/rw-gate.js'
import { SpillBudget, type SpillLimits } from './writable/spill-budget.js'
import { StatCache } from './writable/stat-cache.js'

const S_IFDIR = 0o040000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000
/** Not in driver/errors.ts's Errno table. */
const EBUSY = 16
const O_ACCMODE = 3
const O_RDONLY = 0
const O_TRUNC = 0o1000
const FILE_MODE = 0o644
const DIR_MODE = 0o755
/**
 * setuid/setgid are never stored nor shown (as in content-fs): a tenant must not be able to
 * leave a setuid file that another pod, or the node, would run with the owner's (root's) rights.
 */
const MODE_MASK = 0o1777
/** Existing content is copied into a spill file in pieces this big (bounded memory). */
const LOAD_CHUNK = 4 * 1024 * 1024
const STAT_TTL_MS = 1000
/** Linux's longest symlink target (PATH_MAX less its NUL). */
const SYMLINK_MAX = 4095

interface Handle {
  /** Set for handles open for writing. */
  file?: OpenFile
}

export interface WritableDeps { kubo: Kubo, log: Logger }

export async function createWritableFs (spec: FuseSpec, deps: WritableDeps): Promise<FsInstance> {
  if (spec.mfsPath === undefined) throw new Error('writable mode needs mfsPath')
  const root = checkMfsRoot(spec.mfsPath)
  const mfs = new MfsClient(deps.kubo, spec.kuboTimeoutMs)
  const rootStat = await mfs.stat(root)
  if (rootStat.type !== 'directory') throw new Error(`MFS path ${root} is not a directory`)
  const w = new WritableFs(spec, root, mfs, deps.log, new Capacity(spec.capacityBytes, rootStat.cumulativeSize), spillLimitsOf(spec))
  deps.log.info('writable volume ready', { mfsPath: root, usedBytes: rootStat.cumulativeSize, capacityBytes: spec.capacityBytes, readOnly: spec.readOnly })
  return { fs: w.asyncFs(), close: async () => await w.close() }
}

/** The spec's spill settings; unset (`ipfs-csi mount`, tests): under $TMPDIR, the default budget. */
export function spillLimitsOf (spec: FuseSpec): SpillLimits {
  const nodeBytes = spec.spillMaxBytes ?? DEFAULTS.spillMaxBytes
  return { root: spec.spillDir ?? path.join(tmpdir(), 'ipfs-csi-spill'), nodeBytes, volumeBytes: Math.min(nodeBytes, spec.spillVolumeMaxBytes ?? nodeBytes) }
}

export class WritableFs {
  private readonly gate = new RwGate()
  private readonly stats = new StatCache(STAT_TTL_MS)
  private readonly chunks = new ChunkReader()
  /** Open-for-write files by normalized FUSE path. */
  private readonly files = new Map<string, OpenFile>()
  private readonly handles = new Map<number, Handle>()
  private nextFd = 1
  private readonly startedMs = Date.now()
  private readonly uid = process.getuid?.() ?? 0
  private readonly gid = process.getgid?.() ?? 0
  private closing = false
  /** Made on first use (a mount that fails leaves nothing behind); named after the volume. */
  private budget: SpillBudget | undefined

  constructor (
    private readonly spec: FuseSpec,
    private readonly root: string,
    private readonly mfs: MfsClient,
    private readonly log: Logger,
    readonly capacity: Capacity,
    private readonly spillLimits: SpillLimits
  ) {}

  asyncFs (): AsyncFs {
    return {
      getattr: async (p) => await this.getattr(p),
      readdir: async (p) => await this.readdir(p),
      readlink: async (p) => await this.readlink(p),
      open: async (p, flags) => await this.open(p, flags),
      create: async (p, mode) => await this.create(p, mode),
      read: async (p, fd, buf, len, pos) => await this.read(p, fd, buf, len, pos),
      write: async (p, fd, buf, len, pos) => await this.write(p, fd, buf, len, pos),
      release: async (p, fd) => await this.release(p, fd),
      flush: async (p, fd) => await this.flush(p, fd),
      // fuse-native hands fsync (path, datasync, fd), not the order AsyncFs declares: use the path.
      fsync: async (p) => await this.fsync(p),
      truncate: async (p, size) => await this.truncate(p, size),
      ftruncate: async (p, fd, size) => await this.ftruncate(p, fd, size),
      unlink: async (p) => await this.unlink(p),
      mkdir: async (p, mode) => await this.mkdir(p, mode),
      rmdir: async (p) => await this.rmdir(p),
      rename: async (s, d) => await this.rename(s, d),
      symlink: async (target, p) => await this.symlink(target, p),
      chmod: async (p, mode) => await this.chmod(p, mode),
      chown: async () => { this.mutable() }, // MFS has no owners: accepted, nothing stored
      utimens: async (p, atime, mtime) => await this.utimens(p, atime, mtime),
      statfs: async () => this.statfs()
    }
  }

  // ---- metadata -------------------------------------------------------------------------

  async getattr (fusePath: string): Promise<Stat> {
    const p = normalize(fusePath)
    const f = this.files.get(p)
    if (f !== undefined) return this.toStat({ cid: '', type: 'file', size: f.size, cumulativeSize: f.size, mode: f.mode, mtimeMs: f.mtimeMs })
    return this.toStat(await this.stat(p))
  }

  async readdir (fusePath: string): Promise<string[]> {
    const p = normalize(fusePath)
    const st = await this.stat(p)
    if (st.type !== 'directory') throw new FsError(Errno.ENOTDIR, `${p} is not a directory`)
    return await this.gate.shared(async () => await this.mfs.ls(this.mfsOf(p)))
  }

  /** `cat` of a UnixFS symlink gives its target. */
  async readlink (fusePath: string): Promise<string> {
    const st = await this.stat(normalize(fusePath))
    if (st.type !== 'symlink') throw new FsError(Errno.EINVAL, `${fusePath} is not a symlink`)
    // Seeded content may claim any size: never read more than a target can be.
    const text = await this.mfs.cat(st.cid, 0, Math.min(st.size, SYMLINK_MAX + 1), this.spec.readTimeoutMs)
    if (text.length > SYMLINK_MAX) throw new FsError(Errno.ENAMETOOLONG, `${fusePath}: a symlink target over ${SYMLINK_MAX} bytes`)
    return new TextDecoder().decode(text)
  }

  statfs (): StatFs { return this.capacity.statfs() }

  // ---- open / create / release ----------------------------------------------------------

  async open (fusePath: string, flags: number): Promise<number> {
    const p = normalize(fusePath)
    const forWrite = (flags & O_ACCMODE) !== O_RDONLY || (flags & O_TRUNC) !== 0
    if (!forWrite) {
      const f = this.files.get(p)
      if (f === undefined) {
        const st = await this.stat(p)
        if (st.type === 'directory') throw new FsError(Errno.EISDIR, `${p} is a directory`)
      }
      return this.newHandle({})
    }
    this.mutable()
    const f = await this.acquire(p)
    try {
      if ((flags & O_TRUNC) !== 0) await f.lock(async () => await this.truncateOpen(f, 0))
    } catch (err) {
      await this.releaseFile(f)
      throw err
    }
    return this.newHandle({ file: f })
  }

  async create (fusePath: string, mode: number): Promise<number> {
    this.mutable()
    const p = normalize(fusePath)
    if (p === '/') throw new FsError(Errno.EISDIR, 'the root is a directory')
    const existing = this.files.get(p)
    if (existing === undefined) {
      let st: MfsStat | undefined
      try { st = await this.stat(p) } catch (err) { if (!(err instanceof FsError && err.errno === Errno.ENOENT)) throw err }
      if (st?.type === 'directory') throw new FsError(Errno.EISDIR, `${p} is a directory`)
      if (st === undefined) {
        // The file appears in MFS right away (empty), so it is listed and renamable like any other.
        const perm = mode & MODE_MASK
        const cid = await this.mfs.addBytes(new Uint8Array(0))
        const now = Date.now()
        await this.mutate(async () => {
          const dest = this.mfsOf(p)
          await this.mfs.cpForce(cid, dest)
          if (perm !== FILE_MODE && perm !== 0) await this.mfs.chmod(dest, perm)
        })
        // A concurrent create of the same name may have won while we waited: share its file.
        if (!this.files.has(p)) this.files.set(p, new OpenFile(this.spill(), p, 0, true, perm !== 0 ? perm : FILE_MODE, now))
      }
    }
    // Open the new file, or one that existed already (stale negative lookup): its content stays.
    return this.newHandle({ file: await this.acquire(p) })
  }

  async release (_fusePath: string, fd: number): Promise<void> {
    const h = this.handles.get(fd)
    this.handles.delete(fd)
    if (h?.file !== undefined) await this.releaseFile(h.file)
  }

  async flush (_fusePath: string, fd: number): Promise<void> {
    const f = this.handles.get(fd)?.file
    if (f !== undefined) await this.upload(f)
  }

  async fsync (fusePath: string): Promise<void> {
    const f = this.files.get(normalize(fusePath))
    if (f !== undefined) await this.upload(f)
  }

  // ---- data -----------------------------------------------------------------------------

  async read (fusePath: string, fd: number, buf: Buffer, len: number, pos: number): Promise<number> {
    const p = normalize(fusePath)
    const f = this.handles.get(fd)?.file ?? this.files.get(p)
    if (f?.loaded === true) return f.readSpill(buf, len, pos)
    const st = await this.stat(p)
    // An open, unchanged file may have been truncated down without its prefix copied yet.
    const size = f !== undefined ? Math.min(f.size, st.size) : st.size
    if (pos >= size || len === 0) return 0
    const fetch = async (start: number, count: number): Promise<Uint8Array> => await this.mfs.cat(st.cid, start, count, this.spec.readTimeoutMs)
    const data = await this.chunks.read(st.cid, pos, len, size, fetch)
    const n = Math.min(len, data.length)
    buf.set(data.subarray(0, n), 0)
    return n
  }

  async write (_fusePath: string, fd: number, buf: Buffer, len: number, pos: number): Promise<number> {
    this.mutable()
    const f = this.handles.get(fd)?.file
    if (f === undefined) throw new FsError(Errno.EBADF, 'file is not open for writing')
    return await f.lock(async () => {
      await this.load(f)
      const end = pos + len
      // Refused whole, before any byte is written: what the file held stays as it was. A file
      // already unlinked no longer counts (its space was given back when it went).
      const grown = f.deleted ? 0 : Math.max(0, end - f.size)
      this.capacity.change(grown)
      try {
        f.writeSpill(buf, len, pos)
      } catch (err) {
        this.capacity.change(-grown)
        throw err
      }
      if (end > f.size) f.size = end
      f.dirty = true
      f.mtimeMs = Date.now()
      return len
    })
  }

  async truncate (fusePath: string, size: number): Promise<void> {
    this.mutable()
    const p = normalize(fusePath)
    const f = await this.acquire(p)
    try {
      await f.lock(async () => await this.truncateOpen(f, size))
    } finally {
      // Releasing our reference uploads the change, so truncate(2) is durable when it returns.
      await this.releaseFile(f)
    }
  }

  async ftruncate (fusePath: string, fd: number, size: number): Promise<void> {
    this.mutable()
    const f = this.handles.get(fd)?.file
    if (f === undefined) return await this.truncate(fusePath, size)
    await f.lock(async () => await this.truncateOpen(f, size))
  }

  // ---- namespace ------------------------------------------------------------------------

  async unlink (fusePath: string): Promise<void> {
    this.mutable()
    const p = normalize(fusePath)
    await this.mutate(async () => {
      const st = await this.mfs.stat(this.mfsOf(p))
      if (st.type === 'directory') throw new FsError(Errno.EISDIR, `${p} is a directory`)
      await this.mfs.rm(this.mfsOf(p), false)
      this.forget(p, st.size)
    })
  }

  async mkdir (fusePath: string, mode: number): Promise<void> {
    this.mutable()
    const p = normalize(fusePath)
    const perm = mode & MODE_MASK
    await this.mutate(async () => {
      await this.mfs.mkdir(this.mfsOf(p))
      if (perm !== DIR_MODE && perm !== 0) await this.mfs.chmod(this.mfsOf(p), perm)
    })
  }

  /**
   * A UnixFS symlink holding `target` as given, as on any POSIX filesystem: the kernel resolves it
   * in the reader's own mount namespace (Hugging Face's cache links snapshots to blobs this way).
   */
  async symlink (target: string, fusePath: string): Promise<void> {
    this.mutable()
    const p = normalize(fusePath)
    if (p === '/') throw new FsError(Errno.EEXIST, 'the root exists')
    if (target === '' || target.includes('\0')) throw new FsError(Errno.ENOENT, 'an empty symlink target')
    if (Buffer.byteLength(target) > SYMLINK_MAX) throw new FsError(Errno.ENAMETOOLONG, `a symlink target over ${SYMLINK_MAX} bytes`)
    if (this.files.has(p)) throw new FsError(Errno.EEXIST, `${p} exists`)
    const cid = await this.mfs.addSymlink(target)
    await this.mutate(async () => await this.mfs.cpSymlink(cid, this.mfsOf(p)))
  }

  async rmdir (fusePath: string): Promise<void> {
    this.mutable()
    const p = normalize(fusePath)
    if (p === '/') throw new FsError(EBUSY, 'cannot remove the volume root')
    await this.mutate(async () => {
      const st = await this.mfs.stat(this.mfsOf(p))
      if (st.type !== 'directory') throw new FsError(Errno.ENOTDIR, `${p} is not a directory`)
      if ((await this.mfs.ls(this.mfsOf(p))).length > 0) throw new FsError(Errno.ENOTEMPTY, `${p} is not empty`)
      await this.mfs.rm(this.mfsOf(p), true)
    })
  }

  /** POSIX rename: an existing target is replaced (an empty dir by a dir, a file by a file). */
  async rename (srcPath: string, destPath: string): Promise<void> {
    this.mutable()
    const s = normalize(srcPath)
    const d = normalize(destPath)
    if (s === d) return
    if (s === '/' || d === '/') throw new FsError(EBUSY, 'cannot rename the volume root')
    if (isWithin(d, s)) throw new FsError(Errno.EINVAL, `cannot move ${s} into itself`)
    await this.mutate(async () => {
      const ss = await this.mfs.stat(this.mfsOf(s))
      let ds: MfsStat | undefined
      try { ds = await this.mfs.stat(this.mfsOf(d)) } catch (err) { if (!(err instanceof FsError && err.errno === Errno.ENOENT)) throw err }
      if (ds !== undefined) {
        if (ds.type === 'directory') {
          if (ss.type !== 'directory') throw new FsError(Errno.EISDIR, `${d} is a directory`)
          if ((await this.mfs.ls(this.mfsOf(d))).length > 0) throw new FsError(Errno.ENOTEMPTY, `${d} is not empty`)
          await this.mfs.rm(this.mfsOf(d), true)
        } else {
          if (ss.type === 'directory') throw new FsError(Errno.ENOTDIR, `${d} is not a directory`)
          await this.mfs.rm(this.mfsOf(d), false)
          this.forget(d, ds.size)
        }
      }
      // MFS mv onto an existing directory would move *into* it: the target is gone by now.
      await this.mfs.mv(this.mfsOf(s), this.mfsOf(d))
      // Open files move with their names, so their next upload lands at the new place.
      for (const [key, f] of [...this.files]) {
        if (!isWithin(key, s)) continue
        this.files.delete(key)
        f.path = rebase(key, s, d)
        this.files.set(f.path, f)
      }
    })
  }

  async chmod (fusePath: string, mode: number): Promise<void> {
    this.mutable()
    const p = normalize(fusePath)
    const perm = mode & MODE_MASK
    const f = this.files.get(p)
    if (f !== undefined) f.mode = perm // kept by its next upload as well
    await this.mutate(async () => await this.mfs.chmod(this.mfsOf(p), perm))
  }

  /**
   * fuse-native 2.2.6 passes the atime value in both time arguments (a bug in its C binding),
   * so what we store as mtime is really the requested atime: right for `touch` and `touch -d`
   * (both times equal); `touch -m`, `cp -p`, `tar -x` and `rsync -t` get an approximate mtime.
   */
  async utimens (fusePath: string, _atime: number, mtime: number): Promise<void> {
    this.mutable()
    const p = normalize(fusePath)
    const ms = Number.isFinite(mtime) && mtime > 0 ? mtime : Date.now()
    const f = this.files.get(p)
    if (f !== undefined) {
      f.mtimeMs = ms
      if (f.dirty) return // stored by the coming upload
    }
    await this.mutate(async () => await this.mfs.touch(this.mfsOf(p), ms))
  }

  // ---- lifecycle ------------------------------------------------------------------------

  /** Uploads every changed open file, flushes the MFS root, removes spill files. Bounded in time. */
  async close (): Promise<void> {
    this.closing = true
    const pending = [...new Set(this.files.values())]
    const dirtyBytes = pending.filter(f => f.dirty && !f.deleted).reduce((a, f) => a + f.size, 0)
    const boundMs = transferDeadline(3 * this.spec.kuboTimeoutMs, dirtyBytes)
    const work = (async () => {
      for (const f of pending) {
        try { await this.upload(f) } catch (err) { this.log.error('could not save a file at shutdown', { path: f.path, spill: f.spillPath, error: (err as Error).message }) }
      }
      await this.mutate(async () => await this.mfs.flush(this.root)).catch((err: Error) => this.log.error('final MFS flush failed', { error: err.message }))
    })()
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      work.then(() => false),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), boundMs) })
    ])
    clearTimeout(timer)
    if (timedOut) this.log.error('writable volume close timed out', { ms: boundMs })
    let kept = 0
    for (const f of pending) {
      // Unsaved data stays on disk (and is named in the log) rather than being thrown away.
      if (f.dirty && !f.deleted) { kept++; continue }
      await f.dispose().catch(() => {})
    }
    if (kept === 0) this.budget?.dispose()
    this.files.clear()
    this.handles.clear()
  }

  // ---- internals ------------------------------------------------------------------------

  private mutable (): void {
    if (this.spec.readOnly) throw new FsError(Errno.EROFS, 'volume is read-only')
  }

  private mfsOf (p: string): string { return toMfs(this.root, p) }

  private spill (): SpillBudget {
    if (this.budget === undefined) {
      const budget = new SpillBudget(this.spillLimits, this.spec.volumeId, this.log)
      try {
        budget.init()
      } catch (err) {
        throw new FsError(Errno.EIO, `cannot make a spill directory under ${this.spillLimits.root}: ${(err as Error).message}`)
      }
      this.budget = budget
    }
    return this.budget
  }

  private async stat (p: string): Promise<MfsStat> {
    return await this.stats.get(p, async () => await this.gate.shared(async () => await this.mfs.stat(this.mfsOf(p))))
  }

  /** One serialized MFS mutation; cached stats are dropped before and after. */
  private async mutate<T> (fn: () => Promise<T>): Promise<T> {
    return await this.gate.exclusive(async () => {
      this.stats.clear()
      try {
        return await fn()
      } finally {
        this.stats.clear()
      }
    })
  }

  private newHandle (h: Handle): number {
    if (this.closing) throw new FsError(Errno.EIO, 'volume is being unmounted')
    for (;;) {
      const fd = this.nextFd
      this.nextFd = this.nextFd >= 0x7fffffff ? 1 : this.nextFd + 1 // fd 0 means "unset" to fuse-native
      if (!this.handles.has(fd)) {
        this.handles.set(fd, h)
        return fd
      }
    }
  }

  /** The OpenFile of an existing MFS file (one per path), with one more reference. */
  private async acquire (p: string): Promise<OpenFile> {
    let f = this.files.get(p)
    if (f === undefined) {
      const st = await this.stat(p)
      if (st.type === 'directory') throw new FsError(Errno.EISDIR, `${p} is a directory`)
      f = this.files.get(p) // another open may have won while we waited
      if (f === undefined) {
        f = new OpenFile(this.spill(), p, st.size, st.size === 0, st.mode ?? FILE_MODE, st.mtimeMs ?? Date.now())
        this.files.set(p, f)
      }
    }
    f.refs++
    return f
  }

  /** Drops a reference; the last one uploads pending changes and removes the spill file. */
  private async releaseFile (f: OpenFile): Promise<void> {
    f.refs--
    try {
      await this.upload(f)
    } finally {
      // A failed upload keeps the file (and its spill) so a reopen or close() can retry it.
      if (f.refs === 0 && (!f.dirty || f.deleted)) {
        if (this.files.get(f.path) === f) this.files.delete(f.path)
        await f.dispose()
      }
    }
  }

  /** Copies the file's current MFS content into its spill file (only when a change needs it). */
  private async load (f: OpenFile): Promise<void> {
    if (f.loaded) return
    const cid = f.size > 0 ? (await this.stat(f.path)).cid : ''
    let off = 0
    while (off < f.size) {
      const n = Math.min(LOAD_CHUNK, f.size - off)
      const chunk = await this.mfs.cat(cid, off, n, transferDeadline(this.spec.readTimeoutMs, n))
      if (chunk.length === 0) break
      f.writeSpill(chunk, chunk.length, off)
      off += chunk.length
    }
    // A file that shrank meanwhile: what we have is the content.
    f.size = off
    f.truncateSpill(off)
    f.loaded = true
  }

  /** Sets the size of an open file (call under its lock). */
  private async truncateOpen (f: OpenFile, size: number): Promise<void> {
    if (size === f.size && f.loaded) return
    const delta = f.deleted ? 0 : size - f.size
    this.capacity.change(delta)
    if (!f.loaded) {
      if (size <= f.size) {
        // Shrinking: only the kept prefix will ever be copied in.
        f.size = size
        if (size === 0) f.loaded = true
      } else {
        try { await this.load(f) } catch (err) { this.capacity.change(-delta); throw err }
      }
    }
    if (f.loaded) {
      try { f.truncateSpill(size) } catch (err) { this.capacity.change(-delta); throw err }
    }
    f.size = size
    f.dirty = true
    f.mtimeMs = Date.now()
  }

  /** Replaces the MFS file by the spill file's content when it changed. */
  private async upload (f: OpenFile): Promise<void> {
    await f.lock(async () => {
      if (!f.dirty || f.deleted) return
      await this.load(f)
      const size = f.size
      // `add` only writes blocks, so it runs outside the MFS gate.
      const cid = await this.mfs.addFile(f.spillPath, size)
      await this.mutate(async () => {
        if (f.deleted) return
        for (let attempt = 1; ; attempt++) {
          const dest = this.mfsOf(f.path)
          await this.mfs.cpForce(cid, dest)
          // Metadata is best effort: losing an mtime must not fail the save of the bytes.
          await this.mfs.touch(dest, f.mtimeMs).catch((err: Error) => this.log.debug('touch failed', { path: f.path, error: err.message }))
          if (f.mode !== FILE_MODE) await this.mfs.chmod(dest, f.mode).catch((err: Error) => this.log.debug('chmod failed', { path: f.path, error: err.message }))
          const st = await this.mfs.stat(dest)
          if (st.size === size) break
          this.log.warn('MFS file size differs after replace', { path: f.path, expected: size, got: st.size, attempt })
          if (attempt >= 2) throw new FsError(Errno.EIO, `saving ${f.path}: MFS holds ${st.size} bytes, expected ${size}`)
        }
      })
      f.dirty = false
    })
  }

  /** After `p` left MFS (unlink, replaced by rename): release its space, detach an open file. */
  private forget (p: string, mfsSize: number): void {
    const f = this.files.get(p)
    if (f !== undefined) {
      f.deleted = true
      this.files.delete(p)
      this.capacity.change(-f.size)
      if (f.refs === 0) void f.dispose()
    } else {
      this.capacity.change(-mfsSize)
    }
  }

  private toStat (s: MfsStat): Stat {
    const dir = s.type === 'directory'
    const mtime = new Date(s.mtimeMs ?? this.startedMs)
    return {
      mode: s.type === 'symlink' ? S_IFLNK | 0o777 : (dir ? S_IFDIR : S_IFREG) | ((s.mode ?? (dir ? DIR_MODE : FILE_MODE)) & MODE_MASK),
      size: dir ? 4096 : s.size,
      mtime,
      atime: mtime,
      ctime: mtime,
      nlink: dir ? 2 : 1,
      uid: this.uid,
      gid: this.gid,
      blksize: 4096,
      blocks: Math.ceil((dir ? 4096 : s.size) / 512)
    }
  }
}
