// The durable index of pin requests, kept in Kubo like the controller's records (no local state,
// shared by every API replica). Per request, under the owner's namespace:
//   ipfs-csi/api/pin/<ns>/<id>          the request record, pinned *direct* (its content link is not followed)
//   ipfs-csi/api/pinned/<ns>/<id>       the request's root {id, content}, pinned recursively once fetched (Kubo backend)
//   ipfs-csi/api/pin-failed/<ns>/<id>   a failure record, pinned direct, when fetching failed
import { LRUCache } from 'lru-cache'
import type { CID } from 'multiformats/cid'
import type { Kubo } from '../../driver/kubo.js'
import type { RecordStore, NamedPin } from '../../driver/record-store.js'
import { RecordBlocks } from '../../driver/record-blocks.js'
import { decodePinRecord, encodeBlock, type Encoded, type FailureRecord, type PinRequestRecord } from './pin-record.js'

export const PIN_NAMES = {
  request: 'ipfs-csi/api/pin/',
  pinned: 'ipfs-csi/api/pinned/',
  failed: 'ipfs-csi/api/pin-failed/'
} as const

export const pinName = (kind: keyof typeof PIN_NAMES, owner: string, id: string): string => `${PIN_NAMES[kind]}${owner}/${id}`

/** What the index knows about one request. */
export interface PinEntry {
  record: PinRequestRecord
  recordCid: CID
  /** Set once the content is pinned recursively in Kubo (the Kubo backend's "pinned"). */
  pinnedRoot?: CID
  failure?: FailureRecord
  failureCid?: CID
}

/** The block pinned recursively for a request: distinct per request, linking the content. */
export async function rootBlock (rec: Pick<PinRequestRecord, 'id' | 'cid'>): Promise<Encoded> {
  return await encodeBlock({ v: 1, type: 'pin-root', id: rec.id, content: rec.cid })
}

function parseName (p: NamedPin, kind: keyof typeof PIN_NAMES): { owner: string, id: string } | undefined {
  if (!p.name.startsWith(PIN_NAMES[kind])) return undefined
  const rest = p.name.slice(PIN_NAMES[kind].length).split('/')
  if (rest.length !== 2 || rest[0] === '' || rest[1] === '') return undefined
  return { owner: rest[0] as string, id: rest[1] as string }
}

export class PinIndex {
  readonly store: RecordStore
  readonly records: RecordBlocks
  // Records never change (content-addressed): decoded ones are cached.
  private readonly cache = new LRUCache<string, PinRequestRecord | FailureRecord>({ max: 20_000 })

  constructor (readonly kubo: Kubo) {
    this.records = new RecordBlocks(kubo)
    this.store = this.records.store
  }

  async put (block: Encoded, signal: AbortSignal): Promise<void> { await this.records.put(block, signal) }

  async read (cid: CID, signal: AbortSignal): Promise<PinRequestRecord | FailureRecord> {
    const key = cid.toString()
    const hit = this.cache.get(key)
    if (hit !== undefined) return hit
    const rec = await decodePinRecord(await this.records.get(cid, signal), cid)
    this.cache.set(key, rec)
    return rec
  }

  async register (rec: PinRequestRecord, signal: AbortSignal): Promise<PinEntry> {
    const block = await encodeBlock(rec)
    this.cache.set(block.cid.toString(), rec)
    await this.records.putDirect(block, pinName('request', rec.owner, rec.id), signal)
    return { record: rec, recordCid: block.cid }
  }

  async markFailed (rec: PinRequestRecord, reason: string, signal: AbortSignal): Promise<void> {
    await this.records.putDirect(await encodeBlock({ v: 1, type: 'pin-failure', id: rec.id, reason: reason.slice(0, 1024), at: Date.now() }), pinName('failed', rec.owner, rec.id), signal)
  }

  /**
   * Every request of `owner` (every owner when undefined), with its Kubo pin state. Two pin
   * listings whatever the number of requests; records are read once and cached.
   */
  async entries (owner: string | undefined, signal: AbortSignal): Promise<PinEntry[]> {
    const [direct, recursive] = await Promise.all([
      // One listing covers request and failure records (`pin/` and `pin-failed/`).
      this.store.pinsNamed('ipfs-csi/api/pin', signal, 'direct'),
      this.store.pinsNamed(owner === undefined ? PIN_NAMES.pinned : pinName('pinned', owner, ''), signal, 'recursive')
    ])
    const mine = (x: { owner: string } | undefined): x is { owner: string, id: string } => x !== undefined && (owner === undefined || x.owner === owner)
    const pinned = new Map<string, CID>()
    for (const p of recursive) { const n = parseName(p, 'pinned'); if (mine(n)) pinned.set(`${n.owner}/${n.id}`, p.cid) }
    const failed = new Map<string, CID>()
    const requests: Array<{ key: string, cid: CID }> = []
    for (const p of direct) {
      const r = parseName(p, 'request')
      if (mine(r)) { requests.push({ key: `${r.owner}/${r.id}`, cid: p.cid }); continue }
      const f = parseName(p, 'failed')
      if (mine(f)) failed.set(`${f.owner}/${f.id}`, p.cid)
    }
    const out: PinEntry[] = []
    // Bounded parallel reads: a first listing of many requests must not open thousands of sockets.
    for (let i = 0; i < requests.length; i += 32) {
      const batch = await Promise.all(requests.slice(i, i + 32).map(async ({ key, cid }) => {
        const rec = await this.read(cid, signal)
        if (rec.type !== 'pin-request' || `${rec.owner}/${rec.id}` !== key) return undefined
        const e: PinEntry = { record: rec, recordCid: cid }
        const root = pinned.get(key)
        if (root !== undefined) e.pinnedRoot = root
        const fcid = failed.get(key)
        if (fcid !== undefined) {
          const f = await this.read(fcid, signal)
          if (f.type === 'pin-failure') { e.failure = f; e.failureCid = fcid }
        }
        return e
      }))
      for (const e of batch) if (e !== undefined) out.push(e)
    }
    return out
  }

  /** One request of `owner`, or undefined (also when it belongs to another namespace). */
  async entry (owner: string, id: string, signal: AbortSignal): Promise<PinEntry | undefined> {
    const exact = async (kind: keyof typeof PIN_NAMES, type: 'direct' | 'recursive'): Promise<NamedPin[]> => {
      const name = pinName(kind, owner, id)
      return (await this.store.pinsNamed(name, signal, type)).filter(p => p.name === name)
    }
    const [reqs, roots, fails] = await Promise.all([exact('request', 'direct'), exact('pinned', 'recursive'), exact('failed', 'direct')])
    const req = reqs[0]
    if (req === undefined) return undefined
    const rec = await this.read(req.cid, signal)
    if (rec.type !== 'pin-request' || rec.owner !== owner || rec.id !== id) return undefined
    const e: PinEntry = { record: rec, recordCid: req.cid }
    if (roots[0] !== undefined) e.pinnedRoot = roots[0].cid
    if (fails[0] !== undefined) {
      const f = await this.read(fails[0].cid, signal)
      if (f.type === 'pin-failure') { e.failure = f; e.failureCid = fails[0].cid }
    }
    return e
  }

  /** Drops the request record and its failure record (the backend drops the content pin). */
  async unregister (e: PinEntry, signal: AbortSignal): Promise<void> {
    if (e.failureCid !== undefined) await this.store.unpin(e.failureCid, signal)
    await this.store.unpin(e.recordCid, signal)
  }
}
