// NodePublish / NodeUnpublish on domain requests: bind mounts of a staged volume at pod targets,
// and CSI inline ephemeral volumes (a private mount under the state dir, bound at the one target).
// Idempotency: a target published again with the same access is OK (bound again if its mount was
// lost); other access at a known target, or a second target of a SINGLE_NODE_SINGLE_WRITER
// volume, is refused.
import { Code, CsiError, invalid } from '../driver/errors.js'
import type { Logger } from '../driver/logger.js'
import { findMount } from './mount-table.js'
import { isKubeletTarget, mayTearDown } from './target-path.js'
import type { Mounter } from './mounter.js'
import type { PublishInline, PublishStaged, PublishVolume, UnpublishVolume } from './node-requests.js'
import type { MountHealth } from './volume-health.js'
import type { VolumeMounts } from './volume-mounts.js'
import { describeSource, READER_ONLY_MODES } from './volume-source.js'
import type { VolumeStager } from './volume-stager.js'
import type { InlinePolicy } from './inline-policy.js'
import type { VolumeStateStore } from './volume-state.js'

export interface VolumePublisherDeps {
  log: Logger
  /** NodeUnpublish acts only on kubelet's target shape below it, or on targets in state. */
  kubeletDir: string
  store: VolumeStateStore
  mounter: Mounter
  mounts: VolumeMounts
  health: MountHealth
  /** Inline volumes are mounted and torn down like staged ones. */
  stager: VolumeStager
  /** Who may mount what inline. */
  inlinePolicy: InlinePolicy
}

export class VolumePublisher {
  private readonly d: VolumePublisherDeps

  constructor (deps: VolumePublisherDeps) {
    this.d = deps
  }

  async publish (req: PublishVolume, signal: AbortSignal): Promise<void> {
    if (req.inline) await this.publishInline(req, signal)
    else await this.publishStaged(req, signal)
  }

  async unpublish (req: UnpublishVolume): Promise<void> {
    const { volumeId, targetPath } = req
    const { log, store } = this.d
    const state = await store.read(volumeId)
    if (!(await mayTearDown(targetPath, 'target_path', state?.targets[targetPath] !== undefined, isKubeletTarget(this.d.kubeletDir, targetPath)))) return
    await this.d.mounts.unbindTarget(volumeId, targetPath)
    if (state === undefined) return
    if (state.targets[targetPath] !== undefined) {
      delete state.targets[targetPath]
      if (state.ephemeral && Object.keys(state.targets).length === 0) {
        await this.d.stager.teardown(volumeId, state.stagingPath)
        log.info('inline volume removed', { volumeId, targetPath })
        return
      }
      await store.write(state)
    }
    log.info('unpublished', { volumeId, targetPath })
  }

  private async publishStaged (req: PublishStaged, signal: AbortSignal): Promise<void> {
    const { volumeId, stagingPath, targetPath, accessMode } = req
    const { log, store, mounts, health } = this.d
    let state = await store.read(volumeId)
    const kind = state?.kind ?? req.source.kind
    const readOnly = req.readOnly || READER_ONLY_MODES.has(accessMode)
    if (kind === 'content' && !readOnly) throw invalid(`volume ${volumeId} is IPFS content and can only be published read-only (set readOnly, or use a reader-only access mode)`)
    if (state === undefined || state.ephemeral || state.stagingPath !== stagingPath) throw new CsiError(Code.FAILED_PRECONDITION, `volume ${volumeId} is not staged at ${stagingPath}`)
    if (state.readOnly && !readOnly) throw invalid(`volume ${volumeId} was staged read-only (reader-only access mode) and cannot be published read-write`)
    const known = state.targets[targetPath]
    if (known !== undefined) {
      if (known.readOnly !== readOnly) throw new CsiError(Code.ALREADY_EXISTS, `volume ${volumeId} is already published at ${targetPath} ${known.readOnly ? 'read-only' : 'read-write'}`)
      if (mounts.isBound(findMount(await this.d.mounter.table(), targetPath), volumeId, readOnly)) return
      log.warn('published target lost its mount (or its flags), binding again', { volumeId, targetPath })
    }
    // SINGLE_NODE_SINGLE_WRITER: one pod (one target) at a time, as the CSI spec defines it.
    const others = Object.keys(state.targets).filter(t => t !== targetPath)
    if (accessMode === 'SINGLE_NODE_SINGLE_WRITER' && others.length > 0) throw new CsiError(Code.FAILED_PRECONDITION, `volume ${volumeId} is SINGLE_NODE_SINGLE_WRITER and already published at ${others.join(', ')}`)
    // The health probe and the bind are both child processes and independent: they run together.
    // The pod starts only once this call answers, so a bind made over a dead mount is never seen:
    // it is replaced below, after the heal.
    const healthP = health.check(state)
    const bound = await mounts.bindTarget(volumeId, stagingPath, targetPath, readOnly).then(() => undefined, (err: Error) => err)
    if ((await healthP).dead) {
      state = await health.heal(state, signal)
      // heal() may have bound this target again too (a known target that lost its mount).
      await mounts.bindTarget(volumeId, stagingPath, targetPath, readOnly)
    } else if (bound !== undefined) {
      throw bound
    }
    state.targets[targetPath] = { readOnly }
    await store.write(state)
    log.info('published', { volumeId, targetPath, readOnly })
  }

  /** CSI inline ephemeral volume: a private FUSE mount under the state dir, bound to the target. */
  private async publishInline (req: PublishInline, signal: AbortSignal): Promise<void> {
    const { volumeId, source, targetPath } = req
    const { log, store, mounts, health, stager } = this.d
    await this.d.inlinePolicy.check(source, req.podNamespace)
    const existing = await store.read(volumeId)
    if (existing !== undefined) {
      if (!existing.ephemeral) throw new CsiError(Code.FAILED_PRECONDITION, `volume ${volumeId} is staged as a persistent volume, not an inline one`)
      if (existing.source !== describeSource(source)) throw new CsiError(Code.ALREADY_EXISTS, `inline volume ${volumeId} already serves ${existing.source}`)
      if (existing.targets[targetPath] === undefined) throw new CsiError(Code.ALREADY_EXISTS, `inline volume ${volumeId} is already published at ${Object.keys(existing.targets).join(', ')}`)
      let state = existing
      if ((await health.check(state)).dead) state = await health.heal(state, signal)
      if (!mounts.isBound(findMount(await this.d.mounter.table(), targetPath), volumeId, true)) await mounts.bindTarget(volumeId, state.stagingPath, targetPath, true)
      return
    }
    const mnt = store.ephemeralMountPath(volumeId)
    // Content is immutable: an inline volume is always read-only, whatever readonly says
    // (kubelet sends SINGLE_NODE_WRITER and readonly=false unless the pod sets readOnly).
    const state = await stager.mount(volumeId, source, mnt, true, true, signal)
    try {
      await mounts.bindTarget(volumeId, mnt, targetPath, true)
    } catch (err) {
      await stager.teardown(volumeId, mnt).catch((e: Error) => log.error('cleanup after failed inline publish failed', { volumeId, error: e.message }))
      throw err
    }
    state.targets[targetPath] = { readOnly: true }
    await store.write(state)
    log.info('published inline volume', { volumeId, targetPath })
  }
}
