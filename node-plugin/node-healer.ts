// Restart safety. FUSE servers outlive the gRPC server, so on start every volume in the state
// dir is either adopted (server alive, mount answers) or healed (new server, targets bound
// again); afterwards a periodic pass does the same. A volume is only healed while holding its
// lock, so healing never overlaps with an RPC on that volume.
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import type { Logger } from '../driver/logger.js'
import type { VolumeLocks } from '../driver/volume-locks.js'
import { isOurFuseMount, findMount } from './mount-table.js'
import type { NodeVolumes } from './node-volumes.js'
import type { VolumeState } from './volume-state.js'

export interface HealReport {
  adopted: string[]
  healed: string[]
  failed: string[]
  busy: string[]
}

export class NodeHealer {
  private readonly volumes: NodeVolumes
  private readonly locks: VolumeLocks
  private readonly log: Logger
  private timer: NodeJS.Timeout | undefined
  private running: Promise<HealReport> | undefined
  private readonly ac = new AbortController()
  /** Volumes healed (FUSE server gone, remounted) and heals that failed, for metrics. */
  readonly counts = { healed: 0, failed: 0 }

  constructor (deps: { volumes: NodeVolumes, locks: VolumeLocks, log: Logger }) {
    this.volumes = deps.volumes
    this.locks = deps.locks
    this.log = deps.log.child({ component: 'node-healer' })
  }

  /** One pass over every volume; passes never overlap (a second caller joins the running one). */
  async pass (): Promise<HealReport> {
    this.running ??= this.doPass().finally(() => { this.running = undefined })
    return await this.running
  }

  /** Start-up: clean directories a crash left without state, then adopt or heal every volume. */
  async reconcile (): Promise<HealReport> {
    const { orphans } = await this.volumes.store.list()
    for (const dir of orphans) await this.removeOrphan(dir).catch((err: Error) => this.log.error('orphan cleanup failed', { dir, error: err.message }))
    const report = await this.pass()
    this.log.info('reconciled volumes', { adopted: report.adopted.length, healed: report.healed.length, failed: report.failed.length, busy: report.busy.length })
    return report
  }

  startTimer (intervalMs: number): void {
    if (intervalMs <= 0 || this.timer !== undefined) return
    this.timer = setInterval(() => {
      void this.pass().catch((err: Error) => this.log.error('heal pass failed', { error: err.message }))
    }, intervalMs)
    this.timer.unref()
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    this.ac.abort(new Error('node service stopping'))
  }

  private async doPass (): Promise<HealReport> {
    const report: HealReport = { adopted: [], healed: [], failed: [], busy: [] }
    const { states } = await this.volumes.store.list()
    await Promise.all(states.map(async (s) => await this.checkOne(s, report)))
    return report
  }

  private async checkOne (listed: VolumeState, report: HealReport): Promise<void> {
    const id = listed.volumeId
    // The routine check only reads (process table, a statfs probe): it runs without the volume
    // lock, so an RPC arriving meanwhile is never refused with ABORTED because of it. Only a volume
    // that looks dead is locked, checked again and healed.
    try {
      if (!(await this.volumes.health.check(listed)).dead) { report.adopted.push(id); return }
    } catch {}
    const release = this.locks.tryAcquire(id)
    if (release === undefined) { report.busy.push(id); return }
    try {
      // Re-read under the lock: an RPC may have changed or removed it since the listing.
      const state = await this.volumes.store.read(id)
      if (state === undefined) return
      const health = await this.volumes.health.check(state)
      if (!health.dead) { report.adopted.push(id); return }
      if (this.ac.signal.aborted) return
      await this.volumes.health.heal(state, this.ac.signal)
      report.healed.push(id)
      this.counts.healed++
    } catch (err) {
      report.failed.push(id)
      this.counts.failed++
      this.log.error('heal failed (retried on the next pass)', { volumeId: id, error: (err as Error).message })
    } finally {
      release()
    }
  }

  /** A volume directory with no valid state: a stage that crashed half-way. Undo it. */
  private async removeOrphan (dir: string): Promise<void> {
    const specPath = path.join(dir, 'spec.json')
    let mountpoint: string | undefined
    try { mountpoint = (JSON.parse(await readFile(specPath, 'utf8')) as { mountpoint?: string }).mountpoint } catch {}
    // The server may have died before writing its status: look for it by its spec path.
    for (const pid of await this.volumes.launcher.findPids(specPath)) await this.volumes.launcher.stop(pid, specPath, 2000)
    if (mountpoint !== undefined) {
      const m = findMount(await this.volumes.mounter.table(), mountpoint)
      if (m !== undefined && isOurFuseMount(m)) await this.volumes.mounter.fuseUnmount(mountpoint)
    }
    // Never delete recursively through a live mount (an inline volume mounts inside its dir).
    const inside = (await this.volumes.mounter.table()).filter(e => e.mountPoint.startsWith(dir + '/'))
    for (const m of inside) await this.volumes.mounter.fuseUnmount(m.mountPoint)
    if ((await this.volumes.mounter.table()).some(e => e.mountPoint.startsWith(dir + '/'))) throw new Error(`not removing ${dir}: something is still mounted inside`)
    await rm(dir, { recursive: true, force: true })
    this.log.warn('removed half-staged volume directory', { dir, mountpoint })
  }
}
