// The mount seam of the node service: binds, unmounts and the mount table, behind one interface
// so the stage/publish logic can be unit-tested with an in-memory fake (test/helpers/
// fake-node-seams.ts) and runs against the kernel in production.
import { readMountTable, type MountEntry } from './mount-table.js'
import { bindMount, fuseUnmount, probeFs, unmount, type ProbeResult } from './mount-ops.js'

export interface Mounter {
  /** The mount table (mountinfo). */
  table: () => Promise<MountEntry[]>
  /** Bind-mounts `src` at `dst` (read-only when asked). */
  bind: (src: string, dst: string, readOnly: boolean) => Promise<void>
  /** Unmounts `p` (lazily when busy). */
  unmount: (p: string) => Promise<void>
  /** Detaches a FUSE mount of ours at `p` (fusermount -uz). */
  fuseUnmount: (p: string) => Promise<void>
  /** statfs of `p` within a deadline: tells a live mount from a hung or dead one. */
  probe: (p: string, timeoutMs: number) => Promise<ProbeResult>
}

/** The kernel: mount(8), umount(8), fusermount, /proc/self/mountinfo. */
export const systemMounter: Mounter = {
  table: async () => await readMountTable(),
  bind: bindMount,
  unmount,
  fuseUnmount,
  probe: probeFs
}
