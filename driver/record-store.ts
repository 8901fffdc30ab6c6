// Records in Kubo: put as a dag-cbor block, pinned recursively under a name that carries the
// object's id (`pin add --name`), found again with `pin ls --names --name <substring>`.
import { CID } from 'multiformats/cid'
import { LRUCache } from 'lru-cache'
import type { Kubo } from './kubo.js'
import { CsiError, Code, toCsiError } from './errors.js'
import { decodeRecord, encodeRecord, type AnyRecord, type VolumeRecord } from './volume-records.js'
import { madeVolumeKind, volumePinName } from './volume-id.js'

/** Pinning fetches content that may not be local yet: allow long, still bounded by the RPC's signal. */
export const PIN_TIMEOUT_MS = 10 * 60_000
/** Cleanup after a failure runs on its own short deadline: the RPC's signal may already be aborted. */
const CLEANUP_TIMEOUT_MS = 15_000

export interface NamedPin {
  cid: CID
  name: string
}

export class RecordStore {
  // Records are immutable (addressed by hash): caching decoded ones is safe and saves List calls.
  private readonly cache = new LRUCache<string, AnyRecord>({ max: 4096 })

  constructor (private readonly kubo: Kubo) {}

  /** Recursive (or direct) pins whose name contains `substring` (Kubo filters by substring). */
  async pinsNamed (substring: string, signal: AbortSignal, type: 'recursive' | 'direct' = 'recursive'): Promise<NamedPin[]> {
    const res = await this.kubo.postJson<{ Keys?: Record<string, { Type: string, Name?: string }> }>('pin/ls', { type, names: true, name: substring }, signal)
    const out: NamedPin[] = []
    for (const [key, v] of Object.entries(res?.Keys ?? {})) {
      if (v.Name === undefined || !v.Name.includes(substring)) continue
      try { out.push({ cid: CID.parse(key), name: v.Name }) } catch {}
    }
    return out
  }

  /** Pins named exactly `name`. More than one only after an interrupted re-pin (expansion). */
  async pinsExactly (name: string, signal: AbortSignal): Promise<NamedPin[]> {
    return (await this.pinsNamed(name, signal)).filter(p => p.name === name)
  }

  async read (cid: CID, signal: AbortSignal): Promise<AnyRecord> {
    const key = cid.toString()
    const hit = this.cache.get(key)
    if (hit !== undefined) return hit
    const bytes = await this.kubo.post('block/get', { arg: key }, signal)
    const rec = await decodeRecord(bytes, cid)
    this.cache.set(key, rec)
    return rec
  }

  /**
   * Stores `rec` and pins it (and everything it links) under `pinName`. The pin is the commit
   * point: when this throws, no pin was left behind.
   */
  async write (rec: AnyRecord, pinName: string, signal: AbortSignal): Promise<CID> {
    const { cid, bytes } = await encodeRecord(rec)
    const put = await this.kubo.post('block/put', { 'cid-codec': 'dag-cbor', mhtype: 'sha2-256', pin: false }, signal, undefined, { data: bytes, name: 'record' })
    const key = JSON.parse(new TextDecoder().decode(put)).Key as string
    if (CID.parse(key).toString() !== cid.toString()) throw new CsiError(Code.INTERNAL, `Kubo stored the record as ${key}, expected ${cid.toString()}`)
    try {
      await this.kubo.post('pin/add', { arg: cid.toString(), recursive: true, name: pinName }, signal, PIN_TIMEOUT_MS)
    } catch (err) {
      // An aborted request may still have completed inside Kubo: make sure no pin survives.
      await this.unpin(cid, AbortSignal.timeout(CLEANUP_TIMEOUT_MS)).catch(() => {})
      const e = toCsiError(err)
      throw new CsiError(e.code, `pinning ${pinName} (and the content it links) failed: ${e.message}`, { cause: err })
    }
    this.cache.set(cid.toString(), rec)
    return cid
  }

  /** Removes a pin; "not pinned" counts as done. */
  async unpin (cid: CID, signal: AbortSignal): Promise<void> {
    try {
      await this.kubo.post('pin/rm', { arg: cid.toString(), recursive: true }, signal)
    } catch (err) {
      if (err instanceof CsiError && err.reason === 'not-pinned') return
      throw err
    }
  }
}

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
