// The model index's write side and listings: indexing a version (its manifest walked through the
// verified reader), moving tags, listing models. The records and their read side (lookups that
// resolve `model: name[:tag]`) are driver/model-records.ts.
import * as dagJson from '@ipld/dag-json'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { CsiError, Code, invalid } from '../../driver/errors.js'
import type { Logger } from '../../driver/logger.js'
import { BlockFetcher } from '../../content/block-fetcher.js'
import { ContentTree } from '../../content/content-tree.js'
import { parseCid } from '../../driver/content-ref.js'
import type { NamedPin } from '../../driver/record-store.js'
import { checkModelName, checkVersion, ModelRecords, MODEL_NAME, MODEL_PIN, MODEL_VERSION, TAG_PIN, type ModelVersion, type TagRecord } from '../../driver/model-records.js'
import type { RecordBlocks } from '../../driver/record-blocks.js'
import { parseMeta } from '../pins/pin-input.js'
import { walkManifest, type WalkLimits, DEFAULT_WALK_LIMITS } from './model-walk.js'

/** JSON view: CIDs as strings. */
export function versionView (m: ModelVersion, recordCid: CID): Record<string, unknown> {
  return { ...m, cid: m.cid.toString(), record: recordCid.toString(), files: m.files.map(f => ({ ...f, cid: f.cid.toString() })) }
}

async function encodeJson (o: unknown): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = dagJson.encode(o)
  return { cid: CID.create(1, dagJson.code, await sha256.digest(bytes)), bytes }
}

const MAX_RECORD_BYTES = 1024 * 1024

export interface Page<T> { results: T[], next?: string }

export function pageOf<T> (sorted: Array<{ key: string, value: T }>, limit: number, after: string | undefined): Page<T> {
  const from = after === undefined ? 0 : sorted.findIndex(x => x.key > after)
  const slice = from < 0 ? [] : sorted.slice(from, from + limit)
  const page: Page<T> = { results: slice.map(x => x.value) }
  const last = slice[slice.length - 1]
  if (last !== undefined && from + limit < sorted.length) page.next = last.key
  return page
}

export class ModelIndex {
  private readonly tree: ContentTree
  private readonly fetcher: BlockFetcher
  readonly lookups: ModelRecords
  /** One write per model at a time in this replica (versions never change: first writer wins). */
  private readonly locks = new Map<string, Promise<unknown>>()

  constructor (private readonly d: { records: RecordBlocks, log: Logger, timeoutMs: number, limits?: WalkLimits }) {
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
      if (name !== undefined && MODEL_NAME.test(name)) counts.set(name, (counts.get(name) ?? 0) + 1)
    }
    const sorted = [...counts].sort(([a], [b]) => a < b ? -1 : 1).map(([name, versions]) => ({ key: name, value: { name, versions } }))
    return pageOf(sorted, limit, after)
  }

  async describe (name: string, limit: number, after: string | undefined, signal: AbortSignal): Promise<{ name: string, tags: Record<string, string>, versions: Page<Record<string, unknown>> } | undefined> {
    checkModelName(name)
    const pins = await this.lookups.versionPins(name, undefined, signal)
    if (pins.length === 0) return undefined
    const byVersion = new Map<string, NamedPin>()
    for (const p of pins) { const v = p.name.slice(`${MODEL_PIN}${name}/`.length); if (MODEL_VERSION.test(v) && !byVersion.has(v)) byVersion.set(v, p) }
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

