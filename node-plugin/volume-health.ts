// Is a volume's mount alive, and bringing it back when it is not. A volume is dead when its FUSE
// server is gone or its mount answers ENOTCONN; healing replaces the server from the same spec and
// binds every published target again. Also NodeGetVolumeStats: usage and the volume condition.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { Code, CsiError } from '../driver/errors.js'
import type { Kubo } from '../driver/kubo.js'
import type { Logger } from '../driver/logger.js'
import { checkPathUnder } from '../driver/paths.js'
import type { FuseSpec } from './fuse/fuse-spec.js'
import type { FuseServers } from './fuse-servers.js'
import { findMount } from './mount-table.js'
import type { FsUsage } from './mount-ops.js'
import type { Mounter } from './mounter.js'
import type { VolumeStatsQuery } from './node-requests.js'
import type { VolumeMounts } from './volume-mounts.js'
import type { VolumeState, VolumeStateStore } from './volume-state.js'
import { KUBO_UNREACHABLE_CONDITION } from './user-errors.js'

export interface VolumeHealth {
  /** The FUSE server is gone or its mount is dead: a heal (new server) is needed. */
  dead: boolean
  /** Abnormal condition to report, undefined when healthy. */
  problem?: string
  usage?: FsUsage
}

export interface VolumeStats {
  usage?: FsUsage
  abnormal: boolean
  message: string
}

export interface MountHealthDeps {
  log: Logger
  /** The node-local Kubo: its reachability is part of the volume condition. */
  kubo: Kubo
  kubeletDir: string
  store: VolumeStateStore
  mounter: Mounter
  mounts: VolumeMounts
  servers: FuseServers
  /** Deadline of the statfs probe that tells a live mount from a hung or dead one. */
  probeTimeoutMs: number
}

export class MountHealth {
  private readonly d: MountHealthDeps

  constructor (deps: MountHealthDeps) {
    this.d = deps
  }

  /**
   * Is the volume's FUSE server alive and its mount answering? `probePath` (a target) is
   * probed instead of the staging path when given. Never blocks longer than the probe deadline.
   */
  async check (state: VolumeState, probePath = state.stagingPath): Promise<VolumeHealth> {
    if (!(await this.d.servers.isRunning(state.volumeId))) {
      return { dead: true, problem: `FUSE server of volume ${state.volumeId} is not running` }
    }
    const table = await this.d.mounter.table()
    if (findMount(table, state.stagingPath) === undefined) return { dead: true, problem: `${state.stagingPath} is not mounted` }
    const probe = await this.d.mounter.probe(probePath, this.d.probeTimeoutMs)
    if (probe.ok) return { dead: false, usage: probe.usage }
    if (probe.reason === 'notconn') return { dead: true, problem: probe.message }
    // A slow answer (Kubo busy) is reported, not "healed": killing a live server would not help.
    return { dead: false, problem: probe.message }
  }

  /**
   * Replaces a dead FUSE server: stops what is left of it, detaches the dead mount, starts a
   * new server from the same spec, and binds every published target again (read-only as before).
   * The state is kept on failure, so the next heal tries again.
   */
  async heal (state: VolumeState, signal: AbortSignal): Promise<VolumeState> {
    const { volumeId, stagingPath } = state
    const { log, store, mounts, servers } = this.d
    log.warn('healing volume: FUSE server gone, remounting', { volumeId, stagingPath })
    await servers.stop(volumeId)
    await mounts.detachFuse(stagingPath)
    const spec = JSON.parse(await readFile(store.specPath(volumeId), 'utf8')) as FuseSpec
    if (spec.mountpoint !== stagingPath) throw new CsiError(Code.INTERNAL, `spec of ${volumeId} mounts ${spec.mountpoint}, state says ${stagingPath}`)
    await servers.start(volumeId, stagingPath, signal)
    for (const [target, t] of Object.entries(state.targets)) {
      await mounts.unbindTarget(volumeId, target, false)
      await mounts.bindTarget(volumeId, stagingPath, target, t.readOnly)
    }
    log.info('healed volume', { volumeId, stagingPath, targets: Object.keys(state.targets).length })
    return state
  }

  /** Usage and condition of the volume seen at `volumePath` (its staging path or a target). */
  async stats (q: VolumeStatsQuery, signal: AbortSignal): Promise<VolumeStats> {
    const { volumeId, volumePath } = q
    const state = await this.d.store.read(volumeId)
    if (state === undefined) throw new CsiError(Code.NOT_FOUND, `volume ${volumeId} is not staged or published on this node`)
    const norm = path.normalize(volumePath).replace(/(.)\/+$/, '$1')
    const resolved = await checkPathUnder(this.d.kubeletDir, norm, 'volume_path').catch(() => norm)
    const known = (p: string): boolean => p === state.stagingPath || state.targets[p] !== undefined
    if (!known(norm) && !known(resolved)) throw new CsiError(Code.NOT_FOUND, `${volumePath} is neither the staging path nor a target path of volume ${volumeId}`)
    const health = await this.check(state, known(norm) ? norm : resolved)
    const problems: string[] = []
    if (health.problem !== undefined) problems.push(health.problem)
    const kubo = this.d.kubo
    if (!(await kubo.reachable(signal))) {
      problems.push(KUBO_UNREACHABLE_CONDITION)
      this.d.log.warn('node Kubo unreachable', { volumeId, kuboApi: kubo.url })
    }
    return { ...(health.usage !== undefined ? { usage: health.usage } : {}), abnormal: problems.length > 0, message: problems.length > 0 ? problems.join('; ') : 'volume is mounted and its FUSE server answers' }
  }
}
