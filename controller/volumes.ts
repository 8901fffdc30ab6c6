// Volume lifecycle: create (content or writable, empty or seeded), delete, expand, list.
// Everything a later call needs is in the volume id, the record pinned in Kubo and MFS.
import type { CID } from 'multiformats/cid'
import { CTX, MFS_VOLUMES_DIR, PIN_PREFIX } from '../driver/constants.js'
import { CsiError, Code, invalid, notFound } from '../driver/errors.js'
import { contentVolumeId, madeVolumeKind, mfsPathOf, volumePinName, writableVolumeId } from '../driver/volume-id.js'
import type { ControllerDeps } from './deps.js'
import type { VolumeRecord, VolumeSource } from '../driver/volume-records.js'
import { requireSupported, type CapabilityLike } from './access-modes.js'
import { capacityFits, contentCapacity, parseCapacityRange, writableCapacity, type CapacityRangeInput } from './capacity.js'
import { parseVolumeParams, sameParameters, type VolumeParams } from './volume-params.js'
import { contentPath, mfsRemove, resolveContent, statContent, type ResolvedContent } from './content.js'
import { currentContent } from './volume-lookup.js'
import { RecordBlocks } from '../driver/record-blocks.js'
import { ModelRecords } from '../driver/model-records.js'
import { findVolume, newestVolumeRecord } from '../driver/record-store.js'
import { snapshotContent } from './snapshots.js'
import { paginate } from './page-token.js'
import { DEFAULTS } from '../driver/constants.js'
import { parseClusterParams, PVC_NAME_PARAM, PVC_NAMESPACE_PARAM } from './cluster-pinner.js'

export interface VolumeView {
  volume_id: string
  capacity_bytes: string
  volume_context: Record<string, string>
  content_source: { snapshot: { snapshot_id: string } } | { volume: { volume_id: string } } | null
}

export interface CreateVolumeInput {
  name: string
  capabilities: CapabilityLike[]
  capacityRange: CapacityRangeInput | null
  parameters: Record<string, string>
  source: VolumeSource | undefined
}

/** What the node needs to mount the volume (keys in CTX). */
export function volumeContext (rec: VolumeRecord): Record<string, string> {
  if (rec.kind === 'content') return { [CTX.kind]: 'content', [CTX.cid]: (rec.content as CID).toString() }
  return { [CTX.kind]: 'writable', [CTX.capacity]: String(rec.capacityBytes) }
}

export function volumeView (rec: VolumeRecord): VolumeView {
  const src = rec.source
  return {
    volume_id: rec.id,
    capacity_bytes: String(rec.capacityBytes),
    volume_context: volumeContext(rec),
    content_source: src?.snapshot !== undefined ? { snapshot: { snapshot_id: src.snapshot } } : src?.volume !== undefined ? { volume: { volume_id: src.volume } } : null
  }
}

const sameSource = (a: VolumeSource | undefined, b: VolumeSource | undefined): boolean =>
  (a?.snapshot ?? '') === (b?.snapshot ?? '') && (a?.volume ?? '') === (b?.volume ?? '')

/** The content a new volume starts from: a cid/ipns parameter, a snapshot or another volume. */
async function seedOf (deps: ControllerDeps, p: VolumeParams, source: VolumeSource | undefined, signal: AbortSignal): Promise<ResolvedContent | undefined> {
  if (p.cid !== undefined) return await resolveContent(deps.kubo, contentPath(`/ipfs/${p.cid.toString()}`, p.path), signal)
  if (p.ipns !== undefined) return await resolveContent(deps.kubo, contentPath(p.ipns, p.path), signal)
  if (p.model !== undefined) {
    const found = await new ModelRecords(new RecordBlocks(deps.kubo)).resolve(p.model.name, p.model.ref, signal)
    if (found === undefined) throw notFound(`model ${p.model.name}:${p.model.ref} is not in the model index`)
    return await resolveContent(deps.kubo, contentPath(`/ipfs/${found.m.cid.toString()}`, p.path), signal)
  }
  if (source?.snapshot !== undefined) {
    const snap = await snapshotContent(deps, source.snapshot, signal)
    return await statContent(deps.kubo, snap.content, signal)
  }
  if (source?.volume !== undefined) return await currentContent(deps.kubo, deps.store, source.volume, signal)
  return undefined
}

