// The node domain driven with CSI-shaped requests, as node-service.ts drives it (check and map
// with node-requests.ts, then call the stager, publisher or health check), without a gRPC server.
import type { NodeVolumes } from '../../node-plugin/node-volumes.js'
import { publishVolumeOf, stageVolumeOf, statsQueryOf, unpublishVolumeOf, unstageVolumeOf, type PublishRequest, type StageRequest, type StatsRequest, type UnpublishRequest, type UnstageRequest } from '../../node-plugin/node-requests.js'
import type { VolumeStats } from '../../node-plugin/volume-health.js'

export interface WireNode {
  stage: (req: StageRequest, signal: AbortSignal) => Promise<void>
  unstage: (req: UnstageRequest) => Promise<void>
  publish: (req: PublishRequest, signal: AbortSignal) => Promise<void>
  unpublish: (req: UnpublishRequest) => Promise<void>
  stats: (req: StatsRequest, signal: AbortSignal) => Promise<VolumeStats>
}

export function wireNode (v: NodeVolumes): WireNode {
  return {
    stage: async (req, signal) => await v.stager.stage(await stageVolumeOf(req, v.limits), signal),
    unstage: async (req) => await v.stager.unstage(await unstageVolumeOf(req, v.limits)),
    publish: async (req, signal) => await v.publisher.publish(await publishVolumeOf(req, v.limits), signal),
    unpublish: async (req) => await v.publisher.unpublish(await unpublishVolumeOf(req, v.limits)),
    stats: async (req, signal) => await v.health.stats(statsQueryOf(req), signal)
  }
}
