// The controller's only persistent data: one small dag-cbor record per volume or snapshot,
// stored as a Kubo block and pinned recursively under the object's pin name. A record links
// the content it needs, so the pin keeps that content local for as long as the object exists.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { CsiError, Code } from './errors.js'
import type { VolumeKind } from './volume-id.js'

export interface VolumeSource {
  snapshot?: string
  volume?: string
}

export interface VolumeRecord {
  v: 1
  type: 'volume'
  kind: VolumeKind
  id: string
  /** The CO's request name (the id is derived from it). */
  name: string
  /** Milliseconds since the epoch. */
  createdAt: number
  capacityBytes: number
  /** Content volumes: size of the content; writable: size of the seed (0 when empty). */
  sizeBytes: number
  /** Content volumes: the CID served, fixed for the volume's life (path and IPNS already resolved). */
  content?: CID
  /** Writable volumes seeded from a cid/ipns parameter: the seed, pinned so it stays local. */
  seed?: CID
  /** Non-secret StorageClass parameters as given (provisioner keys dropped). */
  params: Record<string, string>
  source?: VolumeSource
}

export interface SnapshotRecord {
  v: 1
  type: 'snapshot'
  id: string
  name: string
  createdAt: number
  /** The snapshot's content. */
  content: CID
  sourceVolumeId: string
  sizeBytes: number
}

export type AnyRecord = VolumeRecord | SnapshotRecord

export interface EncodedRecord {
  cid: CID
  bytes: Uint8Array
}

/** Drops undefined fields (dag-cbor refuses them). */
function clean (o: object): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v
  return out
}

export async function encodeRecord (rec: AnyRecord): Promise<EncodedRecord> {
  const body = rec.type === 'volume' && rec.source !== undefined ? { ...rec, source: clean(rec.source) } : rec
  const bytes = dagCbor.encode(clean(body))
  const cid = CID.create(1, dagCbor.code, await sha256.digest(bytes))
  return { cid, bytes }
}

const bad = (why: string): CsiError => new CsiError(Code.DATA_LOSS, `record is malformed: ${why}`)
const isStr = (x: unknown): x is string => typeof x === 'string'
const isNat = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0

function strMap (x: unknown): Record<string, string> {
  if (x === undefined) return {}
  if (x === null || typeof x !== 'object' || Array.isArray(x)) throw bad('params is not a map')
  for (const v of Object.values(x)) if (!isStr(v)) throw bad('params has a non-string value')
  return x as Record<string, string>
}

function cidOrUndefined (x: unknown, what: string): CID | undefined {
  if (x === undefined) return undefined
  const c = CID.asCID(x)
  if (c == null) throw bad(`${what} is not a CID link`)
  return c
}

/** Decodes and checks a record; `expectCid` (when given) must be the hash of `bytes`. */
export async function decodeRecord (bytes: Uint8Array, expectCid?: CID): Promise<AnyRecord> {
  if (expectCid !== undefined) {
    if (expectCid.code !== dagCbor.code) throw bad(`${expectCid.toString()} is not dag-cbor`)
    const digest = await sha256.digest(bytes)
    if (expectCid.multihash.code !== sha256.code || !equalBytes(digest.bytes, expectCid.multihash.bytes)) throw new CsiError(Code.DATA_LOSS, `record ${expectCid.toString()} does not match its hash`)
  }
  let o: Record<string, unknown>
  try {
    o = dagCbor.decode(bytes)
  } catch (err) {
    throw bad((err as Error).message)
  }
  if (o === null || typeof o !== 'object' || o.v !== 1) throw bad('unknown version')
  if (!isStr(o.id) || !isStr(o.name) || !isNat(o.createdAt) || !isNat(o.sizeBytes)) throw bad('missing id, name, createdAt or sizeBytes')
  if (o.type === 'volume') {
    if (o.kind !== 'content' && o.kind !== 'writable') throw bad('kind')
    if (!isNat(o.capacityBytes)) throw bad('capacityBytes')
    const content = cidOrUndefined(o.content, 'content')
    const seed = cidOrUndefined(o.seed, 'seed')
    if (o.kind === 'content' && content === undefined) throw bad('content volume without content')
    let source: VolumeSource | undefined
    if (o.source !== undefined) {
      const s = o.source as Record<string, unknown>
      if (s === null || typeof s !== 'object' || (s.snapshot !== undefined && !isStr(s.snapshot)) || (s.volume !== undefined && !isStr(s.volume))) throw bad('source')
      source = clean({ snapshot: s.snapshot, volume: s.volume }) as VolumeSource
    }
    const rec: VolumeRecord = { v: 1, type: 'volume', kind: o.kind, id: o.id, name: o.name, createdAt: o.createdAt, capacityBytes: o.capacityBytes, sizeBytes: o.sizeBytes, params: strMap(o.params) }
    if (content !== undefined) rec.content = content
    if (seed !== undefined) rec.seed = seed
    if (source !== undefined) rec.source = source
    return rec
  }
  if (o.type === 'snapshot') {
    const content = cidOrUndefined(o.content, 'content')
    if (content === undefined || !isStr(o.sourceVolumeId)) throw bad('snapshot without content or source')
    return { v: 1, type: 'snapshot', id: o.id, name: o.name, createdAt: o.createdAt, content, sourceVolumeId: o.sourceVolumeId, sizeBytes: o.sizeBytes }
  }
  throw bad('unknown type')
}

function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
