// Adapts async filesystem implementations to fuse-native's callback ops. Each op:
//  - maps thrown errors to a negative errno (FsError keeps its own, Kubo trouble becomes EIO),
//  - is bounded in time: past `opTimeoutMs` the kernel gets EIO, never a hung reader,
//  - can never throw into fuse-native (an exception in one callback must not end the mount).
import { Errno, toErrno } from '../../driver/errors.js'
import type { Logger } from '../../driver/logger.js'
import { eioCause, type FuseOpStats } from './op-stats.js'
import type { ContentReadStats } from './fuse-metrics.js'

export interface Stat {
  mode: number
  size: number
  mtime: Date
  atime: Date
  ctime: Date
  nlink?: number
  uid?: number
  gid?: number
  ino?: number
  blocks?: number
  blksize?: number
}

export interface StatFs {
  bsize: number
  frsize: number
  blocks: number
  bfree: number
  bavail: number
  files: number
  ffree: number
  favail: number
  fsid: number
  flag: number
  namemax: number
}

/** The async shape our filesystems implement; every method is optional except getattr. */
export interface AsyncFs {
  getattr: (path: string) => Promise<Stat>
  readdir?: (path: string) => Promise<string[]>
  readlink?: (path: string) => Promise<string>
  open?: (path: string, flags: number) => Promise<number>
  release?: (path: string, fd: number) => Promise<void>
  /** Fills `buf` from `pos`, returns the number of bytes (0 at EOF). */
  read?: (path: string, fd: number, buf: Buffer, len: number, pos: number) => Promise<number>
  write?: (path: string, fd: number, buf: Buffer, len: number, pos: number) => Promise<number>
  create?: (path: string, mode: number) => Promise<number>
  truncate?: (path: string, size: number) => Promise<void>
  ftruncate?: (path: string, fd: number, size: number) => Promise<void>
  unlink?: (path: string) => Promise<void>
  mkdir?: (path: string, mode: number) => Promise<void>
  rmdir?: (path: string) => Promise<void>
  rename?: (src: string, dest: string) => Promise<void>
  symlink?: (target: string, path: string) => Promise<void>
  chmod?: (path: string, mode: number) => Promise<void>
  chown?: (path: string, uid: number, gid: number) => Promise<void>
  utimens?: (path: string, atime: number, mtime: number) => Promise<void>
  flush?: (path: string, fd: number) => Promise<void>
  fsync?: (path: string, fd: number, datasync: boolean) => Promise<void>
  statfs?: (path: string) => Promise<StatFs>
  access?: (path: string, mode: number) => Promise<void>
}

/** A mounted filesystem: its operations and how to close it. */
export interface FsInstance {
  fs: AsyncFs
  /** Flushes pending writes (writable) and releases resources. */
  close: () => Promise<void>
  /** Read-path counters at this moment (content volumes), for metrics. */
  stats?: () => ContentReadStats
}

type Cb = (...args: any[]) => void

/** Ops that return bytes through a single number argument (fuse-native convention). */
const COUNT_OPS = new Set(['read', 'write'])

export function toFuseOps (fs: AsyncFs, log: Logger, opTimeoutMs: number, stats?: FuseOpStats): Record<string, Function> {
  const ops: Record<string, Function> = {}
  for (const name of Object.keys(fs) as Array<keyof AsyncFs>) {
    const impl = fs[name] as ((...a: any[]) => Promise<unknown>) | undefined
    if (typeof impl !== 'function') continue
    const isRead = name === 'read'
    const isWrite = name === 'write'
    ops[name] = (...args: any[]) => {
      const cb = args.pop() as Cb
      const started = isRead && stats !== undefined ? performance.now() : 0
      let done = false
      const finish = (err: number, value?: unknown): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        if (stats !== undefined && err >= 0) {
          if (isRead) {
            stats.reads++
            stats.readBytes += value as number
            stats.readLatency.observe((performance.now() - started) / 1000)
          } else if (isWrite) {
            stats.writes++
            stats.writeBytes += value as number
          }
        }
        try {
          if (COUNT_OPS.has(name)) cb(err < 0 ? err : (value as number))
          else if (err < 0) cb(err)
          else cb(0, value)
        } catch (e) {
          log.error('fuse callback threw', { op: name, error: (e as Error).message })
        }
      }
      const timer = setTimeout(() => {
        log.warn('fuse op timed out', { op: name, path: args[0], ms: opTimeoutMs })
        if (stats !== undefined && !done) stats.eio.timeout++
        finish(-Errno.EIO)
      }, opTimeoutMs)
      let p: Promise<unknown>
      try {
        p = impl.apply(fs, args)
      } catch (e) {
        p = Promise.reject(e)
      }
      p.then((v) => finish(0, v), (e: unknown) => {
        const errno = toErrno(e)
        if (errno === Errno.EIO) {
          if (stats !== undefined && !done) stats.eio[eioCause(e)]++
          log.warn('fuse op failed', { op: name, path: args[0], error: (e as Error)?.message })
        } else {
          if (stats !== undefined && !done) stats.otherErrors++
          log.debug('fuse op refused', { op: name, path: args[0], errno })
        }
        finish(-errno)
      })
    }
  }
  return ops
}
