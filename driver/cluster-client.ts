// The one place that talks to the IPFS Cluster REST API. Every call has a deadline (the caller's
// signal combined with a timeout); basic-auth credentials come from a file and are never logged.
import { readFileSync } from 'node:fs'
import { CsiError, Code, toCsiError } from './errors.js'
import { deadline } from './deadline.js'

/** Per-peer status of one pin, as GET /pins/<cid> reports it. */
export interface PeerPinStatus {
  peername?: string
  ipfs_peer_id?: string
  status: string
  error?: string
  timestamp?: string
}

export interface GlobalPinInfo {
  cid: string
  name?: string
  allocations?: string[]
  metadata?: Record<string, string> | null
  peer_map?: Record<string, PeerPinStatus> | null
}

/** A pin in the shared state (GET /allocations). */
export interface ClusterPin {
  cid: string
  name?: string
  allocations?: string[] | null
  replication_factor_min?: number
  replication_factor_max?: number
  metadata?: Record<string, string> | null
  expire_at?: string
}

export interface ClusterPeerInfo { id: string, peername?: string, error?: string, ipfs?: { id?: string } }
export interface Metric { name: string, peer: string, value: string, valid?: boolean, expire?: number }

export interface PinOptions {
  name: string
  replicationMin?: number
  replicationMax?: number
  metadata?: Record<string, string>
  /** Go duration, e.g. "720h". */
  expireIn?: string
}

export interface ClusterClientInit {
  url: string
  basicAuthFile?: string
  timeoutMs: number
}

/** Reads `user:password` from a file; an empty or malformed file is a configuration error. */
export function readBasicAuth (file: string): string {
  const raw = readFileSync(file, 'utf8').trim()
  const i = raw.indexOf(':')
  if (i <= 0) throw new CsiError(Code.INVALID_ARGUMENT, `cluster basic auth file ${file} must hold "user:password"`)
  return 'Basic ' + Buffer.from(raw).toString('base64')
}

/** Cluster list endpoints stream one JSON object per line; single objects come as one value. */
export function parseJsonLines (text: string): unknown[] {
  const t = text.trim()
  if (t === '') return []
  try {
    const v = JSON.parse(t)
    return Array.isArray(v) ? v : [v]
  } catch {}
  return t.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l))
}

export class ClusterClient {
  readonly url: string
  readonly timeoutMs: number
  // Private: holds the credentials, never part of a log line or an error message.
  readonly #headers: Record<string, string> = {}

  constructor (init: ClusterClientInit) {
    this.url = init.url.replace(/\/$/, '')
    this.timeoutMs = init.timeoutMs
    if (init.basicAuthFile !== undefined) this.#headers.authorization = readBasicAuth(init.basicAuthFile)
  }

  /** One request; 404 → undefined; other failures → CsiError (UNAVAILABLE when unreachable). */
  async request (method: 'GET' | 'POST' | 'DELETE', p: string, signal?: AbortSignal, timeoutMs = this.timeoutMs): Promise<string | undefined> {
    const limit = deadline(timeoutMs, signal)
    const what = `cluster ${method} ${p.split('?')[0] as string}`
    let res: Response
    let text: string
    try {
      res = await fetch(this.url + p, { method, headers: this.#headers, signal: limit.signal })
      text = await res.text()
    } catch (err) {
      if (limit.signal.aborted && signal?.aborted !== true) throw new CsiError(Code.DEADLINE_EXCEEDED, `${what}: no answer in ${timeoutMs} ms`)
      const e = toCsiError(err)
      const code = e.code === Code.INTERNAL ? Code.UNAVAILABLE : e.code
      throw new CsiError(code, `${what}: ${e.message.replace(/^Kubo /, 'IPFS Cluster ')}`, { cause: err })
    } finally {
      limit.clear()
    }
    if (res.status === 404) return undefined
    if (!res.ok) {
      let msg = text
      try { msg = (JSON.parse(text) as { message?: string }).message ?? text } catch {}
      const code = res.status === 401 || res.status === 403 ? Code.PERMISSION_DENIED : res.status >= 500 ? Code.UNAVAILABLE : Code.INTERNAL
      throw new CsiError(code, `${what}: ${res.status} ${msg.trim()}`)
    }
    return text
  }

  async pin (cid: string, o: PinOptions, signal?: AbortSignal): Promise<ClusterPin> {
    const qs = new URLSearchParams({ name: o.name, mode: 'recursive' })
    if (o.replicationMin !== undefined) qs.set('replication-min', String(o.replicationMin))
    if (o.replicationMax !== undefined) qs.set('replication-max', String(o.replicationMax))
    if (o.expireIn !== undefined) qs.set('expire-in', o.expireIn)
    for (const [k, v] of Object.entries(o.metadata ?? {})) qs.set(`meta-${k}`, v)
    const text = await this.request('POST', `/pins/ipfs/${encodeURIComponent(cid)}?${qs.toString()}`, signal)
    if (text === undefined) throw new CsiError(Code.INTERNAL, `cluster POST /pins/ipfs/${cid}: 404`)
    return JSON.parse(text) as ClusterPin
  }

  /** Status on every peer, or undefined when the Cluster does not track the CID. */
  async status (cid: string, signal?: AbortSignal): Promise<GlobalPinInfo | undefined> {
    const text = await this.request('GET', `/pins/${encodeURIComponent(cid)}`, signal)
    return text === undefined ? undefined : JSON.parse(text) as GlobalPinInfo
  }

  /** Status of every tracked pin on every peer. */
  async statusAll (signal?: AbortSignal): Promise<GlobalPinInfo[]> {
    return parseJsonLines(await this.request('GET', '/pins', signal) ?? '') as GlobalPinInfo[]
  }

  /** Unpins; an unknown CID counts as done. */
  async unpin (cid: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.request('DELETE', `/pins/${encodeURIComponent(cid)}`, signal)
    } catch (err) {
      if (err instanceof CsiError && /not found|not pinned|uncommitted/i.test(err.message)) return
      throw err
    }
  }

  /** Every pin in the shared state. */
  async pins (signal?: AbortSignal): Promise<ClusterPin[]> {
    return parseJsonLines(await this.request('GET', '/allocations?filter=pin', signal) ?? '') as ClusterPin[]
  }

  async peers (signal?: AbortSignal): Promise<ClusterPeerInfo[]> {
    return parseJsonLines(await this.request('GET', '/peers', signal) ?? '') as ClusterPeerInfo[]
  }

  /** Latest metric of each peer, e.g. `freespace`. */
  async metrics (name: string, signal?: AbortSignal): Promise<Metric[]> {
    return parseJsonLines(await this.request('GET', `/monitor/metrics/${encodeURIComponent(name)}`, signal) ?? '') as Metric[]
  }
}
