// Snapshots: a snapshot is a CID. Of a content volume, its CID; of a writable volume, the CID of
// its MFS directory after a flush. The record pins that CID, so the snapshot outlives its volume.
import { PIN_PREFIX } from '../driver/constants.js'
import { CsiError, Code, invalid, notFound } from '../driver/errors.js'
import { isSnapshotId, nameHash, snapshotId, snapshotPinName } from '../driver/volume-id.js'
import type { ControllerDeps } from './deps.js'
import type { SnapshotRecord } from '../driver/volume-records.js'
import type { NamedPin } from '../driver/record-store.js'
import { paginate } from './page-token.js'
import { currentContent } from './volume-lookup.js'

export interface SnapshotView {
  snapshot_id: string
  source_volume_id: string
  size_bytes: string
  creation_time: { seconds: string, nanos: number }
  ready_to_use: boolean
}

export function snapshotView (rec: SnapshotRecord): SnapshotView {
  return {
    snapshot_id: rec.id,
    source_volume_id: rec.sourceVolumeId,
    size_bytes: String(rec.sizeBytes),
    creation_time: { seconds: String(Math.floor(rec.createdAt / 1000)), nanos: (rec.createdAt % 1000) * 1_000_000 },
    ready_to_use: true
  }
}

const idOfPin = (p: NamedPin): string => p.name.slice(PIN_PREFIX.snapshot.length)

async function readSnapshot (deps: ControllerDeps, pin: NamedPin, signal: AbortSignal): Promise<SnapshotRecord> {
  const rec = await deps.store.read(pin.cid, signal)
  if (rec.type !== 'snapshot' || rec.id !== idOfPin(pin)) throw new CsiError(Code.DATA_LOSS, `pin ${pin.name} does not hold its snapshot record`)
  return rec
}

/** The snapshot with this id, or undefined (also for ids that are not ours). */
export async function findSnapshot (deps: ControllerDeps, id: string, signal: AbortSignal): Promise<SnapshotRecord | undefined> {
  if (!isSnapshotId(id)) return undefined
  const pins = await deps.store.pinsExactly(snapshotPinName(id), signal)
  return pins.length === 0 ? undefined : await readSnapshot(deps, pins[0] as NamedPin, signal)
}

export async function createSnapshot (deps: ControllerDeps, name: string, sourceVolumeId: string, signal: AbortSignal): Promise<SnapshotView> {
  if (name === '') throw invalid('snapshot name is required')
  if (sourceVolumeId === '') throw invalid('source_volume_id is required')
  // The id holds the CID, which we only know after reading the source: look the name up by its hash.
  const byName = (await deps.store.pinsNamed(`${PIN_PREFIX.snapshot}s-${nameHash(name)}-`, signal)).filter(p => p.name.startsWith(PIN_PREFIX.snapshot))
  if (byName.length > 0) {
    const existing = await readSnapshot(deps, byName[0] as NamedPin, signal)
    if (existing.sourceVolumeId !== sourceVolumeId) throw new CsiError(Code.ALREADY_EXISTS, `snapshot ${JSON.stringify(name)} already exists for volume ${existing.sourceVolumeId}`)
    return snapshotView(existing)
  }
  const content = await currentContent(deps.kubo, deps.store, sourceVolumeId, signal)
  const id = snapshotId(name, content.cid)
  const rec: SnapshotRecord = { v: 1, type: 'snapshot', id, name, createdAt: Date.now(), content: content.cid, sourceVolumeId, sizeBytes: content.size }
  // With a Cluster: replicated first (cluster default factor), record last, as for volumes.
  await deps.cluster?.replicate({ id, pinName: snapshotPinName(id), kind: 'snapshot', content: content.cid, sizeBytes: content.size, params: {} }, signal)
  await deps.store.write(rec, snapshotPinName(id), signal)
  deps.log.info('snapshot created', { snapshotId: id, sourceVolumeId, cid: content.cid.toString(), sizeBytes: content.size })
  return snapshotView(rec)
}

/** GetSnapshot: NOT_FOUND for ids that are not ours or no longer pinned. */
export async function getSnapshot (deps: ControllerDeps, id: string, signal: AbortSignal): Promise<SnapshotView> {
  if (id === '') throw invalid('snapshot_id is required')
  const rec = await findSnapshot(deps, id, signal)
  if (rec === undefined) throw new CsiError(Code.NOT_FOUND, `snapshot ${JSON.stringify(id)} does not exist`)
  return snapshotView(rec)
}

/** Unknown or malformed ids are already gone (CSI idempotency). */
export async function deleteSnapshot (deps: ControllerDeps, id: string, signal: AbortSignal): Promise<void> {
  if (id === '') throw invalid('snapshot_id is required')
  if (!isSnapshotId(id)) return
  await deps.cluster?.release(snapshotPinName(id), signal)
  for (const pin of await deps.store.pinsExactly(snapshotPinName(id), signal)) await deps.store.unpin(pin.cid, signal)
}

export interface ListSnapshotsInput {
  snapshotId: string
  sourceVolumeId: string
  maxEntries: number
  startingToken: string
}

export async function listSnapshots (deps: ControllerDeps, q: ListSnapshotsInput, signal: AbortSignal): Promise<{ entries: SnapshotView[], nextToken: string }> {
  let pins: NamedPin[]
  if (q.snapshotId !== '') {
    pins = isSnapshotId(q.snapshotId) ? await deps.store.pinsExactly(snapshotPinName(q.snapshotId), signal) : []
  } else {
    pins = (await deps.store.pinsNamed(PIN_PREFIX.snapshot, signal)).filter(p => p.name.startsWith(PIN_PREFIX.snapshot) && isSnapshotId(idOfPin(p)))
  }
  const unique = [...new Map(pins.map(p => [idOfPin(p), p])).values()]
  if (q.sourceVolumeId !== '') {
    // The source is only in the record: read them all, then page.
    const recs: SnapshotRecord[] = []
    for (const p of unique) {
      const rec = await readSnapshot(deps, p, signal).catch((err: unknown) => { deps.log.warn('unreadable snapshot record', { pin: p.name, error: (err as Error).message }); return undefined })
      if (rec !== undefined && rec.sourceVolumeId === q.sourceVolumeId) recs.push(rec)
    }
    const page = paginate(recs, r => r.id, q.startingToken, q.maxEntries)
    return { entries: page.items.map(snapshotView), nextToken: page.nextToken }
  }
  const page = paginate(unique, idOfPin, q.startingToken, q.maxEntries)
  const entries: SnapshotView[] = []
  for (const p of page.items) {
    const rec = await readSnapshot(deps, p, signal).catch((err: unknown) => { deps.log.warn('unreadable snapshot record', { pin: p.name, error: (err as Error).message }); return undefined })
    if (rec !== undefined) entries.push(snapshotView(rec))
  }
  return { entries, nextToken: page.nextToken }
}

/** The CID a snapshot names, for restoring it; unknown → NOT_FOUND. */
export async function snapshotContent (deps: ControllerDeps, id: string, signal: AbortSignal): Promise<SnapshotRecord> {
  const rec = await findSnapshot(deps, id, signal)
  if (rec === undefined) throw notFound(`snapshot ${JSON.stringify(id)} does not exist`)
  return rec
}
