// Finding a volume from its id alone: its record (pinned under the volume's pin name) and, for
// clones and snapshots, the CID its data has right now.
import type { Kubo } from '../driver/kubo.js'
import { CsiError, Code, notFound } from '../driver/errors.js'
import { looksLikeContentHandle, parseContentHandle } from '../driver/content-ref.js'
import { madeVolumeKind, mfsPathOf, volumePinName } from '../driver/volume-id.js'
import type { RecordStore, NamedPin } from './record-store.js'
import type { VolumeRecord } from './records.js'
import { contentPath, mfsSnapshot, resolveContent, statContent, type ResolvedContent } from './content.js'

export interface FoundVolume {
  record: VolumeRecord
  /** Every pin of this volume (normally one). */
  pins: NamedPin[]
}

/** Reads the records behind `pins` and keeps the latest one (expansion only grows capacity). */
export async function newestVolumeRecord (store: RecordStore, pins: NamedPin[], id: string, signal: AbortSignal): Promise<VolumeRecord | undefined> {
  let best: VolumeRecord | undefined
  for (const p of pins) {
    const rec = await store.read(p.cid, signal)
    if (rec.type !== 'volume' || rec.id !== id) throw new CsiError(Code.DATA_LOSS, `pin ${p.name} holds a record for ${rec.id}`)
    if (best === undefined || rec.capacityBytes > best.capacityBytes) best = rec
  }
  return best
}

/** The volume made by CreateVolume with this id, or undefined (also for ids that are not ours). */
export async function findVolume (store: RecordStore, id: string, signal: AbortSignal): Promise<FoundVolume | undefined> {
  if (madeVolumeKind(id) === undefined) return undefined
  const pins = await store.pinsExactly(volumePinName(id), signal)
  if (pins.length === 0) return undefined
  const record = await newestVolumeRecord(store, pins, id, signal)
  return record === undefined ? undefined : { record, pins }
}

/**
 * The content a volume holds now: a content volume's fixed CID, a writable volume's MFS root
 * (flushed), or a static handle's resolved CID. Unknown volume → NOT_FOUND.
 */
export async function currentContent (kubo: Kubo, store: RecordStore, volumeId: string, signal: AbortSignal): Promise<ResolvedContent> {
  if (madeVolumeKind(volumeId) !== undefined) {
    const found = await findVolume(store, volumeId, signal)
    if (found === undefined) throw notFound(`volume ${volumeId} does not exist`)
    const rec = found.record
    if (rec.kind === 'content' && rec.content !== undefined) return await statContent(kubo, rec.content, signal)
    return await mfsSnapshot(kubo, mfsPathOf(volumeId), signal)
  }
  if (looksLikeContentHandle(volumeId)) {
    let ref
    try { ref = parseContentHandle(volumeId) } catch { throw notFound(`volume ${volumeId} does not exist`) }
    return await resolveContent(kubo, contentPath(`/ipfs/${ref.cid.toString()}`, ref.path), signal)
  }
  throw notFound(`volume ${JSON.stringify(volumeId)} does not exist`)
}
