// Who makes a pin request's content durable. Kubo: a bounded queue of recursive `pin add`s of the
// request's root block. IPFS Cluster: a Cluster pin of that root with replication, whose per-peer
// status becomes the request's status.
import PQueue from 'p-queue'
import type { CID } from 'multiformats/cid'
import { CsiError, Code, toCsiError } from '../../driver/errors.js'
import { deadline } from '../../driver/deadline.js'
import type { Kubo } from '../../driver/kubo.js'
import type { Logger } from '../../driver/logger.js'
import type { ClusterClient, GlobalPinInfo } from '../../driver/cluster-client.js'
import { PinIndex, pinName, rootBlock, type PinEntry } from './pin-index.js'
import type { PinState } from './pin-input.js'
import { dialOrigins, type OriginPolicy } from './origins.js'

export interface BackendStatus {
  status: PinState
  info: Record<string, string>
}

export interface PinBackend {
  /** Begins making a registered request's content durable; returns at once. */
  start: (e: PinEntry) => void
  /** The status of each entry, in order. */
  statuses: (entries: PinEntry[], signal: AbortSignal) => Promise<BackendStatus[]>
  /** Stops work on the request and drops the pin of its root (the index record stays). */
  release: (e: Pick<PinEntry, 'record'>, signal: AbortSignal) => Promise<void>
  /** Drops the pin of a root by CID (the old root of a replaced request). */
  releaseRoot: (root: CID, signal: AbortSignal) => Promise<void>
  /** Requests that are neither done nor being worked on here are started (after a restart). */
  resume: (entries: PinEntry[], signal: AbortSignal) => Promise<void>
  close: () => void
}

export interface BackendDeps {
  index: PinIndex
  kubo: Kubo
  log: Logger
  pinTimeoutMs: number
  concurrency: number
  /** Called once a request's content is pinned (replaced roots are released then). */
  onPinned: (e: PinEntry) => void
  /** Which origins Kubo may dial (the rest are skipped). */
  origins: OriginPolicy
}

const CLEANUP_MS = 15_000

export class KuboPinBackend implements PinBackend {
  private readonly queue: PQueue
  private readonly work = new Map<string, { ac: AbortController, started: boolean }>()

  constructor (private readonly d: BackendDeps) {
    this.queue = new PQueue({ concurrency: d.concurrency })
  }

  start (e: PinEntry): void {
    const key = `${e.record.owner}/${e.record.id}`
    if (this.work.has(key)) return
    const job = { ac: new AbortController(), started: false }
    this.work.set(key, job)
    void this.queue.add(async () => {
      if (job.ac.signal.aborted) return
      job.started = true
      await this.fetch(e, job.ac.signal)
    }).finally(() => { if (this.work.get(key) === job) this.work.delete(key) })
  }

  private async fetch (e: PinEntry, stop: AbortSignal): Promise<void> {
    const rec = e.record
    const limit = deadline(this.d.pinTimeoutMs, stop)
    const signal = limit.signal
    try {
      // Provider hints: dial the origins first (best effort), as the spec asks of a delegate.
      await dialOrigins(this.d.kubo, this.d.origins, rec.origins, signal)
      const root = await rootBlock(rec)
      await this.d.index.put(root, signal)
      await this.d.kubo.post('pin/add', { arg: root.cid.toString(), recursive: true, name: pinName('pinned', rec.owner, rec.id) }, signal, this.d.pinTimeoutMs + 1000)
      if (stop.aborted) { await this.releaseRoot(root.cid, AbortSignal.timeout(CLEANUP_MS)); return }
      this.d.log.info('pinned', { requestid: rec.id, owner: rec.owner, cid: rec.cidText })
      this.d.onPinned({ ...e, pinnedRoot: root.cid })
    } catch (err) {
      if (stop.aborted) return
      const reason = signal.aborted ? `the content could not be fetched within ${this.d.pinTimeoutMs} ms` : toCsiError(err).message
      this.d.log.warn('pin failed', { requestid: rec.id, owner: rec.owner, cid: rec.cidText, reason })
      await this.d.index.markFailed(rec, reason, AbortSignal.timeout(CLEANUP_MS)).catch((e2: unknown) => {
        this.d.log.error('recording a pin failure failed', { requestid: rec.id, error: (e2 as Error).message })
      })
    } finally {
      limit.clear()
    }
  }

  async statuses (entries: PinEntry[]): Promise<BackendStatus[]> {
    return entries.map((e): BackendStatus => {
      if (e.pinnedRoot !== undefined) return { status: 'pinned', info: {} }
      if (e.failure !== undefined) return { status: 'failed', info: { status_details: e.failure.reason } }
      const job = this.work.get(`${e.record.owner}/${e.record.id}`)
      return job?.started === true ? { status: 'pinning', info: {} } : { status: 'queued', info: {} }
    })
  }

  async release (e: Pick<PinEntry, 'record'>, signal: AbortSignal): Promise<void> {
    const key = `${e.record.owner}/${e.record.id}`
    this.work.get(key)?.ac.abort()
    this.work.delete(key)
    await this.releaseRoot((await rootBlock(e.record)).cid, signal)
  }

