// The mount seam of the node service: binds, unmounts and the mount table, behind one interface
// so the stage/publish logic can be unit-tested with an in-memory fake (test/helpers/
// fake-node-seams.ts) and runs against the kernel in production.
import { readMountTable, type MountEntry } from './mount-table.js'
import { fuseUnmount, probeFs, type ProbeResult } from './mount-ops.js'
import { safeBind, safeUnmount, type SafeBindOptions } from './safe-mount.js'

export type BindOptions = Omit<SafeBindOptions, 'onOpened'>

export interface Mounter {
  /** The mount table (mountinfo). */
  table: () => Promise<MountEntry[]>
  /**
   * Bind-mounts the mount at `src` (which must satisfy `isSource`) onto the directory `dst`,
   * `ro,nosuid,nodev` or `nosuid,nodev`, checked in the mount table; nothing left on failure.
   */
  bind: (src: string, dst: string, options: BindOptions) => Promise<void>
  /** Unmounts exactly `m` (the top mount at its mount point, below `root`), lazily when busy. */
  unmount: (m: MountEntry, root: string) => Promise<void>
  /** Detaches a FUSE mount of ours at `p` (fusermount -uz). */
  fuseUnmount: (p: string) => Promise<void>
  /** statfs of `p` within a deadline: tells a live mount from a hung or dead one. */
  probe: (p: string, timeoutMs: number) => Promise<ProbeResult>
}

/** The kernel: mount(8), umount(8), fusermount, /proc/self/mountinfo. */
export const systemMounter: Mounter = {
  table: async () => await readMountTable(),
  bind: safeBind,
  unmount: safeUnmount,
  fuseUnmount,
  probe: probeFs
}
