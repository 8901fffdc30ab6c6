// CSI Node service: thin gRPC handlers (check the request and map it to domain types in
// node-requests.ts, call the stager, publisher or health check with the call's AbortSignal, build
// the reply), plus start-up reconciliation and the periodic healer. Every handler runs through unary() with the volume id as lock key, so two
// calls on one volume never interleave (the second gets ABORTED and the CO retries).
import type { NodeHandlers } from '../proto/gen/csi/v1/Node.js'
import type { ServeConfig } from '../driver/config.js'
import { Code, CsiError } from '../driver/errors.js'
import type { Kubo } from '../driver/kubo.js'
import type { Logger } from '../driver/logger.js'
import type { VolumeLocks } from '../driver/volume-locks.js'
import { unary, type RpcDeps } from '../driver/rpc-wrapper.js'
import type { RpcMetrics } from '../driver/metrics.js'
import { NodeVolumes, type NodeVolumesOptions } from './node-volumes.js'
import { publishVolumeOf, stageVolumeOf, statsQueryOf, unpublishVolumeOf, unstageVolumeOf } from './node-requests.js'
import type { Mounter } from './mounter.js'
import type { FuseLauncher } from './fuse-launcher.js'
import { NodeHealer } from './node-healer.js'
import { NodeCache } from './node-cache.js'

/** Topology key: a node-local volume (inline or staged) is reachable on this node only. */
export const TOPOLOGY_NODE_KEY = 'topology.ipfs.csi.dev/node'

export interface NodeServiceDeps {
  log: Logger
  locks: VolumeLocks
  kubo: Kubo
  config: ServeConfig
  metrics?: RpcMetrics
  /** The node's seams (default: the kernel and real FUSE server processes). */
  mounter?: Mounter
  launcher?: FuseLauncher
}

export interface NodeServiceOptions extends NodeVolumesOptions {
  /** How long start() waits for reconciliation before serving (the rest continues in the background). */
  reconcileWaitMs?: number
}

const byVolumeId = (req: { volume_id?: string }): string | undefined => req.volume_id

export class NodeService {
  readonly volumes: NodeVolumes
  readonly healer: NodeHealer
  readonly log: Logger
  /** Present when --node-cache-max-bytes bounds the node Kubo's repo. */
  cache?: NodeCache
  private readonly deps: NodeServiceDeps
  private readonly reconcileWaitMs: number

  constructor (deps: NodeServiceDeps, options: NodeServiceOptions = {}) {
    this.deps = deps
    const log = deps.log.child({ component: 'node' })
    this.log = log
    this.volumes = new NodeVolumes({ log, kubo: deps.kubo, config: deps.config, mounter: deps.mounter, launcher: deps.launcher }, options)
    this.healer = new NodeHealer({ volumes: this.volumes, locks: deps.locks, log })
    this.reconcileWaitMs = options.reconcileWaitMs ?? 20_000
  }

  /**
   * Adopts or heals every volume in the state dir, then starts the periodic healer. Waits at
   * most reconcileWaitMs: a volume still healing holds its lock, so RPCs on it get ABORTED
   * (and are retried) rather than the whole node plugin staying unready.
   */
  async start (): Promise<void> {
    const log = this.deps.log
    const done = this.healer.reconcile().catch((err: Error) => { log.error('reconcile failed', { error: err.message }) })
    let timer: NodeJS.Timeout | undefined
    const waited = new Promise<'timeout'>(resolve => { timer = setTimeout(() => resolve('timeout'), this.reconcileWaitMs) })
    if (await Promise.race([done.then(() => 'done' as const), waited]) === 'timeout') log.warn('reconcile still running, serving meanwhile', { waitedMs: this.reconcileWaitMs })
    clearTimeout(timer)
    this.healer.startTimer(this.deps.config.healIntervalMs)
    if (this.deps.config.nodeCacheMaxBytes !== undefined) {
      this.cache = new NodeCache({ kubo: this.deps.kubo, maxBytes: this.deps.config.nodeCacheMaxBytes, log: log.child({ component: 'node-cache' }) })
      this.cache.start()
    }
  }

  /** Stops timers only: FUSE servers keep running so pods keep their mounts. */
  stop (): void {
    this.healer.stop()
    this.cache?.stop()
  }

  handlers (): NodeHandlers {
    const deps: RpcDeps = { log: this.deps.log, locks: this.deps.locks, ...(this.deps.metrics !== undefined ? { metrics: this.deps.metrics } : {}) }
    const { stager, publisher, health, limits } = this.volumes
    const nodeId = this.deps.config.nodeId
    return {
      NodeStageVolume: unary(deps, 'NodeStageVolume', async (req, ctx) => {
        await stager.stage(await stageVolumeOf(req, limits), ctx.signal)
        return {}
      }, { lockKey: byVolumeId }),
      NodeUnstageVolume: unary(deps, 'NodeUnstageVolume', async (req) => {
        await stager.unstage(await unstageVolumeOf(req, limits))
        return {}
      }, { lockKey: byVolumeId }),
      NodePublishVolume: unary(deps, 'NodePublishVolume', async (req, ctx) => {
        await publisher.publish(await publishVolumeOf(req, limits), ctx.signal)
        return {}
      }, { lockKey: byVolumeId }),
      NodeUnpublishVolume: unary(deps, 'NodeUnpublishVolume', async (req) => {
        await publisher.unpublish(await unpublishVolumeOf(req, limits))
        return {}
      }, { lockKey: byVolumeId }),
      NodeGetVolumeStats: unary(deps, 'NodeGetVolumeStats', async (req, ctx) => {
        const s = await health.stats(statsQueryOf(req), ctx.signal)
        const u = s.usage
        return {
          usage: u === undefined
            ? []
            : [
                { unit: 'BYTES' as const, total: String(u.blocks * u.frsize), available: String(u.bavail * u.frsize), used: String(Math.max(0, u.blocks - u.bfree) * u.frsize) },
                { unit: 'INODES' as const, total: String(u.files), available: String(u.ffree), used: String(Math.max(0, u.files - u.ffree)) }
              ],
          volume_condition: { abnormal: s.abnormal, message: s.message }
        }
      }, { lockKey: byVolumeId }),
      NodeGetCapabilities: unary(deps, 'NodeGetCapabilities', async () => ({
        capabilities: (['STAGE_UNSTAGE_VOLUME', 'GET_VOLUME_STATS', 'VOLUME_CONDITION', 'SINGLE_NODE_MULTI_WRITER'] as const).map(type => ({ rpc: { type } }))
      })),
      NodeGetInfo: unary(deps, 'NodeGetInfo', async () => ({
        node_id: nodeId,
        max_volumes_per_node: String(this.deps.config.maxVolumesPerNode),
        accessible_topology: { segments: { [TOPOLOGY_NODE_KEY]: nodeId } }
      })),
      NodeExpandVolume: unary(deps, 'NodeExpandVolume', async () => {
        throw new CsiError(Code.UNIMPLEMENTED, 'NodeExpandVolume is not supported: volumes need no node-side expansion')
      })
    }
  }
}
