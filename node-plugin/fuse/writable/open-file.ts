// A file open for writing: its whole content lives in a local spill file while open, and goes
// to MFS as one new file (add + files/cp) on flush/fsync/release. Every fd open for writing on
// the same path shares one OpenFile, so they all see the same bytes. The spill file's extent is
// accounted in the node's spill budget (spill-budget.ts) before a byte goes to disk: a write
// past it fails with ENOSPC for this file alone.
import { closeSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import type { SpillBudget } from './spill-budget.js'

let seq = 0

export class OpenFile {
  /** Normalized FUSE path; follows renames. */
  path: string
  /** fds (and internal users) holding it. */
  refs = 0
  /** Current logical size (of the spill file once loaded, of the MFS file before). */
  size: number
  /** The spill file holds the content; false until the first write needs it (lazy copy). */
  loaded: boolean
  /** Changed since the last successful upload. */
  dirty = false
  /** Unlinked (or replaced by a rename) while open: writes still work, nothing is uploaded. */
  deleted = false
  /** Permission bits to keep on the uploaded file. */
  mode: number
  /** mtime to store at upload (last write, or an explicit utimens). */
  mtimeMs: number
  readonly spillPath: string
  private fd: number | undefined
  /** Bytes of the spill file accounted in the budget (its extent). */
  private spilled = 0
  private chain: Promise<unknown> = Promise.resolve()

  constructor (private readonly budget: SpillBudget, fusePath: string, size: number, loaded: boolean, mode: number, mtimeMs: number) {
    this.path = fusePath
    this.size = size
    this.loaded = loaded
    this.mode = mode
    this.mtimeMs = mtimeMs
    this.spillPath = path.join(budget.dir, `f${++seq}`)
    this.fd = openSync(this.spillPath, 'w+', 0o600)
  }

  /** Runs `fn` alone with respect to other locked work on this file (load, write, truncate, upload). */
  async lock<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn)
    this.chain = run.catch(() => {})
    return await run
  }

  // Spill I/O is synchronous on purpose: page-cache writes of <=128 KiB take microseconds, far
  // less than a hop through libuv's thread pool that every FUSE write would otherwise pay.
  readSpill (buf: Buffer, len: number, pos: number): number {
    if (pos >= this.size) return 0
    const n = Math.min(len, this.size - pos)
    let done = 0
    while (done < n) {
      const r = readSync(this.spillFd, buf, done, n - done, pos + done)
      if (r === 0) break
      done += r
    }
    // A sparse tail (truncate up) reads back as zeros.
    if (done < n) buf.fill(0, done, n)
    return n
  }

  /** Throws ENOSPC, writing nothing, when the spill budget cannot hold the new extent. */
  writeSpill (buf: Uint8Array, len: number, pos: number): void {
    this.account(pos + len)
    let done = 0
    while (done < len) done += writeSync(this.spillFd, buf, done, len - done, pos + done)
  }

  truncateSpill (size: number): void {
    if (size > this.spilled) this.account(size)
    ftruncateSync(this.spillFd, size)
    if (size < this.spilled) {
      this.budget.release(this.spilled - size)
      this.spilled = size
    }
  }

  /** Reserves spill budget up to `extent` (never shrinks: writes inside the file cost nothing). */
  private account (extent: number): void {
    if (extent <= this.spilled) return
    this.budget.reserve(extent - this.spilled)
    this.spilled = extent
  }

  private get spillFd (): number {
    if (this.fd === undefined) throw new Error(`spill file of ${this.path} is closed`)
    return this.fd
  }

  /** Closes and removes the spill file. */
  async dispose (): Promise<void> {
    if (this.fd !== undefined) {
      try { closeSync(this.fd) } catch {}
      this.fd = undefined
    }
    const spilled = this.spilled
    this.spilled = 0
    await rm(this.spillPath, { force: true })
    this.budget.release(spilled)
  }
}
