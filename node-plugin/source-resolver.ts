// What a stage asks Kubo before anything is mounted: the root CID a content source stands for
// (cid + path, an IPNS name or a model of the index), with its root block fetched so content that
// cannot be found fails the stage cleanly; and, for a writable volume, that its MFS directory
// exists and what capacity its record holds now. Every call carries the stage's AbortSignal and
// Kubo's own timeout.
import { Code, CsiError, toCsiError } from '../driver/errors.js'
import type { Kubo } from '../driver/kubo.js'
import { formatContentRef } from '../driver/content-ref.js'
import { RecordStore, findVolume } from '../driver/record-store.js'
import { RecordBlocks } from '../driver/record-blocks.js'
import { ModelRecords } from '../driver/model-records.js'
import type { VolumeSource } from './volume-source.js'
import { kuboStageError } from './user-errors.js'

export type ContentSource = Extract<VolumeSource, { kind: 'content' }>
export type WritableSource = Extract<VolumeSource, { kind: 'writable' }>

export interface SourceResolverDeps {
  /** The node-local Kubo: content. */
  kubo: Kubo
  /** The storage-tier Kubo: MFS of writable volumes, the controller's records, the model index. */
  storageKubo: Kubo
  kuboTimeoutMs: number
}

export class SourceResolver {
  private readonly kubo: Kubo
  private readonly storageKubo: Kubo
  private readonly kuboTimeoutMs: number

  constructor (deps: SourceResolverDeps) {
    this.kubo = deps.kubo
    this.storageKubo = deps.storageKubo
    this.kuboTimeoutMs = deps.kuboTimeoutMs
  }

  /** cid + path (or an IPNS name, or a model) → the CID of the directory or file served as the root. */
  async contentRoot (source: ContentSource, signal: AbortSignal): Promise<string> {
    let modelRoot: string | undefined
    if (source.model !== undefined) {
      // The model index lives in the storage tier's Kubo (records the node token may read).
      const found = await new ModelRecords(new RecordBlocks(this.storageKubo)).resolve(source.model.name, source.model.ref, signal)
      if (found === undefined) throw new CsiError(Code.NOT_FOUND, `model ${source.model.name}:${source.model.ref} is not in the model index`)
      modelRoot = `/ipfs/${found.m.cid.toString()}`
    }
    const p = source.ref !== undefined ? `/ipfs/${formatContentRef(source.ref)}` : [modelRoot ?? source.ipns, ...source.path].join('/')
    let root: string
    if (source.ref !== undefined && source.ref.path.length === 0) {
      root = source.ref.cid.toString()
    } else {
      const res = await this.call(this.kubo, 'resolve', { arg: p, recursive: true }, signal, { subject: `content ${p}`, notFound: `content ${p} does not exist` }) as { Path?: string }
      const m = /^\/ipfs\/([A-Za-z0-9]+)$/.exec(res?.Path ?? '')
      if (m == null) throw new CsiError(Code.INTERNAL, `Kubo resolved ${p} to ${JSON.stringify(res?.Path)}, not an /ipfs/<cid> path`)
      root = m[1] as string
    }
    // Fetch (and keep) the root block now, so a CID that cannot be found fails the stage cleanly.
    await this.call(this.kubo, 'block/stat', { arg: root }, signal, { subject: `root block ${root} of ${p}`, notFound: `root block ${root} of ${p} cannot be fetched` })
    return root
  }

  /**
   * Checks the volume's MFS directory exists and returns its capacity. ControllerExpandVolume
   * rewrites the volume's record, not the PV's volume context: the record's capacity is the
   * current one, so an expansion takes effect at the next stage.
   */
  async writableCapacity (volumeId: string, source: WritableSource, signal: AbortSignal): Promise<number> {
    await this.call(this.storageKubo, 'files/stat', { arg: source.mfsPath, hash: true }, signal, { subject: `writable volume ${volumeId}`, notFound: `writable volume ${volumeId} has no data at ${source.mfsPath}` })
    const found = await findVolume(new RecordStore(this.storageKubo), volumeId, signal).catch(() => undefined)
    return Math.max(found?.record.capacityBytes ?? 0, source.capacityBytes)
  }

  private async call (kubo: Kubo, endpoint: string, args: Record<string, string | boolean>, signal: AbortSignal, what: { subject: string, notFound: string }): Promise<unknown> {
    if (signal.aborted) throw new CsiError(Code.DEADLINE_EXCEEDED, `${endpoint}: the stage deadline passed`)
    const timeoutMs = this.kuboTimeoutMs
    try {
      // Kubo's own `timeout` stops the work server-side too; our deadline covers the transport.
      return await kubo.postJson(endpoint, { ...args, timeout: `${Math.max(1, Math.floor(timeoutMs / 1000))}s` }, signal, timeoutMs + 1000)
    } catch (err) {
      throw kuboStageError(toCsiError(err), what, timeoutMs)
    }
  }
}
