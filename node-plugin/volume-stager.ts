// NodeStage / NodeUnstage on domain requests: one FUSE mount per volume at its staging path.
// Idempotency: the same stage again is answered from the state dir (after making sure the mount
// is alive); a stage naming other content, another path or another access is refused. Also the
// mount an inline volume gets under the state dir, and the teardown both share.
import type { ServeConfig } from '../driver/config.js'
import { DEFAULTS, DRIVER_NAME } from '../driver/constants.js'
import { Code, CsiError } from '../driver/errors.js'
import type { Logger } from '../driver/logger.js'
import { deadline } from '../driver/deadline.js'
import { fuseSpecOf, type FuseSettings, type FuseSpec } from './fuse/fuse-spec.js'
import type { FuseServers } from './fuse-servers.js'
import { findMount, isVolumeMount } from './mount-table.js'
import { isKubeletStagingPath, mayTearDown } from './target-path.js'
import type { Mounter } from './mounter.js'
import type { StageVolume, UnstageVolume } from './node-requests.js'
import type { SourceResolver } from './source-resolver.js'
import type { StagedPins } from './staged-pins.js'
import type { MountHealth } from './volume-health.js'
import type { VolumeMounts } from './volume-mounts.js'
import { describeSource, READER_ONLY_MODES, type VolumeSource } from './volume-source.js'
import type { VolumeState, VolumeStateStore } from './volume-state.js'

export interface VolumeStagerDeps {
  log: Logger
  config: ServeConfig
  store: VolumeStateStore
  mounter: Mounter
  mounts: VolumeMounts
  servers: FuseServers
  health: MountHealth
  resolver: SourceResolver
  stagedPins: StagedPins
  /** Bound on a stage: resolve + spawn + mount (the root block is fetched, nothing more). */
  mountTimeoutMs: number
}

/** The FUSE server settings of a node: content from the node Kubo, writable data from the storage Kubo. */
export function nodeFuseSettings (config: ServeConfig, kind: VolumeSource['kind']): FuseSettings {
  const common = {
    readTimeoutMs: config.readTimeoutMs,
    kuboTimeoutMs: config.kuboTimeoutMs,
    blockCacheBytes: DEFAULTS.blockCacheBytes,
    readAheadBlocks: DEFAULTS.readAheadBlocks,
    logLevel: config.logLevel,
    maxHeapMiB: config.fuseMaxHeapMiB
  }
  if (kind === 'writable') {
    // Writable data lives in the storage Kubo's MFS, not in the node-local Kubo.
    return {
      ...common,
      kuboApi: config.storageKuboApi,
      ...(config.storageKuboApiTokenFile !== undefined ? { kuboApiTokenFile: config.storageKuboApiTokenFile } : {}),
      spill: { ...(config.spillDir !== undefined ? { dir: config.spillDir } : {}), maxBytes: config.spillMaxBytes, volumeMaxBytes: config.spillVolumeMaxBytes }
    }
  }
  return {
    ...common,
    // The node Kubo as the FUSE servers reach it (they may run in another pod than this service).
    kuboApi: config.fuseKuboApi,
    ...(config.kuboApiTokenFile !== undefined ? { kuboApiTokenFile: config.kuboApiTokenFile } : {}),
    ...(config.kuboBlocksDir !== undefined ? { kuboBlocksDir: config.kuboBlocksDir } : {})
  }
}

export class VolumeStager {
  private readonly d: VolumeStagerDeps

  constructor (deps: VolumeStagerDeps) {
    this.d = deps
  }

  async stage (req: StageVolume, signal: AbortSignal): Promise<void> {
    const { volumeId, source, stagingPath } = req
    const readOnly = source.kind === 'content' || READER_ONLY_MODES.has(req.accessMode)
    const existing = await this.d.store.read(volumeId)
    if (existing !== undefined) {
      if (existing.ephemeral) throw new CsiError(Code.FAILED_PRECONDITION, `volume ${volumeId} is in use as an inline ephemeral volume`)
      if (existing.stagingPath !== stagingPath) throw new CsiError(Code.FAILED_PRECONDITION, `volume ${volumeId} is already staged at ${existing.stagingPath}; a volume has one staging path per node`)
      if (existing.source !== describeSource(source) || existing.readOnly !== readOnly) {
        throw new CsiError(Code.ALREADY_EXISTS, `volume ${volumeId} is already staged at ${stagingPath} with ${existing.source}${existing.readOnly ? ' (read-only)' : ''}, incompatible with this request`)
      }
      // Same request again: make sure the mount is actually alive before answering OK.
      if ((await this.d.health.check(existing)).dead) await this.d.health.heal(existing, signal)
      return
    }
    await this.mount(volumeId, source, stagingPath, readOnly, false, signal)
  }

