// The node's mount steps with their retries, over the Mounter seam: bind a staging mount at a
// target, unmount everything stacked at a target or a FUSE mountpoint (lazily, a few times: dead
// mounts stack), and remove a volume's state directory without ever walking into a mount.
import { mkdir, rm, rmdir } from 'node:fs/promises'
import { Code, CsiError } from '../driver/errors.js'
import type { Logger } from '../driver/logger.js'
import { findMount } from './mount-table.js'
import type { Mounter } from './mounter.js'
import type { VolumeStateStore } from './volume-state.js'

/** Unmount attempts before a path that stays mounted is reported. */
const UNMOUNT_TRIES = 4

export class VolumeMounts {
  private readonly mounter: Mounter
  private readonly store: VolumeStateStore
  private readonly log: Logger

  constructor (deps: { mounter: Mounter, store: VolumeStateStore, log: Logger }) {
    this.mounter = deps.mounter
    this.store = deps.store
    this.log = deps.log
  }

  async bindTarget (src: string, target: string, readOnly: boolean): Promise<void> {
    await mkdir(target, { recursive: true, mode: 0o750 })
    // A stale mount at the target (e.g. a bind of a dead FUSE mount) would hide the new bind.
    await this.unbindTarget(target, false)
    await this.mounter.bind(src, target, readOnly)
  }

  /** Unmounts everything stacked at `target`, lazily when busy; optionally removes the dir. */
  async unbindTarget (target: string, removeDir = true): Promise<void> {
    let mounted = findMount(await this.mounter.table(), target) !== undefined
    for (let i = 0; i < UNMOUNT_TRIES && mounted; i++) {
      await this.mounter.unmount(target)
      mounted = findMount(await this.mounter.table(), target) !== undefined
    }
    if (mounted) throw new CsiError(Code.INTERNAL, `${target} is still mounted after umount -l`)
    if (!removeDir) return
    try {
      await rmdir(target)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return
      if (code === 'ENOTDIR') { await rm(target, { force: true }); return }
      // Never delete contents: a non-empty target is not ours to clean.
      this.log.warn('target directory not removed', { target, error: (err as Error).message })
    }
  }

  /** fusermount -uz until nothing of ours is left at `p` (stacked dead mounts included). */
  async detachFuse (p: string): Promise<void> {
    for (let i = 0; i < UNMOUNT_TRIES; i++) {
      const m = findMount(await this.mounter.table(), p)
      if (m === undefined) return
      await this.mounter.fuseUnmount(p)
    }
    if (findMount(await this.mounter.table(), p) !== undefined) throw new CsiError(Code.INTERNAL, `${p} is still mounted after fusermount -uz`)
  }

  /**
   * Removes the volume's state directory, never through a mount: an inline volume's FUSE mount
   * lives inside it (mnt/), and a recursive delete must not walk into a live filesystem.
   */
  async removeState (volumeId: string): Promise<void> {
    const dir = this.store.dirOf(volumeId)
    const inside = (): Promise<string[]> => this.mounter.table().then(t => t.filter(e => e.mountPoint.startsWith(dir + '/')).map(e => e.mountPoint))
    for (const p of await inside()) await this.detachFuse(p)
    const left = await inside()
    if (left.length > 0) throw new CsiError(Code.INTERNAL, `not removing ${dir}: ${left.join(', ')} still mounted`)
    await this.store.remove(volumeId)
  }
}
