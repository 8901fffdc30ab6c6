// The node service's edge: CSI requests (wire shapes, snake_case, every field optional) checked
// and turned into the domain requests the stager and publisher take. Bad input is refused here,
// with INVALID_ARGUMENT, before anything is resolved, spawned, mounted or created.
import { CTX } from '../driver/constants.js'
import { invalid } from '../driver/errors.js'
import { checkPathUnder } from '../driver/paths.js'
import { checkCapability, checkVolumeId, isEphemeral, volumeSourceOf, type CapabilityLike, type VolumeSource } from './volume-source.js'

/** What the node needs of its configuration to check a request. */
export interface RequestLimits {
  /** Staging and target paths must lie under it. */
  kubeletDir: string
  /** Capacity of a writable volume whose context names none. */
  defaultCapacityBytes: number
}

// ---- wire shapes (the fields of the CSI requests the node reads) ------------------------------

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

export interface UnstageRequest { volume_id?: string, staging_target_path?: string }
export interface UnpublishRequest { volume_id?: string, target_path?: string }
export interface StatsRequest { volume_id?: string, volume_path?: string }

// ---- domain requests ---------------------------------------------------------------------------

export interface StageVolume {
  volumeId: string
  source: VolumeSource
  /** Checked: under the kubelet dir, no symlink on the way. */
  stagingPath: string
  accessMode: string
}

/** A volume staged earlier, bound at a pod's target. */
export interface PublishStaged {
  inline: false
  volumeId: string
  source: VolumeSource
  stagingPath: string
  targetPath: string
  accessMode: string
  /** The CO asked for a read-only publish (the access mode may make it read-only too). */
  readOnly: boolean
}

/** A CSI inline ephemeral volume: no stage, a private mount bound at the target. */
export interface PublishInline {
  inline: true
  volumeId: string
  source: Extract<VolumeSource, { kind: 'content' }>
  targetPath: string
  /** The pod's namespace as kubelet passes it (CSIDriver podInfoOnMount), for the inline policy. */
  podNamespace?: string
}

export type PublishVolume = PublishStaged | PublishInline

export interface UnstageVolume { volumeId: string, stagingPath: string }
export interface UnpublishVolume { volumeId: string, targetPath: string }
/** `volumePath` as given: the stats check normalizes it against what the volume knows. */
export interface VolumeStatsQuery { volumeId: string, volumePath: string }

const requirePath = (p: string | undefined, what: string): string => {
  if (p === undefined || p === '') throw invalid(`${what} is required`)
  return p
}

export async function stageVolumeOf (req: StageRequest, limits: RequestLimits): Promise<StageVolume> {
  const volumeId = checkVolumeId(req.volume_id)
  const rawStaging = requirePath(req.staging_target_path, 'staging_target_path')
  const accessMode = checkCapability(req.volume_capability)
  if (isEphemeral(req.volume_context)) throw invalid('inline ephemeral volumes are published without staging')
  const source = volumeSourceOf(volumeId, req.volume_context, limits.defaultCapacityBytes)
  const stagingPath = await checkPathUnder(limits.kubeletDir, rawStaging, 'staging_target_path')
  return { volumeId, source, stagingPath, accessMode }
}

export async function publishVolumeOf (req: PublishRequest, limits: RequestLimits): Promise<PublishVolume> {
  const volumeId = checkVolumeId(req.volume_id)
  const rawTarget = requirePath(req.target_path, 'target_path')
  const accessMode = checkCapability(req.volume_capability)
  const source = volumeSourceOf(volumeId, req.volume_context, limits.defaultCapacityBytes)
  if (isEphemeral(req.volume_context)) {
    if (source.kind !== 'content') throw invalid('inline ephemeral volumes are content only')
    const podNamespace = req.volume_context?.[CTX.podNamespace]
    return { inline: true, volumeId, source, targetPath: await checkPathUnder(limits.kubeletDir, rawTarget, 'target_path'), ...(podNamespace !== undefined ? { podNamespace } : {}) }
  }
  const rawStaging = requirePath(req.staging_target_path, 'staging_target_path')
  const targetPath = await checkPathUnder(limits.kubeletDir, rawTarget, 'target_path')
  const stagingPath = await checkPathUnder(limits.kubeletDir, rawStaging, 'staging_target_path')
  return { inline: false, volumeId, source, stagingPath, targetPath, accessMode, readOnly: req.readonly === true }
}

export async function unstageVolumeOf (req: UnstageRequest, limits: RequestLimits): Promise<UnstageVolume> {
  const volumeId = checkVolumeId(req.volume_id)
  const stagingPath = await checkPathUnder(limits.kubeletDir, requirePath(req.staging_target_path, 'staging_target_path'), 'staging_target_path')
  return { volumeId, stagingPath }
}

export async function unpublishVolumeOf (req: UnpublishRequest, limits: RequestLimits): Promise<UnpublishVolume> {
  const volumeId = checkVolumeId(req.volume_id)
  const targetPath = await checkPathUnder(limits.kubeletDir, requirePath(req.target_path, 'target_path'), 'target_path')
  return { volumeId, targetPath }
}

export function statsQueryOf (req: StatsRequest): VolumeStatsQuery {
  return { volumeId: checkVolumeId(req.volume_id), volumePath: requirePath(req.volume_path, 'volume_path') }
}
