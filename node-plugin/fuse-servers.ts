// The lifecycle of a volume's FUSE server process, over the FuseLauncher seam: start it from the
// spec in the volume's state dir and wait for its mount (nothing half-mounted on failure), and stop
// it (SIGTERM with a grace that lets a writable server flush, then SIGKILL).
import type { FuseLauncher } from './fuse-launcher.js'
import { removeStatus } from './fuse-process.js'
import type { VolumeMounts } from './volume-mounts.js'
import type { VolumeStateStore } from './volume-state.js'

export interface FuseServersDeps {
  launcher: FuseLauncher
  store: VolumeStateStore
  mounts: VolumeMounts
  /** How long a server gets to mount. */
  mountTimeoutMs: number
  /** How long a server gets to flush and exit on SIGTERM before SIGKILL... */
  stopGraceMs: number
  /** ...and at least a Kubo deadline, so a writable server can finish its flush to MFS. */
  kuboTimeoutMs: number
}

export class FuseServers {
  private readonly launcher: FuseLauncher
  private readonly store: VolumeStateStore
  private readonly mounts: VolumeMounts
  private readonly mountTimeoutMs: number
  private readonly graceMs: number

  constructor (deps: FuseServersDeps) {
    this.launcher = deps.launcher
    this.store = deps.store
    this.mounts = deps.mounts
    this.mountTimeoutMs = deps.mountTimeoutMs
    this.graceMs = Math.max(deps.stopGraceMs, deps.kuboTimeoutMs)
  }

  /** Spawns the server for the spec on disk and waits for its mount; cleans up on failure. */
  async start (volumeId: string, mountpoint: string, signal: AbortSignal, timeoutMs = this.mountTimeoutMs): Promise<void> {
    const specPath = this.store.specPath(volumeId)
    const statusPath = this.store.statusPath(volumeId)
    const logPath = this.store.logPath(volumeId)
    await removeStatus(statusPath)
    const server = await this.launcher.start(specPath, logPath, signal)
    try {
      await this.launcher.waitMounted({ server, statusPath, mountpoint, logPath, timeoutMs, signal })
    } catch (err) {
      // Nothing half-mounted: kill the server (it has no SIGTERM handler before mounting) and detach.
      this.launcher.kill(server)
      await Promise.race([server.exited, new Promise(resolve => setTimeout(resolve, 5000))])
      await this.mounts.detachFuse(mountpoint).catch(() => {})
      await removeStatus(statusPath)
      throw err
    }
  }

  /** Stops the volume's server, and any other left running for its spec. */
  async stop (volumeId: string): Promise<void> {
    const specPath = this.store.specPath(volumeId)
    const status = await this.store.readStatus(volumeId)
    if (status !== undefined) await this.launcher.stop(status.pid, specPath, this.graceMs)
    // A server that never wrote (or lost) its status file is found by its spec path.
    for (const pid of await this.launcher.findPids(specPath)) await this.launcher.stop(pid, specPath, this.graceMs)
  }

  /** Is the volume's server (by its status file) alive? */
  async isRunning (volumeId: string): Promise<boolean> {
    const status = await this.store.readStatus(volumeId)
    return status !== undefined && await this.launcher.isRunning(status.pid, this.store.specPath(volumeId))
  }
}
