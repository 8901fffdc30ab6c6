// One pin request, as stored: a dag-cbor block in Kubo that *links* the requested CID. Pinning
// the record recursively pins the content; two requests for one CID are two records, so removing
// one never unpins what the other still needs (Kubo keeps one pin per CID).
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { CsiError, Code } from '../../driver/errors.js'

export interface PinRequestRecord {
  v: 1
  type: 'pin-request'
  /** The requestid (a UUID). */
  id: string
  /** Kubernetes namespace of the identity that made it: the only one that sees it. */
  owner: string
  /** The content, as a link (so a recursive pin of the record pins it). */
  cid: CID
  /** The CID string exactly as the client sent it, echoed back in Pin.cid. */
  cidText: string
  name?: string
  origins: string[]
  meta: Record<string, string>
  /** Milliseconds since the epoch; unique per request (pagination uses it). */
  created: number
  /** requestid this one replaces, and that request's root: it stays pinned until this one is. */
  replaces?: string
  replacesRoot?: CID
}

export interface FailureRecord {
  v: 1
  type: 'pin-failure'
  id: string
  reason: string
  at: number
}

export interface Encoded { cid: CID, bytes: Uint8Array }

export async function encodeBlock (o: object): Promise<Encoded> {
  const clean: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) clean[k] = v
  const bytes = dagCbor.encode(clean)
  return { cid: CID.create(1, dagCbor.code, await sha256.digest(bytes)), bytes }
}

const bad = (why: string): CsiError => new CsiError(Code.DATA_LOSS, `pin record is malformed: ${why}`)
const isStr = (x: unknown): x is string => typeof x === 'string'

/** Decodes a record read back from Kubo, checking its hash against `expect`. */
export async function decodePinRecord (bytes: Uint8Array, expect: CID): Promise<PinRequestRecord | FailureRecord> {
  const digest = await sha256.digest(bytes)
  if (expect.code !== dagCbor.code || expect.multihash.code !== sha256.code || Buffer.compare(Buffer.from(digest.bytes), Buffer.from(expect.multihash.bytes)) !== 0) {
    throw new CsiError(Code.DATA_LOSS, `record ${expect.toString()} does not match its hash`)
  }
  let o: Record<string, unknown>
  try { o = dagCbor.decode(bytes) } catch (err) { throw bad((err as Error).message) }
  if (o === null || typeof o !== 'object' || o.v !== 1 || !isStr(o.id)) throw bad('no version or id')
  if (o.type === 'pin-failure') {
    if (!isStr(o.reason) || typeof o.at !== 'number') throw bad('failure without reason')
    return { v: 1, type: 'pin-failure', id: o.id, reason: o.reason, at: o.at }
  }
  if (o.type !== 'pin-request') throw bad('unknown type')
  const cid = CID.asCID(o.cid)
  if (cid == null || !isStr(o.owner) || !isStr(o.cidText) || typeof o.created !== 'number') throw bad('missing cid, owner or created')
  if (!Array.isArray(o.origins) || !o.origins.every(isStr)) throw bad('origins')
  const meta = o.meta as Record<string, unknown>
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta) || !Object.values(meta).every(isStr)) throw bad('meta')
  const rec: PinRequestRecord = { v: 1, type: 'pin-request', id: o.id, owner: o.owner, cid, cidText: o.cidText, origins: o.origins, meta: meta as Record<string, string>, created: o.created }
  if (isStr(o.name)) rec.name = o.name
  if (isStr(o.replaces)) rec.replaces = o.replaces
  const old = CID.asCID(o.replacesRoot)
  if (old != null) rec.replacesRoot = old
  return rec
}
