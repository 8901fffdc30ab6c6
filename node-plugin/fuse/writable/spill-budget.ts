// The node's budget for writable-volume spill files, shared by every FUSE server on the node
// without a coordinator: each server keeps its spill files in `<root>/<volume>.<pid>/` and
// writes what it has claimed of the budget into `claim` there. To grow, a server writes its new
// claim first, then sums every claim: over the budget, it puts its old claim back and the write
// that needed the space fails with ENOSPC. Of two servers racing, at least one sees the other's
// new claim, so the claims never add up to more than the budget (both may refuse; never both
// succeed). Claims grow in chunks, so the files are read only when a chunk is crossed.
//
// A server that died leaves its directory (unsaved data kept for an operator): its claim still
// counts, until it is older than LEFTOVER_TTL_MS (swept at start) or its space is needed (swept
// before a refusal). Its pid is how a dead owner is told from a live one (all FUSE servers of a
// node share a pid namespace: fuse-host's).
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { Errno, FsError } from '../../../driver/errors.js'
import type { Logger } from '../../../driver/logger.js'

const CLAIM = 'claim'
/** A dead server's spill directory is kept this long, unless its space is needed sooner. */
export const LEFTOVER_TTL_MS = 24 * 60 * 60_000
const MAX_CHUNK = 16 * 1024 * 1024
const MIN_CHUNK = 64 * 1024

export interface SpillLimits {
  /** Root shared by the node's FUSE servers. */
  root: string
  /** All spill files of the node together. */
  nodeBytes: number
  /** One volume's spill files together. */
  volumeBytes: number
}

/** `<volume>` as a directory name: no separators, bounded (the pid suffix keeps it unique). */
export const spillKey = (volumeId: string): string => volumeId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100)

interface Entry { dir: string, pid: number, bytes: number, mtimeMs: number }

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

export class SpillBudget {
  /** This server's spill directory. */
  readonly dir: string
  private readonly chunk: number
  private used = 0
  private claimed = 0

  constructor (readonly limits: SpillLimits, volumeId: string, private readonly log: Logger, private readonly pid = process.pid) {
    this.dir = path.join(limits.root, `${spillKey(volumeId)}.${pid}`)
    this.chunk = Math.max(MIN_CHUNK, Math.min(MAX_CHUNK, Math.floor(limits.nodeBytes / 64)))
  }

  /** Makes the directory (0700) with a zero claim, and sweeps dead servers' old leftovers. */
  init (): void {
    mkdirSync(this.limits.root, { recursive: true, mode: 0o700 })
    mkdirSync(this.dir, { recursive: true, mode: 0o700 })
    this.writeClaim(0)
    this.sweep(LEFTOVER_TTL_MS)
  }

  /** Bytes this volume's spill files take (as accounted). */
  get usedBytes (): number { return this.used }

  /** Accounts `bytes` more spill; past the volume's share or the node's budget → ENOSPC, nothing changed. */
  reserve (bytes: number): void {
    if (bytes <= 0) return
    const want = this.used + bytes
    if (want > this.limits.volumeBytes) {
      throw new FsError(Errno.ENOSPC, `spill space of this volume exhausted: ${this.used} + ${bytes} bytes > its share ${this.limits.volumeBytes}`)
    }
    if (want > this.claimed && !this.grow(want) && !(this.sweep(0) > 0 && this.grow(want))) {
      throw new FsError(Errno.ENOSPC, `node spill budget exhausted: this volume needs ${want} bytes, the node's ${this.limits.nodeBytes} are claimed`)
    }
    this.used = want
  }

  /** Gives back `bytes`; the claim shrinks once two chunks are unused, so others can have them. */
  release (bytes: number): void {
    if (bytes <= 0) return
    this.used = Math.max(0, this.used - bytes)
    if (this.claimed - this.used > 2 * this.chunk) {
      this.claimed = this.roundUp(this.used)
      this.writeClaim(this.claimed)
    }
  }

  private roundUp (n: number): number {
    return Math.min(this.limits.volumeBytes, Math.ceil(n / this.chunk) * this.chunk)
  }

  /** Claims at least `want` bytes (a chunk more when it fits); false when the node cannot spare them. */
  private grow (want: number): boolean {
    const others = this.othersClaimed()
    const room = this.limits.nodeBytes - others
    if (room < want) return false
    const claim = Math.min(room, this.roundUp(want))
    const before = this.claimed
    this.writeClaim(claim)
    // Checked again after our claim is visible: a server that claimed meanwhile is seen now.
    if (this.othersClaimed() + claim > this.limits.nodeBytes) {
      this.writeClaim(before)
      return false
    }
    this.claimed = claim
    return true
  }

  private othersClaimed (): number {
    return this.entries().filter(e => e.dir !== this.dir).reduce((sum, e) => sum + e.bytes, 0)
  }

  private entries (): Entry[] {
    const out: Entry[] = []
    let names: string[] = []
    try { names = readdirSync(this.limits.root) } catch {}
    for (const name of names) {
      const m = /\.(\d+)$/.exec(name)
      if (m === null) continue
      const dir = path.join(this.limits.root, name)
      let bytes: number
      let mtimeMs: number
      try {
        const file = path.join(dir, CLAIM)
        bytes = Number(readFileSync(file, 'utf8'))
        mtimeMs = statSync(file).mtimeMs
      } catch {
        continue // being made or removed: no claim yet, or none any more
      }
      out.push({ dir, pid: Number(m[1]), bytes: Number.isSafeInteger(bytes) && bytes > 0 ? bytes : 0, mtimeMs })
    }
    return out
  }

  /** Removes dead servers' directories whose claim is older than `ageMs`; returns the bytes freed. */
  private sweep (ageMs: number): number {
    let freed = 0
    const now = Date.now()
    for (const e of this.entries()) {
      if (e.dir === this.dir || alive(e.pid) || now - e.mtimeMs < ageMs) continue
      let files: string[] = []
      try { files = readdirSync(e.dir).filter(f => f !== CLAIM) } catch {}
      try {
        rmSync(e.dir, { recursive: true, force: true })
      } catch (err) {
        // Left by a server of another uid (before a --fuse-run-as change): not ours to remove.
        this.log.warn('cannot remove the spill files a dead FUSE server left', { dir: e.dir, error: (err as Error).message })
        continue
      }
      freed += e.bytes
      this.log.warn('removed the spill files a dead FUSE server left', { dir: e.dir, files, bytes: e.bytes })
    }
    return freed
  }

  private writeClaim (bytes: number): void {
    const file = path.join(this.dir, CLAIM)
    writeFileSync(`${file}.tmp`, String(bytes), { mode: 0o600 })
    renameSync(`${file}.tmp`, file)
  }

  /** Removes this server's directory (nothing unsaved is left in it). */
  dispose (): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}