export async function createVolume (deps: ControllerDeps, input: CreateVolumeInput, signal: AbortSignal): Promise<VolumeView> {
  const { name, source } = input
  if (name === '') throw invalid('volume name is required')
  const p = parseVolumeParams(input.parameters)
  requireSupported(input.capabilities, p.kind)
  const bounds = parseCapacityRange(input.capacityRange)
  if (source !== undefined && source.snapshot === undefined && source.volume === undefined) throw invalid('volume_content_source names neither a snapshot nor a volume')
  if (source !== undefined && (p.cid !== undefined || p.ipns !== undefined || p.model !== undefined)) throw invalid('a volume_content_source cannot be combined with a "cid", "ipns" or "model" parameter')
  if (p.kind === 'content' && p.cid === undefined && p.ipns === undefined && p.model === undefined && source === undefined) throw invalid('a content volume needs a "cid", "ipns" or "model" parameter, or a content source')
  // Replication applies to content: a writable volume lives in one Kubo's MFS.
  if (p.kind === 'writable' && (p.stored.replicationMin !== undefined || p.stored.replicationMax !== undefined)) throw invalid('parameters "replicationMin"/"replicationMax" apply to content volumes only')

  // Idempotency: the id comes from the name; a name may have been used for the other kind.
  const ids = [contentVolumeId(name), writableVolumeId(name)]
  for (const otherId of ids) {
    const found = await findVolume(deps.store, otherId, signal)
    if (found === undefined) continue
    const rec = found.record
    const same = rec.name === name && rec.kind === p.kind && sameParameters(rec.params, p.stored) && sameSource(rec.source, source) && capacityFits(rec.capacityBytes, bounds)
    if (!same) throw new CsiError(Code.ALREADY_EXISTS, `volume ${JSON.stringify(name)} already exists (${rec.id}) with other parameters, capacity or source`)
    return volumeView(rec)
  }

  const id = p.kind === 'content' ? contentVolumeId(name) : writableVolumeId(name)
  const base = { v: 1 as const, type: 'volume' as const, id, name, createdAt: Date.now(), params: p.stored, ...(source !== undefined ? { source } : {}) }
  const seed = await seedOf(deps, p, source, signal)

  if (p.kind === 'content') {
    const content = seed as ResolvedContent
    const rec: VolumeRecord = { ...base, kind: 'content', content: content.cid, sizeBytes: content.size, capacityBytes: contentCapacity(bounds, content.size) }
    // With a Cluster: replicated to replicationMin peers first, the record (commit point) last.
    if (deps.cluster !== undefined) {
      const pvc = { namespace: input.parameters[PVC_NAMESPACE_PARAM], name: input.parameters[PVC_NAME_PARAM] }
      await deps.cluster.replicate({ id, pinName: volumePinName(id), kind: 'volume', content: content.cid, sizeBytes: content.size, params: parseClusterParams(p.stored), pvc }, signal)
    }
    await deps.store.write(rec, volumePinName(id), signal)
    deps.log.info('content volume created', { volumeId: id, cid: content.cid.toString(), sizeBytes: content.size })
    return volumeView(rec)
  }

  const capacityBytes = writableCapacity(bounds, deps.config.defaultCapacityBytes)
  if (seed !== undefined && seed.type !== 'directory') throw invalid(`a writable volume must start from a directory; ${seed.cid.toString()} is a file`)
  if (seed !== undefined && seed.size > capacityBytes) throw new CsiError(Code.OUT_OF_RANGE, `the source holds ${seed.size} bytes, more than the requested capacity ${capacityBytes}`)
  const rec: VolumeRecord = { ...base, kind: 'writable', capacityBytes, sizeBytes: seed?.size ?? 0 }
  // A seed from outside (cid/ipns) is linked, so the pin fetches it and keeps it local.
  if (seed !== undefined && (p.cid !== undefined || p.ipns !== undefined || p.model !== undefined)) rec.seed = seed.cid
  const dir = mfsPathOf(id)
  // No record means no volume: a directory left by an interrupted attempt is debris.
  await mfsRemove(deps.kubo, dir, signal)
  try {
    await deps.kubo.post('files/mkdir', { arg: MFS_VOLUMES_DIR, parents: true }, signal)
    // files/cp links the existing DAG into MFS: O(1), no data is copied.
    if (seed !== undefined) await deps.kubo.post('files/cp', { arg: [`/ipfs/${seed.cid.toString()}`, dir] }, signal)
    else await deps.kubo.post('files/mkdir', { arg: dir, parents: true }, signal)
    await deps.store.write(rec, volumePinName(id), signal)
  } catch (err) {
    await mfsRemove(deps.kubo, dir, AbortSignal.timeout(15_000)).catch((e: unknown) => deps.log.warn('cleanup failed', { dir, error: (e as Error).message }))
    throw err
  }
  deps.log.info('writable volume created', { volumeId: id, capacityBytes, seed: seed?.cid.toString() })
  return volumeView(rec)
}

