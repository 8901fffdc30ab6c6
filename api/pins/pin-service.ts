// The Pinning Service API's domain: add, get, list, replace and remove pin requests of one
// namespace. Requests of another namespace do not exist as far as a caller can tell.
import { randomUUID } from 'node:crypto'
import type { Kubo } from '../../driver/kubo.js'
import type { Logger } from '../../driver/logger.js'
import type { PinBackend } from './pin-backend.js'
import { notFoundRequest } from './pin-backend.js'
import { PinIndex, rootBlock, type PinEntry } from './pin-index.js'
import { isRequestId, nameMatches, type ListQuery, type PinInput, type PinState } from './pin-input.js'
import type { PinRequestRecord } from './pin-record.js'
import { CsiError, Code, invalid } from '../../driver/errors.js'
import { isP2pMultiaddr } from '../config.js'

export interface PinView {
  cid: string
  name?: string
  origins: string[]
  meta: Record<string, string>
}

export interface PinStatusView {
  requestid: string
  status: PinState
  created: string
  pin: PinView
  delegates: string[]
  info: Record<string, string>
}

export interface PinResultsView {
  count: number
  results: PinStatusView[]
}

const DELEGATES_TTL_MS = 60_000
const RECONCILE_MS = 60_000

export class PinService {
  private lastCreated = 0
  private delegatesCache?: { at: number, value: Promise<string[]> }
  private readonly released = new Set<string>()
  private reconcileTimer?: NodeJS.Timeout

  constructor (private readonly d: {
    index: PinIndex
    backend: PinBackend
    kubo: Kubo
    log: Logger
    /** Fixed delegates (--delegates); empty: the backing Kubo's own addresses. */
    delegates: string[]
  }) {}

  /** Continues unfinished requests (after a restart, or another replica's), now and every minute. */
  async start (signal: AbortSignal): Promise<void> {
    await this.reconcile(signal)
    this.reconcileTimer = setInterval(() => {
      this.reconcile(AbortSignal.timeout(RECONCILE_MS)).catch((err: unknown) => this.d.log.warn('pin reconcile failed', { error: (err as Error).message }))
    }, RECONCILE_MS)
    this.reconcileTimer.unref()
  }

  stop (): void {
    clearInterval(this.reconcileTimer)
    this.d.backend.close()
  }

  private async reconcile (signal: AbortSignal): Promise<void> {
    const entries = await this.d.index.entries(undefined, signal)
    await this.d.backend.resume(entries, signal)
    for (const e of entries) if (e.pinnedRoot !== undefined) this.onPinned(e)
  }

  /** A replaced request's old root is dropped once the new one is pinned (not before: no GC gap). */
  onPinned (e: PinEntry): void {
    const old = e.record.replacesRoot
    if (old === undefined || this.released.has(old.toString())) return
    this.released.add(old.toString())
    this.d.backend.releaseRoot(old, AbortSignal.timeout(30_000)).catch((err: unknown) => {
      this.released.delete(old.toString())
      this.d.log.warn('releasing a replaced pin failed', { requestid: e.record.id, error: (err as Error).message })
    })
  }

  /** Created timestamps are unique within a replica: pagination by `before` needs that. */
  private nextCreated (): number {
    this.lastCreated = Math.max(Date.now(), this.lastCreated + 1)
    return this.lastCreated
  }

  async delegates (signal: AbortSignal): Promise<string[]> {
    if (this.d.delegates.length > 0) return this.d.delegates
    const c = this.delegatesCache
    if (c !== undefined && Date.now() - c.at < DELEGATES_TTL_MS) return await c.value
    const value = this.d.kubo.postJson<{ ID: string, Addresses?: string[] | null }>('id', {}, signal).then(delegatesOf)
    this.delegatesCache = { at: Date.now(), value }
    value.catch(() => { this.delegatesCache = undefined })
    return await value
  }

  private async view (e: PinEntry, status: { status: PinState, info: Record<string, string> }, delegates: string[]): Promise<PinStatusView> {
    const r = e.record
    const pin: PinView = { cid: r.cidText, origins: r.origins, meta: r.meta }
    if (r.name !== undefined) pin.name = r.name
    return { requestid: r.id, status: status.status, created: new Date(r.created).toISOString(), pin, delegates, info: status.info }
  }

