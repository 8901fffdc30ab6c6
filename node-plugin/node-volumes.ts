// The node's volume lifecycle: stage (one FUSE mount per volume), publish (bind mounts to pod
// targets), unpublish, unstage, stats, and healing of mounts whose FUSE server died. Domain
// code: no gRPC here; every Kubo call carries the caller's AbortSignal and a deadline.
import { mkdir, rm, rmdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import type { ServeConfig } from '../driver/config.js'
import { DEFAULTS } from '../driver/constants.js'
import { Code, CsiError, invalid, toCsiError } from '../driver/errors.js'
import { Kubo } from '../driver/kubo.js'
import type { Logger } from '../driver/logger.js'
import { checkPathUnder } from '../driver/paths.js'
import { deadline } from '../driver/deadline.js'
import { formatContentRef } from '../driver/content-ref.js'
import type { FuseSpec } from './fuse/fuse-spec.js'
import { findMount, isOurFuseMount } from './mount-table.js'
import type { FsUsage } from './mount-ops.js'
import { removeStatus } from './fuse-process.js'
import { KUBO_UNREACHABLE_CONDITION, kuboStageError } from './user-errors.js'
import { systemMounter, type Mounter } from './mounter.js'
import { processLauncher, type FuseLauncher } from './fuse-launcher.js'
import { VolumeStateStore, type VolumeState } from './volume-state.js'
import { StagedPins, otherUserFrom } from './staged-pins.js'
import { InlinePolicy } from './inline-policy.js'
import { RecordStore, findVolume } from '../driver/record-store.js'
import { ApiRecords } from '../api/records.js'
import { ModelRecords } from '../api/models/model-index.js'
import { checkCapability, checkVolumeId, describeSource, isEphemeral, READER_ONLY_MODES, volumeSourceOf, type CapabilityLike, type VolumeSource } from './volume-source.js'

export interface NodeVolumesDeps {
  log: Logger
  kubo: Kubo
  config: ServeConfig
  /** Binds, unmounts, the mount table (default: the kernel). */
  mounter?: Mounter
  /** FUSE server processes (default: real ones, through config.fuseLauncher). */
  launcher?: FuseLauncher
  /** Who may mount what inline (default: config.inlinePolicyFile; none refuses every inline volume). */
  inlinePolicy?: InlinePolicy
}

export interface NodeVolumesOptions {
  /** Bound on a stage: resolve + spawn + mount (the root block is fetched, nothing more). */
  mountTimeoutMs?: number
  /** How long a FUSE server gets to flush and exit on SIGTERM before SIGKILL. */
  stopGraceMs?: number
  /** Deadline of the statfs probe that tells a live mount from a hung or dead one. */
  probeTimeoutMs?: number
}

export interface StageRequest {
  volume_id?: string
  staging_target_path?: string
  volume_capability?: CapabilityLike | null
  volume_context?: Record<string, string>
}

export interface PublishRequest extends StageRequest {
  target_path?: string
  readonly?: boolean
}

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

const requirePath = (p: string | undefined, what: string): string => {
  if (p === undefined || p === '') throw invalid(`${what} is required`)
  return p
}

export class NodeVolumes {
  readonly store: VolumeStateStore
  private readonly log: Logger
  private readonly kubo: Kubo
  /** The storage-tier Kubo: MFS of writable volumes and the controller's records. */
  private readonly storageKubo: Kubo
  private readonly config: ServeConfig
  private readonly mountTimeoutMs: number
  private readonly stopGraceMs: number
  private readonly probeTimeoutMs: number
  private readonly stagedPins: StagedPins
  readonly mounter: Mounter
  readonly launcher: FuseLauncher
  private readonly inlinePolicy: InlinePolicy

  constructor (deps: NodeVolumesDeps, options: NodeVolumesOptions = {}) {
    this.log = deps.log
    this.kubo = deps.kubo
    this.storageKubo = deps.config.storageKuboApi === deps.kubo.url
      ? deps.kubo
      : new Kubo({ url: deps.config.storageKuboApi, ...(deps.config.storageKuboApiTokenFile !== undefined ? { tokenFile: deps.config.storageKuboApiTokenFile } : {}), timeoutMs: deps.config.kuboTimeoutMs })
    this.config = deps.config
    this.store = new VolumeStateStore(deps.config.stateDir)
    this.mountTimeoutMs = options.mountTimeoutMs ?? 60_000
    this.stopGraceMs = options.stopGraceMs ?? 10_000
    this.probeTimeoutMs = options.probeTimeoutMs ?? 5000
    this.stagedPins = new StagedPins(deps.kubo, deps.log, otherUserFrom(this.store))
    this.mounter = deps.mounter ?? systemMounter
    this.launcher = deps.launcher ?? processLauncher(deps.config.fuseLauncher ?? 'local')
    this.inlinePolicy = deps.inlinePolicy ?? new InlinePolicy(deps.config.inlinePolicyFile, deps.log)
  }

  // ---- stage / unstage -------------------------------------------------------------------

  async stage (req: StageRequest, signal: AbortSignal): Promise<void> {
    const volumeId = checkVolumeId(req.volume_id)
    const rawStaging = requirePath(req.staging_target_path, 'staging_target_path')
    const mode = checkCapability(req.volume_capability)
    if (isEphemeral(req.volume_context)) throw invalid('inline ephemeral volumes are published without staging')
    const source = volumeSourceOf(volumeId, req.volume_context, this.config.defaultCapacityBytes)
    const stagingPath = await checkPathUnder(this.config.kubeletDir, rawStaging, 'staging_target_path')
    const readOnly = source.kind === 'content' || READER_ONLY_MODES.has(mode)

    const existing = await this.store.read(volumeId)
    if (existing !== undefined) {
      if (existing.ephemeral) throw new CsiError(Code.FAILED_PRECONDITION, `volume ${volumeId} is in use as an inline ephemeral volume`)
      if (existing.stagingPath !== stagingPath) throw new CsiError(Code.FAILED_PRECONDITION, `volume ${volumeId} is already staged at ${existing.stagingPath}; a volume has one staging path per node`)
      if (existing.source !== describeSource(source) || existing.readOnly !== readOnly) {
        throw new CsiError(Code.ALREADY_EXISTS, `volume ${volumeId} is already staged at ${stagingPath} with ${existing.source}${existing.readOnly ? ' (read-only)' : ''}, incompatible with this request`)
      }
      // Same request again: make sure the mount is actually alive before answering OK.
      const health = await this.health(existing)
      if (health.dead) await this.heal(existing, signal)
      return
    }
    await this.mountNew(volumeId, source, stagingPath, readOnly, false, signal)
  }

  async unstage (req: { volume_id?: string, staging_target_path?: string }): Promise<void> {
    const volumeId = checkVolumeId(req.volume_id)
    const stagingPath = await checkPathUnder(this.config.kubeletDir, requirePath(req.staging_target_path, 'staging_target_path'), 'staging_target_path')
    const state = await this.store.read(volumeId)
    if (state !== undefined && !state.ephemeral && state.stagingPath === stagingPath) {
      const left = Object.keys(state.targets)
      if (left.length > 0) this.log.warn('unstaging a volume that still has published targets', { volumeId, targets: left })
      await this.teardown(volumeId, stagingPath)
      this.log.info('unstaged', { volumeId, stagingPath })
      return
    }
    // Not staged here (by our records). A FUSE mount of ours left at the path is still removed.
    const m = findMount(await this.mounter.table(), stagingPath)
    if (m !== undefined && isOurFuseMount(m)) await this.mounter.fuseUnmount(stagingPath)
  }

  // ---- publish / unpublish ---------------------------------------------------------------

  async publish (req: PublishRequest, signal: AbortSignal): Promise<void> {
    const volumeId = checkVolumeId(req.volume_id)
    const rawTarget = requirePath(req.target_path, 'target_path')
    const mode = checkCapability(req.volume_capability)
    if (isEphemeral(req.volume_context)) return await this.publishEphemeral(volumeId, rawTarget, req, signal)
    const rawStaging = requirePath(req.staging_target_path, 'staging_target_path')
    let state = await this.store.read(volumeId)
    // Validate what the request names even when nothing is staged (bad input → INVALID_ARGUMENT).
    const kind = state?.kind ?? volumeSourceOf(volumeId, req.volume_context, this.config.defaultCapacityBytes).kind
    const targetPath = await checkPathUnder(this.config.kubeletDir, rawTarget, 'target_path')
    const stagingPath = await checkPathUnder(this.config.kubeletDir, rawStaging, 'staging_target_path')
    const readOnly = req.readonly === true || READER_ONLY_MODES.has(mode)
    if (kind === 'content' && !readOnly) throw invalid(`volume ${volumeId} is IPFS content and can only be published read-only (set readOnly, or use a reader-only access mode)`)
    if (state === undefined || state.ephemeral || state.stagingPath !== stagingPath) throw new CsiError(Code.FAILED_PRECONDITION, `volume ${volumeId} is not staged at ${stagingPath}`)
    if (state.readOnly && !readOnly) throw invalid(`volume ${volumeId} was staged read-only (reader-only access mode) and cannot be published read-write`)
    const known = state.targets[targetPath]
    if (known !== undefined) {
      if (known.readOnly !== readOnly) throw new CsiError(Code.ALREADY_EXISTS, `volume ${volumeId} is already published at ${targetPath} ${known.readOnly ? 'read-only' : 'read-write'}`)
      if (findMount(await this.mounter.table(), targetPath) !== undefined) return
      this.log.warn('published target lost its mount, binding again', { volumeId, targetPath })
    }
    // SINGLE_NODE_SINGLE_WRITER: one pod (one target) at a time, as the CSI spec defines it.
    const others = Object.keys(state.targets).filter(t => t !== targetPath)
    if (mode === 'SINGLE_NODE_SINGLE_WRITER' && others.length > 0) throw new CsiError(Code.FAILED_PRECONDITION, `volume ${volumeId} is SINGLE_NODE_SINGLE_WRITER and already published at ${others.join(', ')}`)
    // The health probe and the bind are both child processes and independent: they run together.
    // The pod starts only once this call answers, so a bind made over a dead mount is never seen:
    // it is replaced below, after the heal.
    const healthP = this.health(state)
    const bound = await this.bindTarget(stagingPath, targetPath, readOnly).then(() => undefined, (err: Error) => err)
    if ((await healthP).dead) {
      state = await this.heal(state, signal)
      // heal() may have bound this target again too (a known target that lost its mount).
      await this.bindTarget(stagingPath, targetPath, readOnly)
    } else if (bound !== undefined) {
      throw bound
    }
    state.targets[targetPath] = { readOnly }
    await this.store.write(state)
    this.log.info('published', { volumeId, targetPath, readOnly })
  }

  /** CSI inline ephemeral volume: a private FUSE mount under the state dir, bound to the target. */
  private async publishEphemeral (volumeId: string, rawTarget: string, req: PublishRequest, signal: AbortSignal): Promise<void> {
    const source = volumeSourceOf(volumeId, req.volume_context, this.config.defaultCapacityBytes)
    if (source.kind !== 'content') throw invalid('inline ephemeral volumes are content only')
    const targetPath = await checkPathUnder(this.config.kubeletDir, rawTarget, 'target_path')
    await this.inlinePolicy.check(source, req.volume_context)
    const existing = await this.store.read(volumeId)
    if (existing !== undefined) {
      if (!existing.ephemeral) throw new CsiError(Code.FAILED_PRECONDITION, `volume ${volumeId} is staged as a persistent volume, not an inline one`)
      if (existing.source !== describeSource(source)) throw new CsiError(Code.ALREADY_EXISTS, `inline volume ${volumeId} already serves ${existing.source}`)
      if (existing.targets[targetPath] === undefined) throw new CsiError(Code.ALREADY_EXISTS, `inline volume ${volumeId} is already published at ${Object.keys(existing.targets).join(', ')}`)
      let state = existing
      if ((await this.health(state)).dead) state = await this.heal(state, signal)
      if (findMount(await this.mounter.table(), targetPath) === undefined) await this.bindTarget(state.stagingPath, targetPath, true)
      return
    }
    const mnt = this.store.ephemeralMountPath(volumeId)
    // Content is immutable: an inline volume is always read-only, whatever readonly says
    // (kubelet sends SINGLE_NODE_WRITER and readonly=false unless the pod sets readOnly).
    const state = await this.mountNew(volumeId, source, mnt, true, true, signal)
    try {
      await this.bindTarget(mnt, targetPath, true)
    } catch (err) {
      await this.teardown(volumeId, mnt).catch((e: Error) => this.log.error('cleanup after failed inline publish failed', { volumeId, error: e.message }))
      throw err
    }
    state.targets[targetPath] = { readOnly: true }
    await this.store.write(state)
    this.log.info('published inline volume', { volumeId, targetPath })
  }

  async unpublish (req: { volume_id?: string, target_path?: string }): Promise<void> {
    const volumeId = checkVolumeId(req.volume_id)
    const targetPath = await checkPathUnder(this.config.kubeletDir, requirePath(req.target_path, 'target_path'), 'target_path')
    await this.unbindTarget(targetPath)
    const state = await this.store.read(volumeId)
    if (state === undefined) return
    if (state.targets[targetPath] !== undefined) {
      delete state.targets[targetPath]
      if (state.ephemeral && Object.keys(state.targets).length === 0) {
        await this.teardown(volumeId, state.stagingPath)
        this.log.info('inline volume removed', { volumeId, targetPath })
        return
      }
      await this.store.write(state)
    }
    this.log.info('unpublished', { volumeId, targetPath })
  }

  // ---- stats / health --------------------------------------------------------------------

  async stats (req: { volume_id?: string, volume_path?: string }, signal: AbortSignal): Promise<VolumeStats> {
    const volumeId = checkVolumeId(req.volume_id)
    const volumePath = requirePath(req.volume_path, 'volume_path')
    const state = await this.store.read(volumeId)
    if (state === undefined) throw new CsiError(Code.NOT_FOUND, `volume ${volumeId} is not staged or published on this node`)
    const norm = path.normalize(volumePath).replace(/(.)\/+$/, '$1')
    const resolved = await checkPathUnder(this.config.kubeletDir, norm, 'volume_path').catch(() => norm)
    const known = (p: string): boolean => p === state.stagingPath || state.targets[p] !== undefined
    if (!known(norm) && !known(resolved)) throw new CsiError(Code.NOT_FOUND, `${volumePath} is neither the staging path nor a target path of volume ${volumeId}`)
    const health = await this.health(state, known(norm) ? norm : resolved)
    const problems: string[] = []
    if (health.problem !== undefined) problems.push(health.problem)
    if (!(await this.kubo.reachable(signal))) {
      problems.push(KUBO_UNREACHABLE_CONDITION)
      this.log.warn('node Kubo unreachable', { volumeId, kuboApi: this.kubo.url })
    }
    return { ...(health.usage !== undefined ? { usage: health.usage } : {}), abnormal: problems.length > 0, message: problems.length > 0 ? problems.join('; ') : 'volume is mounted and its FUSE server answers' }
  }

  /**
   * Is the volume's FUSE server alive and its mount answering? `probePath` (a target) is
   * probed instead of the staging path when given. Never blocks longer than the probe deadline.
   */
  async health (state: VolumeState, probePath = state.stagingPath): Promise<VolumeHealth> {
    const status = await this.store.readStatus(state.volumeId)
    if (status === undefined || !(await this.launcher.isRunning(status.pid, this.store.specPath(state.volumeId)))) {
      return { dead: true, problem: `FUSE server of volume ${state.volumeId} is not running` }
    }
    const table = await this.mounter.table()
    if (findMount(table, state.stagingPath) === undefined) return { dead: true, problem: `${state.stagingPath} is not mounted` }
    const probe = await this.mounter.probe(probePath, this.probeTimeoutMs)
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
    this.log.warn('healing volume: FUSE server gone, remounting', { volumeId, stagingPath })
    await this.stopServer(volumeId)
    await this.detachFuse(stagingPath)
    const specPath = this.store.specPath(volumeId)
    const spec = JSON.parse(await readFile(specPath, 'utf8')) as FuseSpec
    if (spec.mountpoint !== stagingPath) throw new CsiError(Code.INTERNAL, `spec of ${volumeId} mounts ${spec.mountpoint}, state says ${stagingPath}`)
    await this.startServer(volumeId, stagingPath, signal)
    for (const [target, t] of Object.entries(state.targets)) {
      await this.unbindTarget(target, false)
      await this.bindTarget(stagingPath, target, t.readOnly)
    }
    this.log.info('healed volume', { volumeId, stagingPath, targets: Object.keys(state.targets).length })
    return state
  }

  // ---- internals -------------------------------------------------------------------------

  /** Resolves the source, writes the spec, starts the FUSE server, records the state. */
  private async mountNew (volumeId: string, source: VolumeSource, mountpoint: string, readOnly: boolean, ephemeral: boolean, callSignal: AbortSignal): Promise<VolumeState> {
    const limit = deadline(this.mountTimeoutMs, callSignal)
    try {
      return await this.mountWithin(volumeId, source, mountpoint, readOnly, ephemeral, limit.signal)
    } finally {
      limit.clear()
    }
  }

  private async mountWithin (volumeId: string, source: VolumeSource, mountpoint: string, readOnly: boolean, ephemeral: boolean, signal: AbortSignal): Promise<VolumeState> {
    const started = Date.now()
    // Whatever is left at the path from an earlier life (a dead FUSE mount of ours) goes first.
    const stale = findMount(await this.mounter.table(), mountpoint)
    if (stale !== undefined) {
      if (!isOurFuseMount(stale)) throw new CsiError(Code.FAILED_PRECONDITION, `${mountpoint} already has a ${stale.fsType} mount that is not ours`)
      await this.detachFuse(mountpoint)
    }
    const spec = await this.buildSpec(volumeId, source, mountpoint, readOnly, signal)
    await this.store.ensureDir(volumeId)
    await this.store.writeSpec(volumeId, spec)
    try {
      await this.startServer(volumeId, mountpoint, signal, Math.max(1000, this.mountTimeoutMs - (Date.now() - started)))
    } catch (err) {
      await this.removeState(volumeId).catch((e: Error) => this.log.error('state cleanup after failed stage failed', { volumeId, error: e.message }))
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
    await this.store.write(state)
    this.log.info('staged', { volumeId, mountpoint, kind: source.kind, root: spec.rootCid ?? spec.mfsPath, ms: Date.now() - started })
    // GC protection for what is mounted, in the background (see staged-pins.ts). Not for inline
    // volumes: anyone the policy lets in would otherwise pin whole DAGs into the node's repo; their
    // blocks stay in the node cache, under its bounded budget (GC may take them; reads fetch again).
    if (spec.mode === 'content' && spec.rootCid !== undefined && !ephemeral) this.stagedPins.pin(volumeId, spec.rootCid)
    return state
  }

  /** Spawns the server for the spec on disk and waits for its mount; cleans up on failure. */
  private async startServer (volumeId: string, mountpoint: string, signal: AbortSignal, timeoutMs = this.mountTimeoutMs): Promise<void> {
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
      await this.detachFuse(mountpoint).catch(() => {})
      await removeStatus(statusPath)
      throw err
    }
  }

  private async buildSpec (volumeId: string, source: VolumeSource, mountpoint: string, readOnly: boolean, signal: AbortSignal): Promise<FuseSpec> {
    const base = {
      version: 1 as const,
      volumeId,
      mountpoint,
      kuboApi: this.config.kuboApi,
      ...(this.config.kuboApiTokenFile !== undefined ? { kuboApiTokenFile: this.config.kuboApiTokenFile } : {}),
      readOnly,
      readTimeoutMs: this.config.readTimeoutMs,
      kuboTimeoutMs: this.config.kuboTimeoutMs,
      blockCacheBytes: DEFAULTS.blockCacheBytes,
      ...(this.config.kuboBlocksDir !== undefined ? { kuboBlocksDir: this.config.kuboBlocksDir } : {}),
      readAheadBlocks: DEFAULTS.readAheadBlocks,
      logLevel: this.config.logLevel,
      maxHeapMiB: this.config.fuseMaxHeapMiB
    }
    if (source.kind === 'writable') {
      await this.kuboCall('files/stat', { arg: source.mfsPath, hash: true }, signal, { subject: `writable volume ${volumeId}`, notFound: `writable volume ${volumeId} has no data at ${source.mfsPath}` }, this.storageKubo)
      // ControllerExpandVolume rewrites the volume's record, not the PV's volume context: the record's
      // capacity is the current one, so an expansion takes effect at the next stage.
      const found = await findVolume(new RecordStore(this.storageKubo), volumeId, signal).catch(() => undefined)
      const capacityBytes = Math.max(found?.record.capacityBytes ?? 0, source.capacityBytes)
      const { kuboApiTokenFile: _nodeToken, kuboBlocksDir: _nodeBlocks, ...rest } = base
      return {
        ...rest,
        // Writable data lives in the storage Kubo's MFS, not in the node-local Kubo.
        kuboApi: this.config.storageKuboApi,
        ...(this.config.storageKuboApiTokenFile !== undefined ? { kuboApiTokenFile: this.config.storageKuboApiTokenFile } : {}),
        mode: 'writable',
        mfsPath: source.mfsPath,
        capacityBytes,
        ...(this.config.spillDir !== undefined ? { spillDir: this.config.spillDir } : {}),
        spillMaxBytes: this.config.spillMaxBytes,
        spillVolumeMaxBytes: this.config.spillVolumeMaxBytes
      }
    }
    const rootCid = await this.resolveRoot(source, signal)
    return { ...base, mode: 'content', rootCid, readOnly: true }
  }

  /** cid + path (or an IPNS name) → the CID of the directory or file served as the root. */
  private async resolveRoot (source: Extract<VolumeSource, { kind: 'content' }>, signal: AbortSignal): Promise<string> {
    let modelRoot: string | undefined
    if (source.model !== undefined) {
      // The model index lives in the storage tier's Kubo (records the node token may read).
      const found = await new ModelRecords(new ApiRecords(this.storageKubo)).resolve(source.model.name, source.model.ref, signal)
      if (found === undefined) throw new CsiError(Code.NOT_FOUND, `model ${source.model.name}:${source.model.ref} is not in the model index`)
      modelRoot = `/ipfs/${found.m.cid.toString()}`
    }
    const p = source.ref !== undefined ? `/ipfs/${formatContentRef(source.ref)}` : [modelRoot ?? source.ipns, ...source.path].join('/')
    let root: string
    if (source.ref !== undefined && source.ref.path.length === 0) {
      root = source.ref.cid.toString()
    } else {
      const res = await this.kuboCall('resolve', { arg: p, recursive: true }, signal, { subject: `content ${p}`, notFound: `content ${p} does not exist` }) as { Path?: string }
      const m = /^\/ipfs\/([A-Za-z0-9]+)$/.exec(res?.Path ?? '')
      if (m == null) throw new CsiError(Code.INTERNAL, `Kubo resolved ${p} to ${JSON.stringify(res?.Path)}, not an /ipfs/<cid> path`)
      root = m[1] as string
    }
    // Fetch (and keep) the root block now, so a CID that cannot be found fails the stage cleanly.
    await this.kuboCall('block/stat', { arg: root }, signal, { subject: `root block ${root} of ${p}`, notFound: `root block ${root} of ${p} cannot be fetched` })
    return root
  }

  private async kuboCall (endpoint: string, args: Record<string, string | boolean>, signal: AbortSignal, what: { subject: string, notFound: string }, kubo: Kubo = this.kubo): Promise<unknown> {
    if (signal.aborted) throw new CsiError(Code.DEADLINE_EXCEEDED, `${endpoint}: the stage deadline passed`)
    const timeoutMs = this.config.kuboTimeoutMs
    try {
      // Kubo's own `timeout` stops the work server-side too; our deadline covers the transport.
      return await kubo.postJson(endpoint, { ...args, timeout: `${Math.max(1, Math.floor(timeoutMs / 1000))}s` }, signal, timeoutMs + 1000)
    } catch (err) {
      throw kuboStageError(toCsiError(err), what, timeoutMs)
    }
  }

  private async stopServer (volumeId: string): Promise<void> {
    const specPath = this.store.specPath(volumeId)
    // A writable server flushes to MFS on SIGTERM: give it at least a Kubo deadline to finish.
    const graceMs = Math.max(this.stopGraceMs, this.config.kuboTimeoutMs)
    const status = await this.store.readStatus(volumeId)
    if (status !== undefined) await this.launcher.stop(status.pid, specPath, graceMs)
    // A server that never wrote (or lost) its status file is found by its spec path.
    for (const pid of await this.launcher.findPids(specPath)) await this.launcher.stop(pid, specPath, graceMs)
  }

  /** Stops the server, detaches its mount, removes the volume's state directory. */
  private async teardown (volumeId: string, mountpoint: string): Promise<void> {
    await this.stopServer(volumeId)
    await this.detachFuse(mountpoint)
    await this.removeState(volumeId)
    await this.stagedPins.release(volumeId)
  }

  /**
   * Removes the volume's state directory, never through a mount: an inline volume's FUSE mount
   * lives inside it (mnt/), and a recursive delete must not walk into a live filesystem.
   */
  private async removeState (volumeId: string): Promise<void> {
    const dir = this.store.dirOf(volumeId)
    const inside = (): Promise<string[]> => this.mounter.table().then(t => t.filter(e => e.mountPoint.startsWith(dir + '/')).map(e => e.mountPoint))
    for (const p of await inside()) await this.detachFuse(p)
    const left = await inside()
    if (left.length > 0) throw new CsiError(Code.INTERNAL, `not removing ${dir}: ${left.join(', ')} still mounted`)
    await this.store.remove(volumeId)
  }

  /** fusermount -uz until nothing of ours is left at `p` (stacked dead mounts included). */
  private async detachFuse (p: string): Promise<void> {
    for (let i = 0; i < 4; i++) {
      const m = findMount(await this.mounter.table(), p)
      if (m === undefined) return
      await this.mounter.fuseUnmount(p)
    }
    if (findMount(await this.mounter.table(), p) !== undefined) throw new CsiError(Code.INTERNAL, `${p} is still mounted after fusermount -uz`)
  }

  private async bindTarget (src: string, target: string, readOnly: boolean): Promise<void> {
    await mkdir(target, { recursive: true, mode: 0o750 })
    // A stale mount at the target (e.g. a bind of a dead FUSE mount) would hide the new bind.
    await this.unbindTarget(target, false)
    await this.mounter.bind(src, target, readOnly)
  }

  /** Unmounts everything stacked at `target`, lazily when busy; optionally removes the dir. */
  private async unbindTarget (target: string, removeDir = true): Promise<void> {
    let mounted = findMount(await this.mounter.table(), target) !== undefined
    for (let i = 0; i < 4 && mounted; i++) {
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
}
