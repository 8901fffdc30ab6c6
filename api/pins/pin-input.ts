// Validation of everything a client sends to the Pinning Service API, before any Kubo call:
// the Pin object of POST bodies and the filters of GET /pins, with the limits the spec sets.
import type { CID } from 'multiformats/cid'
import { parseCid } from '../../driver/content-ref.js'
import { invalid } from '../../driver/errors.js'
import { isP2pMultiaddr } from '../config.js'

export const STATUSES = ['queued', 'pinning', 'pinned', 'failed'] as const
export type PinState = (typeof STATUSES)[number]
export const MATCHES = ['exact', 'iexact', 'partial', 'ipartial'] as const
export type Match = (typeof MATCHES)[number]

export interface PinInput {
  cid: CID
  cidText: string
  name?: string
  origins: string[]
  meta: Record<string, string>
}

export interface ListQuery {
  cids?: CID[]
  name?: string
  match: Match
  statuses: Set<PinState>
  before?: number
  after?: number
  limit: number
  meta?: Record<string, string>
}

const MAX_META_KEYS = 1000
const MAX_META_KEY = 255
const MAX_META_VALUE = 4096

/** Pin.meta / PinStatus.info: string keys to string values, bounded. */
export function parseMeta (raw: unknown, what: string): Record<string, string> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(`${what} must be an object of strings`)
  const entries = Object.entries(raw)
  if (entries.length > MAX_META_KEYS) throw invalid(`${what} has more than ${MAX_META_KEYS} keys`)
  const out: Record<string, string> = {}
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw invalid(`${what}.${k.slice(0, 64)} must be a string`)
    if (k.length === 0 || k.length > MAX_META_KEY) throw invalid(`${what} keys must be 1-${MAX_META_KEY} characters`)
    if (v.length > MAX_META_VALUE) throw invalid(`${what}.${k.slice(0, 64)} is longer than ${MAX_META_VALUE} characters`)
    out[k] = v
  }
  return out
}

/** The Pin object of POST /pins and POST /pins/{requestid}. Unknown fields are refused. */
export function parsePin (body: unknown): PinInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('the body must be a Pin object')
  const b = body as Record<string, unknown>
  for (const k of Object.keys(b)) if (!['cid', 'name', 'origins', 'meta'].includes(k)) throw invalid(`unknown field ${JSON.stringify(k.slice(0, 64))} in Pin`)
  if (typeof b.cid !== 'string') throw invalid('Pin.cid is required and must be a string')
  const cid = parseCid(b.cid, 'Pin.cid')
  const out: PinInput = { cid, cidText: b.cid, origins: [], meta: {} }
  if (b.name !== undefined) {
    if (typeof b.name !== 'string' || b.name.length > 255) throw invalid('Pin.name must be a string of at most 255 characters')
    out.name = b.name
  }
  if (b.origins !== undefined) {
    if (!Array.isArray(b.origins) || b.origins.length > 20) throw invalid('Pin.origins must be an array of at most 20 multiaddrs')
    const seen = new Set<string>()
    for (const o of b.origins) {
      if (typeof o !== 'string' || !isP2pMultiaddr(o)) throw invalid(`Pin.origins: ${JSON.stringify(String(o).slice(0, 128))} is not a multiaddr ending in /p2p/<peer id>`)
      if (seen.has(o)) throw invalid('Pin.origins must not repeat an address')
      seen.add(o)
    }
    out.origins = [...seen]
  }
  if (b.meta !== undefined) out.meta = parseMeta(b.meta, 'Pin.meta')
  return out
}

/** Values of a form-style array parameter: `?cid=a,b` (explode=false, the spec) or `?cid=a&cid=b`. */
function arrayParam (q: URLSearchParams, name: string): string[] | undefined {
  const all = q.getAll(name)
  if (all.length === 0) return undefined
  return all.flatMap(v => v.split(',')).map(s => s.trim())
}

function timeParam (q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name)
  if (v === null) return undefined
  // RFC 3339 date-time (section 5.6), with any fraction and a Z or numeric offset.
  if (!/^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/.test(v)) throw invalid(`${name} must be an RFC 3339 date-time (got ${JSON.stringify(v.slice(0, 64))})`)
  // Keep sub-millisecond precision out: created values are whole milliseconds.
  const ms = Date.parse(v.replace(/(\.\d{3})\d+/, '$1'))
  if (!Number.isFinite(ms)) throw invalid(`${name} is not a valid date-time`)
  return ms
}

const KNOWN_PARAMS = new Set(['cid', 'name', 'match', 'status', 'before', 'after', 'limit', 'meta'])

/** The filters of GET /pins. With no status filter only pinned requests are listed (the spec). */
export function parseListQuery (q: URLSearchParams): ListQuery {
  for (const k of q.keys()) if (!KNOWN_PARAMS.has(k)) throw invalid(`unknown query parameter ${JSON.stringify(k.slice(0, 64))}`)
  const out: ListQuery = { match: 'exact', statuses: new Set(['pinned']), limit: 10 }
  const cids = arrayParam(q, 'cid')
  if (cids !== undefined) {
    if (cids.length < 1 || cids.length > 10) throw invalid('cid takes 1 to 10 CIDs')
    out.cids = cids.map(c => parseCid(c, 'cid filter'))
  }
  const name = q.get('name')
  if (name !== null) {
    if (name.length > 255) throw invalid('name must be at most 255 characters')
    out.name = name
  }
  const match = q.get('match')
  if (match !== null) {
    if (!(MATCHES as readonly string[]).includes(match)) throw invalid(`match must be one of ${MATCHES.join(', ')}`)
    out.match = match as Match
  }
  const statuses = arrayParam(q, 'status')
  if (statuses !== undefined) {
    if (statuses.length < 1) throw invalid('status must name at least one status')
    for (const s of statuses) if (!(STATUSES as readonly string[]).includes(s)) throw invalid(`status must be among ${STATUSES.join(', ')} (got ${JSON.stringify(s.slice(0, 32))})`)
    out.statuses = new Set(statuses as PinState[])
  }
  const before = timeParam(q, 'before')
  if (before !== undefined) out.before = before
  const after = timeParam(q, 'after')
  if (after !== undefined) out.after = after
  const limit = q.get('limit')
  if (limit !== null) {
    if (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) throw invalid('limit must be an integer from 1 to 1000')
    out.limit = Number(limit)
  }
  const meta = q.get('meta')
  if (meta !== null) {
    let parsed: unknown
    try { parsed = JSON.parse(meta) } catch { throw invalid('meta must be a JSON object of strings') }
    out.meta = parseMeta(parsed, 'meta')
  }
  return out
}

/** The name filter with its matching strategy. */
export function nameMatches (name: string | undefined, want: string, match: Match): boolean {
  if (name === undefined) return false
  switch (match) {
    case 'exact': return name === want
    case 'iexact': return name.toLowerCase() === want.toLowerCase()
    case 'partial': return name.includes(want)
    case 'ipartial': return name.toLowerCase().includes(want.toLowerCase())
  }
}

/** A requestid we issue: a lowercase UUID. Anything else cannot name a request. */
export function isRequestId (s: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s)
}
