// The CID a volume's data has right now (clones and snapshots start from it).
import type { Kubo } from '../driver/kubo.js'
import { notFound } from '../driver/errors.js'
import { looksLikeContentHandle, parseContentHandle } from '../driver/content-ref.js'
import { madeVolumeKind, mfsPathOf } from '../driver/volume-id.js'
import { findVolume, type RecordStore } from '../driver/record-store.js'
import { contentPath, mfsSnapshot, resolveContent, statContent, type ResolvedContent } from './content.js'

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
