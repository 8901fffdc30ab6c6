// CSI Controller service: thin gRPC handlers over the domain functions in this directory.
// The controller keeps no state of its own: ids, volume contexts and Kubo hold everything.
import type { ControllerHandlers } from '../proto/gen/csi/v1/Controller.js'
import type { ServeConfig } from '../driver/config.js'
import type { Kubo } from '../driver/kubo.js'
import type { Logger } from '../driver/logger.js'
import { CsiError, Code, invalid } from '../driver/errors.js'
import { isSnapshotId, madeVolumeKind, nameHash } from '../driver/volume-id.js'
import { unary, type RpcDeps } from '../driver/rpc-wrapper.js'
import type { ControllerDeps } from './deps.js'
import { RecordStore } from '../driver/record-store.js'
import { CONTROLLER_CAPABILITIES } from './capabilities.js'
import { firstUnsupported } from './access-modes.js'
import { parseVolumeParams } from './volume-params.js'
import type { VolumeSource } from '../driver/volume-records.js'
import { availableCapacity, createVolume, deleteVolume, expandVolume, listVolumes } from './volumes.js'
import { createSnapshot, deleteSnapshot, getSnapshot, listSnapshots } from './snapshots.js'
import { validateVolume } from './validate-volume.js'
import { clusterPinnerFor } from './cluster-pinner.js'

export interface ControllerServiceDeps extends RpcDeps {
  log: Logger
  kubo: Kubo
  config: ServeConfig
}

// Lock keys live in their own namespace so they never collide with the node service's keys.
// Create (by name) and Delete/Expand (by id) of one volume share a key: the id embeds the name's hash.
const volumeKey = (id: string): string => `controller/volume/${madeVolumeKind(id) !== undefined ? id.slice(2) : id}`
const volumeNameKey = (name: string): string | undefined => name === '' ? undefined : `controller/volume/${nameHash(name)}`
const snapshotNameKey = (name: string): string | undefined => name === '' ? undefined : `controller/snapshot/${nameHash(name)}`
const snapshotKey = (id: string): string | undefined => id === '' ? undefined : `controller/snapshot/${isSnapshotId(id) ? id.slice(2, 26) : id}`

function sourceOf (src: { snapshot?: { snapshot_id: string } | null, volume?: { volume_id: string } | null } | null | undefined): VolumeSource | undefined {
  if (src == null) return undefined
  if (src.snapshot != null) {
    if (src.snapshot.snapshot_id === '') throw invalid('volume_content_source.snapshot.snapshot_id is empty')
    return { snapshot: src.snapshot.snapshot_id }
  }
  if (src.volume != null) {
    if (src.volume.volume_id === '') throw invalid('volume_content_source.volume.volume_id is empty')
    return { volume: src.volume.volume_id }
  }
  return undefined
}

const unimplemented = (what: string) => async (): Promise<never> => { throw new CsiError(Code.UNIMPLEMENTED, `${what} is not supported by this plugin`) }

export function controllerService (deps: ControllerServiceDeps): ControllerHandlers {
  const cluster = clusterPinnerFor(deps.config, deps.kubo, deps.log)
  const d: ControllerDeps = { kubo: deps.kubo, config: deps.config, log: deps.log, store: new RecordStore(deps.kubo), ...(cluster !== undefined ? { cluster } : {}) }
  return {
    ControllerGetCapabilities: unary(deps, 'ControllerGetCapabilities', async () => ({
      capabilities: CONTROLLER_CAPABILITIES.map(type => ({ rpc: { type } }))
    })),

    CreateVolume: unary(deps, 'CreateVolume', async (req, ctx) => {
      if (req.name === '') throw invalid('name is required')
      if (req.volume_capabilities.length === 0) throw invalid('volume_capabilities are required')
      const volume = await createVolume(d, {
        name: req.name,
        capabilities: req.volume_capabilities,
        capacityRange: req.capacity_range,
        parameters: req.parameters,
        source: sourceOf(req.volume_content_source)
      }, ctx.signal)
      return { volume }
    }, { lockKey: req => volumeNameKey(req.name) }),

    DeleteVolume: unary(deps, 'DeleteVolume', async (req, ctx) => {
      await deleteVolume(d, req.volume_id, ctx.signal)
      return {}
    }, { lockKey: req => req.volume_id === '' ? undefined : volumeKey(req.volume_id) }),

    ControllerExpandVolume: unary(deps, 'ControllerExpandVolume', async (req, ctx) => {
      const capacity = await expandVolume(d, req.volume_id, req.capacity_range, ctx.signal)
      return { capacity_bytes: String(capacity), node_expansion_required: false }
    }, { lockKey: req => req.volume_id === '' ? undefined : volumeKey(req.volume_id) }),

    ValidateVolumeCapabilities: unary(deps, 'ValidateVolumeCapabilities', async (req, ctx) => {
      const why = await validateVolume(d, { volumeId: req.volume_id, capabilities: req.volume_capabilities, context: req.volume_context, parameters: req.parameters }, ctx.signal)
      if (why !== undefined) return { confirmed: null, message: why }
      return { confirmed: { volume_context: req.volume_context, volume_capabilities: req.volume_capabilities, parameters: req.parameters, mutable_parameters: req.mutable_parameters }, message: '' }
    }),

    ListVolumes: unary(deps, 'ListVolumes', async (req, ctx) => {
      const { entries, nextToken } = await listVolumes(d, req.max_entries, req.starting_token, ctx.signal)
      return { entries: entries.map(volume => ({ volume })), next_token: nextToken }
    }),

    GetCapacity: unary(deps, 'GetCapacity', async (req, ctx) => {
      const kind = parseVolumeParams(req.parameters).kind
      // Capabilities we cannot serve get no capacity (CSI spec).
      if (req.volume_capabilities.length > 0 && firstUnsupported(req.volume_capabilities, kind) !== undefined) return { available_capacity: '0' }
      return { available_capacity: String(await availableCapacity(d, ctx.signal, req.parameters)) }
    }),

    CreateSnapshot: unary(deps, 'CreateSnapshot', async (req, ctx) => {
      const snapshot = await createSnapshot(d, req.name, req.source_volume_id, ctx.signal)
      return { snapshot }
    }, { lockKey: req => snapshotNameKey(req.name) }),

    DeleteSnapshot: unary(deps, 'DeleteSnapshot', async (req, ctx) => {
      await deleteSnapshot(d, req.snapshot_id, ctx.signal)
      return {}
    }, { lockKey: req => snapshotKey(req.snapshot_id) }),

    ListSnapshots: unary(deps, 'ListSnapshots', async (req, ctx) => {
      const { entries, nextToken } = await listSnapshots(d, { snapshotId: req.snapshot_id, sourceVolumeId: req.source_volume_id, maxEntries: req.max_entries, startingToken: req.starting_token }, ctx.signal)
      return { entries: entries.map(snapshot => ({ snapshot })), next_token: nextToken }
    }),

    ControllerPublishVolume: unary(deps, 'ControllerPublishVolume', unimplemented('ControllerPublishVolume')),
    ControllerUnpublishVolume: unary(deps, 'ControllerUnpublishVolume', unimplemented('ControllerUnpublishVolume')),
    ControllerGetVolume: unary(deps, 'ControllerGetVolume', unimplemented('ControllerGetVolume')),
    ControllerModifyVolume: unary(deps, 'ControllerModifyVolume', unimplemented('ControllerModifyVolume')),
    GetSnapshot: unary(deps, 'GetSnapshot', async (req, ctx) => ({ snapshot: await getSnapshot(d, req.snapshot_id, ctx.signal) }))
  }
}
