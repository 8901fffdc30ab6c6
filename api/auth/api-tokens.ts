// API tokens for long-lived clients (Kubo's stored pinning key): one per device, made by
// exchanging a service-account token, revocable. Only a SHA-256 of the secret is stored (as a
// record in Kubo, so tokens survive restarts and every replica knows them); the token itself is
// shown once, in the answer that creates it, and never logged.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { LRUCache } from 'lru-cache'
import { CsiError, Code, invalid } from '../../driver/errors.js'
import type { RecordBlocks } from '../../driver/record-blocks.js'
import { unauthenticated } from '../http/http-error.js'
import { SCOPES, type Scope } from './policy.js'
import type { ServiceAccount } from './service-account-token.js'

export const TOKEN_PREFIX = 'ipfscsi_'
const PIN_PREFIX = 'ipfs-csi/api/token/'
const TOKEN_RE = /^ipfscsi_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/
/** Other replicas notice a revocation within this long. */
export const TOKEN_CACHE_MS = 10_000

export interface ApiTokenRecord {
  v: 1
  type: 'api-token'
  id: string
  owner: string
  subject: string
  device: string
  /** Scopes the token may use at most (the policy still applies at each request). */
  scopes: Scope[]
  /** hex SHA-256 of the secret part. */
  hash: string
  createdAt: number
}

export interface ApiTokenView { id: string, device: string, subject: string, scopes: Scope[], createdAt: string }

const view = (r: ApiTokenRecord): ApiTokenView => ({ id: r.id, device: r.device, subject: r.subject, scopes: r.scopes, createdAt: new Date(r.createdAt).toISOString() })
const hashOf = (secret: string): string => createHash('sha256').update(secret).digest('hex')

async function encode (r: ApiTokenRecord): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = dagCbor.encode(r)
  return { cid: CID.create(1, dagCbor.code, await sha256.digest(bytes)), bytes }
}

async function decode (bytes: Uint8Array, cid: CID): Promise<ApiTokenRecord> {
  const d = await sha256.digest(bytes)
  if (!Buffer.from(d.bytes).equals(Buffer.from(cid.multihash.bytes))) throw new CsiError(Code.DATA_LOSS, `token record ${cid.toString()} does not match its hash`)
  const o = dagCbor.decode(bytes) as Partial<ApiTokenRecord> | null
  if (o?.v !== 1 || o.type !== 'api-token' || typeof o.id !== 'string' || typeof o.hash !== 'string' || typeof o.owner !== 'string' || typeof o.subject !== 'string' || !Array.isArray(o.scopes)) {
    throw new CsiError(Code.DATA_LOSS, `token record ${cid.toString()} is malformed`)
  }
  return o as ApiTokenRecord
}

export class ApiTokens {
  private readonly cache = new LRUCache<string, { rec: ApiTokenRecord, cid: CID }>({ max: 10_000, ttl: TOKEN_CACHE_MS })

  constructor (private readonly records: RecordBlocks) {}

  /** Exchanges a verified service account for a new token for `device`. */
  async create (sa: ServiceAccount, device: unknown, scopes: unknown, allowed: Set<Scope>, signal: AbortSignal): Promise<ApiTokenView & { token: string }> {
    if (typeof device !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/.test(device)) throw invalid('device must be 1-128 characters among letters, digits and ._:@-')
    let want: Scope[] = [...allowed]
    if (scopes !== undefined) {
      if (!Array.isArray(scopes) || !scopes.every(s => (SCOPES as readonly string[]).includes(s))) throw invalid(`scopes must be a list among ${SCOPES.join(', ')}`)
      const missing = (scopes as Scope[]).filter(s => !allowed.has(s))
      if (missing.length > 0) throw new CsiError(Code.PERMISSION_DENIED, `${sa.subject} may not hold ${missing.join(', ')}`)
      want = [...new Set(scopes as Scope[])]
    }
    const id = randomBytes(8).toString('hex')
    const secret = randomBytes(32).toString('base64url')
    const rec: ApiTokenRecord = { v: 1, type: 'api-token', id, owner: sa.namespace, subject: sa.subject, device, scopes: want, hash: hashOf(secret), createdAt: Date.now() }
    await this.records.putDirect(await encode(rec), `${PIN_PREFIX}${sa.namespace}/${id}`, signal)
    return { ...view(rec), token: `${TOKEN_PREFIX}${id}_${secret}` }
  }

  private async lookup (id: string, signal: AbortSignal): Promise<{ rec: ApiTokenRecord, cid: CID } | undefined> {
    const hit = this.cache.get(id)
    if (hit !== undefined) return hit
    const pins = (await this.records.store.pinsNamed(`/${id}`, signal, 'direct')).filter(p => p.name.startsWith(PIN_PREFIX) && p.name.endsWith(`/${id}`))
    const pin = pins[0]
    if (pin === undefined) return undefined
    const rec = await decode(await this.records.get(pin.cid, signal), pin.cid)
    if (rec.id !== id || pin.name !== `${PIN_PREFIX}${rec.owner}/${id}`) return undefined
    const out = { rec, cid: pin.cid }
    this.cache.set(id, out)
    return out
  }

  /** The token's record, when `token` is a live API token; else 401. */
  async verify (token: string, signal: AbortSignal): Promise<ApiTokenRecord> {
    const m = TOKEN_RE.exec(token)
    if (m == null) throw unauthenticated('malformed API token')
    const found = await this.lookup(m[1] as string, signal)
    const want = Buffer.from(found?.rec.hash ?? '0'.repeat(64), 'hex')
    const got = Buffer.from(hashOf(m[2] as string), 'hex')
    if (found === undefined || !timingSafeEqual(want, got)) throw unauthenticated('unknown or revoked API token')
    return found.rec
  }

  async list (owner: string, signal: AbortSignal): Promise<ApiTokenView[]> {
    const pins = (await this.records.store.pinsNamed(`${PIN_PREFIX}${owner}/`, signal, 'direct')).filter(p => p.name.startsWith(`${PIN_PREFIX}${owner}/`))
    const recs = await Promise.all(pins.map(async p => await decode(await this.records.get(p.cid, signal), p.cid)))
    return recs.filter(r => r.owner === owner).sort((a, b) => a.createdAt - b.createdAt).map(view)
  }

  /** Revokes a token of `owner`; a token of another namespace is "not found". */
  async revoke (owner: string, id: string, signal: AbortSignal): Promise<void> {
    if (!/^[0-9a-f]{16}$/.test(id)) throw invalid('token id must be 16 hex digits')
    this.cache.delete(id)
    const found = await this.lookup(id, signal)
    this.cache.delete(id)
    if (found === undefined || found.rec.owner !== owner) throw new CsiError(Code.NOT_FOUND, `no API token ${id}`)
    await this.records.store.unpin(found.cid, signal)
  }
}
