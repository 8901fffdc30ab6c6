// The node's mount steps with their retries, over the Mounter seam: bind a staging mount at a
// target, unmount this volume's mounts stacked at a target or a FUSE mountpoint (lazily, a few
// times: dead mounts stack; never a mount that is not ours), and remove a volume's state directory
// without ever walking into a mount.
import { Code, CsiError } from '../driver/errors.js'
import type { Logger } from '../driver/logger.js'
import { findMount, isOurFuseMount, isVolumeMount, missingBindFlags, type MountEntry } from './mount-table.js'
import type { Mounter } from './mounter.js'
import { removeEmptyDir } from './safe-mount.js'
import type { VolumeStateStore } from './volume-state.js'

/** Unmount attempts before a path that stays mounted is reported. */
const UNMOUNT_TRIES = 4

export class VolumeMounts {
  private readonly mounter: Mounter
  private readonly store: VolumeStateStore
  private readonly log: Logger
  /** Targets lie below it; nothing below it is reached through a symlink. */
  private readonly kubeletDir: string

  constructor (deps: { mounter: Mounter, store: VolumeStateStore, log: Logger, kubeletDir: string }) {
    this.mounter = deps.mounter
    this.store = deps.store
    this.log = deps.log
    this.kubeletDir = deps.kubeletDir
  }

  /** This volume's bind is at the target with the flags a pod gets (ro,nosuid,nodev / nosuid,nodev). */
  isBound (m: MountEntry | undefined, volumeId: string, readOnly: boolean): boolean {
    return m !== undefined && isVolumeMount(m, volumeId) && missingBindFlags(m, readOnly).length === 0 && (readOnly || !m.options.includes('ro'))
  }

  async bindTarget (volumeId: string, src: string, target: string, readOnly: boolean): Promise<void> {
    // A stale mount at the target (e.g. a bind of a dead FUSE mount) would hide the new bind.
    await this.unbindTarget(volumeId, target, false)
    // The source is this volume's FUSE mount, under the kubelet dir (staged) or the state dir (inline).
    const srcRoot = src.startsWith(this.store.root + '/') ? this.store.root : this.kubeletDir
    await this.mounter.bind(src, target, { readOnly, srcRoot, dstRoot: this.kubeletDir, isSource: (e) => isVolumeMount(e, volumeId) })
  }

  /**
   * Unmounts this volume's binds stacked at `target` (lazily when busy), never another mount;
   * optionally removes the directory when it is empty (never a file, never contents).
   */
  async unbindTarget (volumeId: string, target: string, removeDir = true): Promise<void> {
    let m = findMount(await this.mounter.table(), target)
    for (let i = 0; i < UNMOUNT_TRIES && m !== undefined; i++) {
      if (!isVolumeMount(m, volumeId)) throw new CsiError(Code.FAILED_PRECONDITION, `${target} has a ${m.fsType} mount that is not volume ${volumeId}'s; not unmounting it`)
      await this.mounter.unmount(m, this.kubeletDir)
      m = findMount(await this.mounter.table(), target)
    }
    if (m !== undefined) throw new CsiError(Code.INTERNAL, `${target} is still mounted after umount -l`)
    if (!removeDir) return
    const left = await removeEmptyDir(this.kubeletDir, target)
    if (left !== undefined) this.log.warn('target not removed', { volumeId, target, why: left })
  }

  /** fusermount -uz until nothing of ours is left at `p` (stacked dead mounts included); never another mount. */
  async detachFuse (p: string): Promise<void> {
    for (let i = 0; i < UNMOUNT_TRIES; i++) {
      const m = findMount(await this.mounter.table(), p)
      if (m === undefined) return
      if (!isOurFuseMount(m)) throw new CsiError(Code.FAILED_PRECONDITION, `${p} has a ${m.fsType} mount that this driver did not make; not unmounting it`)
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
