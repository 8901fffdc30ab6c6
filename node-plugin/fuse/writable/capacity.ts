// Capacity accounting for one writable volume. `used` starts at the root's CumulativeSize
// (one cheap files/stat; it includes a little DAG overhead, so it errs on the full side) and
// then moves by logical byte deltas as files grow, shrink and disappear. A change that would
// pass the capacity is refused whole with ENOSPC, before anything is written.
import { Errno, FsError } from '../../../driver/errors.js'
import type { StatFs } from '../fuse-ops.js'

export const BLOCK_SIZE = 4096
/** statfs fields are 32-bit in fuse-native: 2^32-1 blocks of 4 KiB (~16 TiB) is the most we can show. */
const MAX_BLOCKS = 0xffffffff
const FILES = 1_000_000

export class Capacity {
  /** Bytes the volume may hold; undefined or 0 = no limit (statfs shows the 32-bit maximum). */
  readonly capacity: number | undefined
  private usedBytes: number

  constructor (capacityBytes: number | undefined, initialUsed: number) {
    this.capacity = capacityBytes !== undefined && capacityBytes > 0 ? capacityBytes : undefined
    this.usedBytes = Math.max(0, initialUsed)
  }

  get used (): number { return this.usedBytes }

  /** Accounts a growth (positive) or shrink (negative); growth past capacity → ENOSPC, nothing changed. */
  change (delta: number): void {
    if (delta > 0 && this.capacity !== undefined && this.usedBytes + delta > this.capacity) {
      throw new FsError(Errno.ENOSPC, `volume full: ${this.usedBytes} + ${delta} bytes > capacity ${this.capacity}`)
    }
    this.usedBytes = Math.max(0, this.usedBytes + delta)
  }

  statfs (): StatFs {
    const total = this.capacity ?? MAX_BLOCKS * BLOCK_SIZE
    const blocks = Math.min(MAX_BLOCKS, Math.floor(total / BLOCK_SIZE))
    const free = Math.min(blocks, Math.max(0, Math.floor((total - this.usedBytes) / BLOCK_SIZE)))
    return {
      bsize: BLOCK_SIZE,
      frsize: BLOCK_SIZE,
      blocks,
      bfree: free,
      bavail: free,
      files: FILES,
      ffree: FILES,
      favail: FILES,
      fsid: 0,
      flag: 0,
      namemax: 255
    }
  }
}