  async add (owner: string, input: PinInput, signal: AbortSignal, replaces?: PinEntry): Promise<PinStatusView> {
    const rec: PinRequestRecord = {
      v: 1,
      type: 'pin-request',
      id: randomUUID(),
      owner,
      cid: input.cid,
      cidText: input.cidText,
      origins: input.origins,
      meta: input.meta,
      created: this.nextCreated()
    }
    if (input.name !== undefined) rec.name = input.name
    if (replaces !== undefined) {
      rec.replaces = replaces.record.id
      rec.replacesRoot = (await rootBlock(replaces.record)).cid
    }
    const [entry, delegates] = await Promise.all([this.d.index.register(rec, signal), this.delegates(signal)])
    this.d.log.info('pin requested', { requestid: rec.id, owner, cid: rec.cidText, replaces: rec.replaces })
    this.d.backend.start(entry)
    const [status] = await this.d.backend.statuses([entry], signal)
    return await this.view(entry, status ?? { status: 'queued', info: {} }, delegates)
  }

  private async find (owner: string, id: string, signal: AbortSignal): Promise<PinEntry> {
    if (!isRequestId(id)) throw invalid(`requestid ${JSON.stringify(id.slice(0, 64))} is not a request id`)
    const e = await this.d.index.entry(owner, id, signal)
    if (e === undefined) throw notFoundRequest(id)
    return e
  }

  async get (owner: string, id: string, signal: AbortSignal): Promise<PinStatusView> {
    const e = await this.find(owner, id, signal)
    const [[status], delegates] = await Promise.all([this.d.backend.statuses([e], signal), this.delegates(signal)])
    return await this.view(e, status ?? { status: 'queued', info: {} }, delegates)
  }

  async list (owner: string, q: ListQuery, signal: AbortSignal): Promise<PinResultsView> {
    let entries = await this.d.index.entries(owner, signal)
    const wantCids = q.cids?.map(c => c.toV1().toString())
    entries = entries.filter((e) => {
      const r = e.record
      if (wantCids !== undefined && !wantCids.includes(r.cid.toV1().toString())) return false
      if (q.name !== undefined && !nameMatches(r.name, q.name, q.match)) return false
      if (q.before !== undefined && !(r.created < q.before)) return false
      if (q.after !== undefined && !(r.created > q.after)) return false
      if (q.meta !== undefined) for (const [k, v] of Object.entries(q.meta)) if (r.meta[k] !== v) return false
      return true
    })
    const statuses = await this.d.backend.statuses(entries, signal)
    const matching = entries.map((e, i) => ({ e, s: statuses[i] ?? { status: 'queued' as const, info: {} } })).filter(x => q.statuses.has(x.s.status))
    // Newest first; the client pages with `before` = the oldest `created` it got.
    matching.sort((a, b) => b.e.record.created - a.e.record.created)
    const delegates = matching.length > 0 ? await this.delegates(signal) : []
    const results = await Promise.all(matching.slice(0, q.limit).map(async x => await this.view(x.e, x.s, delegates)))
    return { count: matching.length, results }
  }

  /** A new request for `input`; the old one disappears now, its content stays pinned until the new one is. */
  async replace (owner: string, id: string, input: PinInput, signal: AbortSignal): Promise<PinStatusView> {
    const old = await this.find(owner, id, signal)
    const view = await this.add(owner, input, signal, old)
    await this.d.index.unregister(old, signal)
    return view
  }

  async remove (owner: string, id: string, signal: AbortSignal): Promise<void> {
    const e = await this.find(owner, id, signal)
    await this.d.backend.release(e, signal)
    if (e.record.replacesRoot !== undefined) await this.d.backend.releaseRoot(e.record.replacesRoot, signal)
    await this.d.index.unregister(e, signal)
    this.d.log.info('pin removed', { requestid: id, owner })
  }
}

/**
 * PinStatus.delegates from Kubo's `id`: its addresses that end in its own /p2p/<id>, at most 20.
 * The spec requires at least one; a Kubo that announces no address (no swarm listener, or every
 * address filtered) is still named by `/p2p/<id>`, which a client can find through routing.
 */
export function delegatesOf (id: { ID: string, Addresses?: string[] | null }): string[] {
  const own = `/p2p/${id.ID}`
  if (!isP2pMultiaddr(own)) throw new CsiError(Code.UNAVAILABLE, 'the backing Kubo answered `id` without a valid peer ID')
  const addrs = (id.Addresses ?? []).filter(a => a.endsWith(own) && isP2pMultiaddr(a))
  const unique = [...new Set(addrs)].slice(0, 20)
  return unique.length > 0 ? unique : [own]
}
