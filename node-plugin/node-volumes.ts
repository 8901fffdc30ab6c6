// The node's volume domain, wired together: the stager (NodeStage/Unstage), the publisher
// (NodePublish/Unpublish, inline volumes), mount health and healing, over the two seams (Mounter,
// FuseLauncher) and the state dir. Domain code: no gRPC or wire shapes here (node-requests.ts
// turns requests into domain types); every Kubo call carries the caller's AbortSignal and a deadline.
import type { ServeConfig } from '../driver/config.js'
import { Kubo } from '../driver/kubo.js'
import type { Logger } from '../driver/logger.js'
import { FuseServers } from './fuse-servers.js'
import { InlinePolicy } from './inline-policy.js'
import { processLauncher, type FuseLauncher } from './fuse-launcher.js'
import { systemMounter, type Mounter } from './mounter.js'
import type { RequestLimits } from './node-requests.js'
import { SourceResolver } from './source-resolver.js'
import { StagedPins, otherUserFrom } from './staged-pins.js'
import { MountHealth } from './volume-health.js'
import { VolumeMounts } from './volume-mounts.js'
import { VolumePublisher } from './volume-publisher.js'
import { VolumeStager } from './volume-stager.js'
import { VolumeStateStore } from './volume-state.js'

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

export class NodeVolumes {
  readonly store: VolumeStateStore
  readonly mounter: Mounter
  readonly launcher: FuseLauncher
  readonly servers: FuseServers
  readonly health: MountHealth
  readonly stager: VolumeStager
  readonly publisher: VolumePublisher
  /** What node-requests.ts checks requests against. */
  readonly limits: RequestLimits

  constructor (deps: NodeVolumesDeps, options: NodeVolumesOptions = {}) {
    const { log, kubo, config } = deps
    const mountTimeoutMs = options.mountTimeoutMs ?? 60_000
    this.store = new VolumeStateStore(config.stateDir)
    this.mounter = deps.mounter ?? systemMounter
    this.launcher = deps.launcher ?? processLauncher(config.fuseLauncher ?? 'local', config.fuseRunAs)
    this.limits = { kubeletDir: config.kubeletDir, defaultCapacityBytes: config.defaultCapacityBytes }
    const storageKubo = config.storageKuboApi === kubo.url
      ? kubo
      : new Kubo({ url: config.storageKuboApi, ...(config.storageKuboApiTokenFile !== undefined ? { tokenFile: config.storageKuboApiTokenFile } : {}), timeoutMs: config.kuboTimeoutMs })
    const mounts = new VolumeMounts({ mounter: this.mounter, store: this.store, log, kubeletDir: config.kubeletDir })
    this.servers = new FuseServers({ launcher: this.launcher, store: this.store, mounts, mountTimeoutMs, stopGraceMs: options.stopGraceMs ?? 10_000, kuboTimeoutMs: config.kuboTimeoutMs })
    this.health = new MountHealth({ log, kubo, kubeletDir: config.kubeletDir, store: this.store, mounter: this.mounter, mounts, servers: this.servers, probeTimeoutMs: options.probeTimeoutMs ?? 5000 })
    this.stager = new VolumeStager({
      log,
      config,
      store: this.store,
      mounter: this.mounter,
      mounts,
      servers: this.servers,
      health: this.health,
      resolver: new SourceResolver({ kubo, storageKubo, kuboTimeoutMs: config.kuboTimeoutMs }),
      stagedPins: new StagedPins(kubo, log, otherUserFrom(this.store)),
      mountTimeoutMs
    })
    const inlinePolicy = deps.inlinePolicy ?? new InlinePolicy(config.inlinePolicyFile, log)
    this.publisher = new VolumePublisher({ log, kubeletDir: config.kubeletDir, store: this.store, mounter: this.mounter, mounts, health: this.health, stager: this.stager, inlinePolicy })
  }
}
