// The model index: name → versions (immutable) and tags (movable), kept in Kubo.
//   ipfs-csi/api/model/<name>/<version>   the version record (dag-json), pinned recursively: it links
//                                          the model's root and every file, so the model stays local
//   ipfs-csi/api/model-tag/<name>/<tag>   a tag record {version, record link}, pinned direct
import * as dagJson from '@ipld/dag-json'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { CsiError, Code, invalid } from '../../driver/errors.js'
import type { Logger } from '../../driver/logger.js'
import { BlockFetcher } from '../../content/block-fetcher.js'
import { ContentTree } from '../../content/content-tree.js'
import { parseCid } from '../../driver/content-ref.js'
import type { NamedPin } from '../../driver/record-store.js'
import type { ApiRecords } from '../records.js'
import { parseMeta } from '../pins/pin-input.js'
import { walkManifest, type WalkLimits, DEFAULT_WALK_LIMITS } from './model-walk.js'

export const MODEL_PIN = 'ipfs-csi/api/model/'
export const TAG_PIN = 'ipfs-csi/api/model-tag/'
const MAX_RECORD_BYTES = 1024 * 1024

const NAME = /^[a-z0-9]([a-z0-9._-]{0,126}[a-z0-9])?$/
const VERSION = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,126})?$/

export function checkModelName (s: string): string {
  if (!NAME.test(s)) throw invalid(`model name ${JSON.stringify(s.slice(0, 64))} must be 1-128 lowercase letters, digits and ._- (starting and ending with a letter or digit)`)
  return s
}
export function checkVersion (s: string, what = 'version'): string {
  if (!VERSION.test(s)) throw invalid(`${what} ${JSON.stringify(s.slice(0, 64))} must be 1-128 letters, digits and ._- starting with a letter or digit`)
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

interface TagRecord { type: 'model-tag', name: string, tag: string, version: string, record: CID, at: string }

/** JSON view: CIDs as strings. */
export function versionView (m: ModelVersion, recordCid: CID): Record<string, unknown> {
  return { ...m, cid: m.cid.toString(), record: recordCid.toString(), files: m.files.map(f => ({ ...f, cid: f.cid.toString() })) }
}

async function encodeJson (o: unknown): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = dagJson.encode(o)
  return { cid: CID.create(1, dagJson.code, await sha256.digest(bytes)), bytes }
}

async function decodeJson<T> (bytes: Uint8Array, cid: CID): Promise<T> {
  const d = await sha256.digest(bytes)
  if (cid.code !== dagJson.code || !Buffer.from(d.bytes).equals(Buffer.from(cid.multihash.bytes))) throw new CsiError(Code.DATA_LOSS, `model record ${cid.toString()} does not match its hash`)
  return dagJson.decode(bytes) as T
}

export interface Page<T> { results: T[], next?: string }

export function pageOf<T> (sorted: Array<{ key: string, value: T }>, limit: number, after: string | undefined): Page<T> {
  const from = after === undefined ? 0 : sorted.findIndex(x => x.key > after)
  const slice = from < 0 ? [] : sorted.slice(from, from + limit)
  const page: Page<T> = { results: slice.map(x => x.value) }
  const last = slice[slice.length - 1]
  if (last !== undefined && from + limit < sorted.length) page.next = last.key
  return page
}

/** Read-only lookups of versions and tags: all the controller needs to resolve `model: name:tag`. */
export class ModelRecords {
  private readonly cache = new Map<string, ModelVersion>()

  constructor (readonly records: ApiRecords) {}

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

export class ModelIndex {
  private readonly tree: ContentTree
  private readonly fetcher: BlockFetcher
  readonly lookups: ModelRecords
  /** One write per model at a time in this replica (versions never change: first writer wins). */
  private readonly locks = new Map<string, Promise<unknown>>()

  constructor (private readonly d: { records: ApiRecords, log: Logger, timeoutMs: number, limits?: WalkLimits }) {
    this.fetcher = new BlockFetcher({ kubo: d.records.kubo, timeoutMs: d.timeoutMs, cacheBytes: 32 * 1024 * 1024, log: d.log })
    this.tree = new ContentTree({ fetcher: this.fetcher, log: d.log })
    this.lookups = new ModelRecords(d.records)
  }

  close (): void { this.fetcher.close() }

  private async locked<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve()
    const p = prev.catch(() => {}).then(fn)
    this.locks.set(key, p)
    try { return await p } finally { if (this.locks.get(key) === p) this.locks.delete(key) }
  }