  async releaseRoot (root: CID, signal: AbortSignal): Promise<void> {
    await this.d.index.store.unpin(root, signal)
  }

  async resume (entries: PinEntry[]): Promise<void> {
    for (const e of entries) if (e.pinnedRoot === undefined && e.failure === undefined) this.start(e)
  }

  close (): void {
    for (const job of this.work.values()) job.ac.abort()
    this.queue.clear()
  }
}

export interface ClusterBackendDeps extends BackendDeps {
  cluster: ClusterClient
  replicationMin?: number
  replicationMax?: number
}

/** Aggregates Cluster's per-peer statuses of a root into one Pinning Service status. */
export function clusterStatus (info: GlobalPinInfo | undefined, needed: number): BackendStatus {
  if (info === undefined) return { status: 'queued', info: {} }
  const peers = Object.values(info.peer_map ?? {})
  const count = (re: RegExp): number => peers.filter(p => re.test(p.status)).length
  const pinned = count(/^pinned$/)
  const details = { status_details: `pinned on ${pinned} of ${Math.max(needed, 1)} required peers` }
  if (pinned >= Math.max(needed, 1)) return { status: 'pinned', info: details }
  if (count(/^pinning$/) > 0) return { status: 'pinning', info: details }
  if (count(/^pin_queued$/) > 0) return { status: 'queued', info: details }
  const errors = peers.filter(p => /error/.test(p.status))
  if (errors.length > 0) return { status: 'failed', info: { status_details: errors.map(p => `${p.peername ?? '?'}: ${p.error ?? p.status}`).join('; ').slice(0, 1024) } }
  return { status: 'queued', info: details }
}

export class ClusterPinBackend implements PinBackend {
  private readonly starting = new Map<string, Promise<void>>()

  constructor (private readonly d: ClusterBackendDeps) {}

  start (e: PinEntry): void {
    const key = `${e.record.owner}/${e.record.id}`
    if (this.starting.has(key)) return
    const p = this.pinRoot(e, AbortSignal.timeout(60_000)).catch(async (err: unknown) => {
      const reason = toCsiError(err).message
      this.d.log.warn('cluster pin failed', { requestid: e.record.id, reason })
      await this.d.index.markFailed(e.record, reason, AbortSignal.timeout(CLEANUP_MS)).catch(() => {})
    }).finally(() => this.starting.delete(key))
    this.starting.set(key, p)
  }

  private async pinRoot (e: PinEntry, signal: AbortSignal): Promise<void> {
    const rec = e.record
    await dialOrigins(this.d.kubo, this.d.origins, rec.origins, signal)
    const root = await rootBlock(rec)
    // The root lives in the API's Kubo (a Cluster peer's); the allocated peers fetch it over bitswap.
    await this.d.index.put(root, signal)
    await this.d.cluster.pin(root.cid.toString(), {
      name: pinName('pinned', rec.owner, rec.id),
      ...(this.d.replicationMin !== undefined ? { replicationMin: this.d.replicationMin } : {}),
      ...(this.d.replicationMax !== undefined ? { replicationMax: this.d.replicationMax } : {}),
      metadata: { requestid: rec.id, owner: rec.owner }
    }, signal)
  }

  async statuses (entries: PinEntry[], signal: AbortSignal): Promise<BackendStatus[]> {
    const roots = await Promise.all(entries.map(async e => (await rootBlock(e.record)).cid.toString()))
    const byCid = new Map<string, GlobalPinInfo>()
    if (entries.length > 20) {
      for (const g of await this.d.cluster.statusAll(signal)) byCid.set(g.cid, g)
    } else {
      await Promise.all(roots.map(async (r) => { const g = await this.d.cluster.status(r, signal); if (g !== undefined) byCid.set(r, g) }))
    }
    const needed = this.d.replicationMin ?? 1
    return entries.map((e, i): BackendStatus => {
      if (e.failure !== undefined) return { status: 'failed', info: { status_details: e.failure.reason } }
      const s = clusterStatus(byCid.get(roots[i] as string), needed)
      if (s.status === 'pinned') this.d.onPinned(e)
      return s
    })
  }

  async release (e: Pick<PinEntry, 'record'>, signal: AbortSignal): Promise<void> {
    await this.releaseRoot((await rootBlock(e.record)).cid, signal)
  }

  async releaseRoot (root: CID, signal: AbortSignal): Promise<void> {
    await this.d.cluster.unpin(root.toString(), signal)
  }

  async resume (entries: PinEntry[], signal: AbortSignal): Promise<void> {
    const tracked = new Set((await this.d.cluster.pins(signal)).map(p => p.cid))
    for (const e of entries) {
      if (e.failure !== undefined) continue
      if (!tracked.has((await rootBlock(e.record)).cid.toString())) this.start(e)
    }
  }

  close (): void {}
}

export function notFoundRequest (id: string): CsiError {
  return new CsiError(Code.NOT_FOUND, `no pin request ${id}`)
}
