// The model index's read side: name → versions (immutable) and tags (movable), as records in Kubo.
//   ipfs-csi/api/model/<name>/<version>   the version record (dag-json), pinned recursively: it links
//                                          the model's root and every file, so the model stays local
//   ipfs-csi/api/model-tag/<name>/<tag>   a tag record {version, record link}, pinned direct
// What the controller and the node need to resolve `model: name[:tag]`; writing (api/models/
// model-index.ts) builds on it.
import * as dagJson from '@ipld/dag-json'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { CsiError, Code, invalid } from './errors.js'
import type { NamedPin } from './record-store.js'
import type { RecordBlocks } from './record-blocks.js'

export const MODEL_PIN = 'ipfs-csi/api/model/'
export const TAG_PIN = 'ipfs-csi/api/model-tag/'

export const MODEL_NAME = /^[a-z0-9]([a-z0-9._-]{0,126}[a-z0-9])?$/
export const MODEL_VERSION = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,126})?$/

export function checkModelName (s: string): string {
  if (!MODEL_NAME.test(s)) throw invalid(`model name ${JSON.stringify(s.slice(0, 64))} must be 1-128 lowercase letters, digits and ._- (starting and ending with a letter or digit)`)
  return s
}
export function checkVersion (s: string, what = 'version'): string {
  if (!MODEL_VERSION.test(s)) throw invalid(`${what} ${JSON.stringify(s.slice(0, 64))} must be 1-128 letters, digits and ._- starting with a letter or digit`)
  return s
}

export interface ModelVersion {
  name: string
  version: string
  cid: CID
  totalSize: number
  files: Array<{ path: string, size: number, cid: CID, sha256: string }>
  createdAt: string
  annotations: Record<string, string>
}

export interface TagRecord { type: 'model-tag', name: string, tag: string, version: string, record: CID, at: string }

/** Decodes a dag-json record, refusing bytes that do not match its CID. */
export async function decodeJson<T> (bytes: Uint8Array, cid: CID): Promise<T> {
  const d = await sha256.digest(bytes)
  if (cid.code !== dagJson.code || !Buffer.from(d.bytes).equals(Buffer.from(cid.multihash.bytes))) throw new CsiError(Code.DATA_LOSS, `model record ${cid.toString()} does not match its hash`)
  return dagJson.decode(bytes) as T
}

/** Read-only lookups of versions and tags: all the controller needs to resolve `model: name:tag`. */
export class ModelRecords {
  private readonly cache = new Map<string, ModelVersion>()

  constructor (readonly records: RecordBlocks) {}

  async read (cid: CID, signal: AbortSignal): Promise<ModelVersion> {
    const hit = this.cache.get(cid.toString())
    if (hit !== undefined) return hit
    const rec = await decodeJson<ModelVersion & { type?: string }>(await this.records.get(cid, signal), cid)
    if (rec.type !== 'model-version' || typeof rec.name !== 'string' || CID.asCID(rec.cid) == null) throw new CsiError(Code.DATA_LOSS, `model record ${cid.toString()} is malformed`)
    const { type: _t, ...m } = rec
    if (this.cache.size > 1000) this.cache.clear()
    this.cache.set(cid.toString(), m)
    return m
  }

  async versionPins (name: string, version: string | undefined, signal: AbortSignal): Promise<NamedPin[]> {
    const prefix = `${MODEL_PIN}${name}/`
    const pins = await this.records.store.pinsNamed(version === undefined ? prefix : prefix + version, signal)
    return pins.filter(p => p.name.startsWith(prefix) && (version === undefined || p.name === prefix + version))
  }

  async tagPins (name: string, tag: string | undefined, signal: AbortSignal): Promise<NamedPin[]> {
    const prefix = `${TAG_PIN}${name}/`
    return (await this.records.store.pinsNamed(tag === undefined ? prefix : prefix + tag, signal, 'direct')).filter(p => p.name.startsWith(prefix) && (tag === undefined || p.name === prefix + tag))
  }

  async readTag (cid: CID, signal: AbortSignal): Promise<TagRecord> {
    return await decodeJson<TagRecord>(await this.records.get(cid, signal), cid)
  }

  /** The version's record; with two (a race between replicas) the first one written wins. */
  async getVersion (name: string, version: string, signal: AbortSignal): Promise<{ m: ModelVersion, record: CID } | undefined> {
    checkModelName(name); checkVersion(version)
    const found = await Promise.all((await this.versionPins(name, version, signal)).map(async p => ({ m: await this.read(p.cid, signal), record: p.cid })))
    found.sort((a, b) => a.m.createdAt.localeCompare(b.m.createdAt) || a.record.toString().localeCompare(b.record.toString()))
    return found[0]
  }

  /** The version a tag points at now. */
  async getTag (name: string, tag: string, signal: AbortSignal): Promise<{ m: ModelVersion, record: CID } | undefined> {
    checkModelName(name); checkVersion(tag, 'tag')
    const recs = await Promise.all((await this.tagPins(name, tag, signal)).map(async p => await this.readTag(p.cid, signal)))
    // While a tag moves, two records may exist for an instant: the newest wins.
    recs.sort((a, b) => b.at.localeCompare(a.at))
    const t = recs[0]
    if (t === undefined) return undefined
    const record = CID.asCID(t.record)
    if (record == null) throw new CsiError(Code.DATA_LOSS, `tag ${name}:${tag} is malformed`)
    return { m: await this.read(record, signal), record }
  }

  /** `name:ref` where ref is a tag or a version (a tag wins when both exist). */
  async resolve (name: string, ref: string, signal: AbortSignal): Promise<{ m: ModelVersion, record: CID } | undefined> {
    return await this.getTag(name, ref, signal) ?? await this.getVersion(name, ref, signal)
  }
}

/** `name[:ref]` as a StorageClass or volume attribute writes it (ref defaults to `latest`). */
export function parseModelRef (s: string): { name: string, ref: string } {
  const i = s.indexOf(':')
  const name = i < 0 ? s : s.slice(0, i)
  const ref = i < 0 ? 'latest' : s.slice(i + 1)
  return { name: checkModelName(name), ref: checkVersion(ref, 'model tag or version') }
}