  async putVersion (name: string, version: string, body: unknown, signal: AbortSignal): Promise<{ created: boolean, view: Record<string, unknown> }> {
    checkModelName(name); checkVersion(version)
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('the body must be {"cid": CID, "annotations"?: {...}, "tags"?: [...]}')
    const b = body as Record<string, unknown>
    for (const k of Object.keys(b)) if (!['cid', 'annotations', 'tags'].includes(k)) throw invalid(`unknown field ${JSON.stringify(k.slice(0, 64))}`)
    if (typeof b.cid !== 'string') throw invalid('cid is required')
    const cid = parseCid(b.cid, 'cid')
    const annotations = b.annotations === undefined ? {} : parseMeta(b.annotations, 'annotations')
    if (b.tags !== undefined && (!Array.isArray(b.tags) || b.tags.length > 16 || !b.tags.every(t => typeof t === 'string'))) throw invalid('tags must be a list of at most 16 tags')
    const tags = ((b.tags ?? []) as string[]).map(t => checkVersion(t, 'tag'))
    return await this.locked(name, async () => {
      const existing = await this.lookups.getVersion(name, version, signal)
      if (existing !== undefined) {
        if (!existing.m.cid.equals(cid)) throw new CsiError(Code.ALREADY_EXISTS, `${name} version ${version} already exists with ${existing.m.cid.toString()}; versions never change`)
        for (const t of tags) await this.setTagLocked(name, t, version, signal)
        return { created: false, view: versionView(existing.m, existing.record) }
      }
      const manifest = await walkManifest(this.tree, cid, signal, this.d.limits ?? DEFAULT_WALK_LIMITS)
      const m: ModelVersion = { name, version, cid, totalSize: manifest.totalSize, files: manifest.files, createdAt: new Date().toISOString(), annotations }
      const block = await encodeJson({ type: 'model-version', ...m })
      if (block.bytes.length > MAX_RECORD_BYTES) throw invalid(`the manifest of ${manifest.files.length} files is larger than ${MAX_RECORD_BYTES} bytes`)
      await this.d.records.put(block, signal)
      // Recursive: the record links the root and every file, so pinning it keeps the model local.
      await this.d.records.kubo.post('pin/add', { arg: block.cid.toString(), recursive: true, name: `${MODEL_PIN}${name}/${version}` }, signal)
      this.d.log.info('model version indexed', { name, version, cid: cid.toString(), files: m.files.length, totalSize: m.totalSize })
      for (const t of tags) await this.setTagLocked(name, t, version, signal)
      return { created: true, view: versionView(m, block.cid) }
    })
  }

  async setTag (name: string, tag: string, version: string, signal: AbortSignal): Promise<Record<string, unknown>> {
    checkModelName(name); checkVersion(tag, 'tag'); checkVersion(version)
    return await this.locked(name, async () => await this.setTagLocked(name, tag, version, signal))
  }

  /** Moves `tag` to `version`: the new tag record is pinned before the old one is dropped. */
  private async setTagLocked (name: string, tag: string, version: string, signal: AbortSignal): Promise<Record<string, unknown>> {
    const v = await this.lookups.getVersion(name, version, signal)
    if (v === undefined) throw new CsiError(Code.NOT_FOUND, `${name} has no version ${version}`)
    const old = await this.lookups.tagPins(name, tag, signal)
    const rec: TagRecord = { type: 'model-tag', name, tag, version, record: v.record, at: new Date().toISOString() }
    const block = await encodeJson(rec)
    if (!old.some(p => p.cid.equals(block.cid))) await this.d.records.putDirect(block, `${TAG_PIN}${name}/${tag}`, signal)
    for (const p of old) if (!p.cid.equals(block.cid)) await this.d.records.store.unpin(p.cid, signal)
    return { name, tag, version }
  }

  async listModels (limit: number, after: string | undefined, signal: AbortSignal): Promise<Page<{ name: string, versions: number }>> {
    const counts = new Map<string, number>()
    for (const p of await this.d.records.store.pinsNamed(MODEL_PIN, signal)) {
      if (!p.name.startsWith(MODEL_PIN)) continue
      const [name] = p.name.slice(MODEL_PIN.length).split('/')
      if (name !== undefined && NAME.test(name)) counts.set(name, (counts.get(name) ?? 0) + 1)
    }
    const sorted = [...counts].sort(([a], [b]) => a < b ? -1 : 1).map(([name, versions]) => ({ key: name, value: { name, versions } }))
    return pageOf(sorted, limit, after)
  }

  async describe (name: string, limit: number, after: string | undefined, signal: AbortSignal): Promise<{ name: string, tags: Record<string, string>, versions: Page<Record<string, unknown>> } | undefined> {
    checkModelName(name)
    const pins = await this.lookups.versionPins(name, undefined, signal)
    if (pins.length === 0) return undefined
    const byVersion = new Map<string, NamedPin>()
    for (const p of pins) { const v = p.name.slice(`${MODEL_PIN}${name}/`.length); if (VERSION.test(v) && !byVersion.has(v)) byVersion.set(v, p) }
    const sorted = [...byVersion.keys()].sort().map(v => ({ key: v, value: v }))
    const page = pageOf(sorted, limit, after)
    const versions = await Promise.all(page.results.map(async (v) => {
      const p = byVersion.get(v) as NamedPin
      const m = await this.lookups.read(p.cid, signal)
      return { version: v, cid: m.cid.toString(), totalSize: m.totalSize, files: m.files.length, createdAt: m.createdAt, record: p.cid.toString() }
    }))
    const tags: Record<string, string> = {}
    for (const p of await this.lookups.tagPins(name, undefined, signal)) {
      const t = await this.lookups.readTag(p.cid, signal)
      tags[t.tag] = t.version
    }
    return { name, tags, versions: { results: versions, ...(page.next !== undefined ? { next: page.next } : {}) } }
  }
}