  async unstage (req: UnstageVolume): Promise<void> {
    const { volumeId, stagingPath } = req
    const state = await this.d.store.read(volumeId)
    const recorded = state !== undefined && !state.ephemeral && state.stagingPath === stagingPath
    if (!(await mayTearDown(stagingPath, 'staging_target_path', recorded, isKubeletStagingPath(this.d.config.kubeletDir, stagingPath, DRIVER_NAME, volumeId)))) return
    if (recorded) {
      const left = Object.keys(state.targets)
      if (left.length > 0) this.d.log.warn('unstaging a volume that still has published targets', { volumeId, targets: left })
      await this.teardown(volumeId, stagingPath)
      this.d.log.info('unstaged', { volumeId, stagingPath })
      return
    }
    // Not staged here (by our records). This volume's FUSE mount left at the path is still removed.
    const m = findMount(await this.d.mounter.table(), stagingPath)
    if (m !== undefined && isVolumeMount(m, volumeId)) await this.d.mounter.fuseUnmount(stagingPath)
  }

  /** Resolves the source, writes the spec, starts the FUSE server, records the state. */
  async mount (volumeId: string, source: VolumeSource, mountpoint: string, readOnly: boolean, ephemeral: boolean, callSignal: AbortSignal): Promise<VolumeState> {
    const limit = deadline(this.d.mountTimeoutMs, callSignal)
    try {
      return await this.mountWithin(volumeId, source, mountpoint, readOnly, ephemeral, limit.signal)
    } finally {
      limit.clear()
    }
  }

  /** Stops the server, detaches its mount, removes the volume's state directory. */
  async teardown (volumeId: string, mountpoint: string): Promise<void> {
    await this.d.servers.stop(volumeId)
    await this.d.mounts.detachFuse(mountpoint)
    await this.d.mounts.removeState(volumeId)
    await this.d.stagedPins.release(volumeId)
  }

  private async mountWithin (volumeId: string, source: VolumeSource, mountpoint: string, readOnly: boolean, ephemeral: boolean, signal: AbortSignal): Promise<VolumeState> {
    const { log, store, mounts } = this.d
    const started = Date.now()
    // Whatever is left at the path from an earlier life (a dead FUSE mount of ours) goes first.
    const stale = findMount(await this.d.mounter.table(), mountpoint)
    if (stale !== undefined) {
      if (!isVolumeMount(stale, volumeId)) throw new CsiError(Code.FAILED_PRECONDITION, `${mountpoint} already has a ${stale.fsType} mount that is not this volume's`)
      await mounts.detachFuse(mountpoint)
    }
    const spec = await this.specOf(volumeId, source, mountpoint, readOnly, signal)
    await store.ensureDir(volumeId)
    await store.writeSpec(volumeId, spec)
    try {
      await this.d.servers.start(volumeId, mountpoint, signal, Math.max(1000, this.d.mountTimeoutMs - (Date.now() - started)))
    } catch (err) {
      await mounts.removeState(volumeId).catch((e: Error) => log.error('state cleanup after failed stage failed', { volumeId, error: e.message }))
      throw err
    }
    const state: VolumeState = {
      version: 1,
      volumeId,
      kind: source.kind,
      source: describeSource(source),
      stagingPath: mountpoint,
      ephemeral,
      readOnly,
      targets: {},
      stagedAt: new Date().toISOString()
    }
    await store.write(state)
    log.info('staged', { volumeId, mountpoint, kind: source.kind, root: spec.rootCid ?? spec.mfsPath, ms: Date.now() - started })
    // GC protection for what is mounted, in the background (see staged-pins.ts). Not for inline
    // volumes: anyone the policy lets in would otherwise pin whole DAGs into the node's repo; their
    // blocks stay in the node cache, under its bounded budget (GC may take them; reads fetch again).
    if (spec.mode === 'content' && spec.rootCid !== undefined && !ephemeral) this.d.stagedPins.pin(volumeId, spec.rootCid)
    return state
  }

  private async specOf (volumeId: string, source: VolumeSource, mountpoint: string, readOnly: boolean, signal: AbortSignal): Promise<FuseSpec> {
    const settings = nodeFuseSettings(this.d.config, source.kind)
    if (source.kind === 'writable') {
      const capacityBytes = await this.d.resolver.writableCapacity(volumeId, source, signal)
      return fuseSpecOf(settings, { mode: 'writable', volumeId, mountpoint, mfsPath: source.mfsPath, capacityBytes, readOnly })
    }
    return fuseSpecOf(settings, { mode: 'content', volumeId, mountpoint, rootCid: await this.d.resolver.contentRoot(source, signal) })
  }
}