/** Unknown or malformed ids are already gone (CSI idempotency). */
export async function deleteVolume (deps: ControllerDeps, id: string, signal: AbortSignal): Promise<void> {
  if (id === '') throw invalid('volume_id is required')
  const kind = madeVolumeKind(id)
  if (kind === undefined) return // static handles and foreign ids: nothing of ours to delete
  // Data first, record last: an interrupted delete leaves the volume listed, and the CO retries.
  if (kind === 'writable') await mfsRemove(deps.kubo, mfsPathOf(id), signal)
  await deps.cluster?.release(volumePinName(id), signal)
  for (const pin of await deps.store.pinsExactly(volumePinName(id), signal)) await deps.store.unpin(pin.cid, signal)
  deps.log.info('volume deleted', { volumeId: id })
}

export async function expandVolume (deps: ControllerDeps, id: string, range: CapacityRangeInput | null, signal: AbortSignal): Promise<number> {
  if (id === '') throw invalid('volume_id is required')
  if (range == null) throw invalid('capacity_range is required')
  const bounds = parseCapacityRange(range)
  const wanted = bounds.required > 0 ? bounds.required : bounds.limit
  if (wanted === 0) throw invalid('capacity_range needs required_bytes or limit_bytes')
  const found = await findVolume(deps.store, id, signal)
  if (found === undefined) throw notFound(`volume ${JSON.stringify(id)} does not exist`)
  const rec = found.record
  if (rec.kind !== 'writable') throw invalid(`volume ${id} is a read-only content volume and cannot be expanded`)
  if (wanted <= rec.capacityBytes) return rec.capacityBytes // shrinking is not supported: keep the current size
  if (wanted > DEFAULTS.maxCapacityBytes) throw new CsiError(Code.OUT_OF_RANGE, `requested capacity ${wanted} is above the largest supported volume (${DEFAULTS.maxCapacityBytes} bytes)`)
  const next: VolumeRecord = { ...rec, capacityBytes: wanted }
  const cid = await deps.store.write(next, volumePinName(id), signal)
  // New pin first, then drop the old ones: at every moment the volume has a record.
  for (const pin of found.pins) if (!pin.cid.equals(cid)) await deps.store.unpin(pin.cid, signal)
  deps.log.info('volume expanded', { volumeId: id, from: rec.capacityBytes, to: wanted })
  return wanted
}

export async function listVolumes (deps: ControllerDeps, maxEntries: number, startingToken: string, signal: AbortSignal): Promise<{ entries: VolumeView[], nextToken: string }> {
  const pins = (await deps.store.pinsNamed(PIN_PREFIX.volume, signal)).filter(p => p.name.startsWith(PIN_PREFIX.volume))
  const byId = new Map<string, typeof pins>()
  for (const p of pins) {
    const id = p.name.slice(PIN_PREFIX.volume.length)
    if (madeVolumeKind(id) === undefined) continue
    byId.set(id, [...(byId.get(id) ?? []), p])
  }
  const page = paginate([...byId.keys()], x => x, startingToken, maxEntries)
  const entries: VolumeView[] = []
  for (const id of page.items) {
    try {
      const rec = await newestVolumeRecord(deps.store, byId.get(id) ?? [], id, signal)
      if (rec !== undefined) entries.push(volumeView(rec))
    } catch (err) {
      if (signal.aborted) throw err
      deps.log.warn('unreadable volume record', { volumeId: id, error: (err as Error).message })
    }
  }
  return { entries, nextToken: page.nextToken }
}

/** Free space of the Kubo repo, the only honest capacity this plugin has. */
export async function availableCapacity (deps: ControllerDeps, signal: AbortSignal, parameters?: Record<string, string>): Promise<number> {
  // With a Cluster the storage tier is its peers (see ClusterPinner.availableCapacity).
  if (deps.cluster !== undefined) return await deps.cluster.availableCapacity(parseClusterParams(parameters).replicationMin, signal)
  const st = await deps.kubo.postJson<{ RepoSize: number, StorageMax: number }>('repo/stat', { 'size-only': true }, signal)
  return Math.max(0, Number(st.StorageMax) - Number(st.RepoSize))
}
