// Parsing and validation of what users hand us as content: a CID, a path inside it, an IPNS
// name. Everything is checked before any Kubo call, mount or pin happens.
import { CID } from 'multiformats/cid'
import { base32 } from 'multiformats/bases/base32'
import { base36 } from 'multiformats/bases/base36'
import { base58btc } from 'multiformats/bases/base58'
import { invalid } from './errors.js'

export interface ContentRef {
  cid: CID
  /** Path segments inside the CID's DAG, possibly empty. */
  path: string[]
}

const BASES = base32.decoder.or(base36.decoder).or(base58btc.decoder)

/** Parses a CID string in base32, base36 or base58btc (CIDv0). */
export function parseCid (s: string, what = 'CID'): CID {
  if (typeof s !== 'string' || s === '' || s.length > 512 || !/^[A-Za-z0-9]+$/.test(s)) throw invalid(`${what} ${JSON.stringify(s)} is not a valid CID`)
  try {
    return CID.parse(s, s.startsWith('Qm') ? base58btc : BASES)
  } catch (err) {
    throw invalid(`${what} ${JSON.stringify(s)} is not a valid CID: ${(err as Error).message}`)
  }
}

// Conservative: no commas, quotes, NUL, backslashes or shell/mount-option metacharacters.
const SEGMENT = /^[A-Za-z0-9_~@+=:. -]+$/

/** Splits and validates a path inside a DAG ("models/llama", "/a/b/"). */
export function parsePath (p: string | undefined, what = 'path'): string[] {
  if (p === undefined || p === '' || p === '/') return []
  if (p.length > 4096) throw invalid(`${what} is longer than 4096 characters`)
  const segs = p.split('/').filter((s, i, all) => !(s === '' && (i === 0 || i === all.length - 1)))
  for (const s of segs) {
    if (s === '' || s === '.' || s === '..') throw invalid(`${what} ${JSON.stringify(p)} must not contain empty, "." or ".." segments`)
    if (s.length > 255 || !SEGMENT.test(s) || s.startsWith('-')) throw invalid(`${what} ${JSON.stringify(p)} has a segment with characters that are not allowed: ${JSON.stringify(s)}`)
  }
  return segs
}

/** Accepts `<cid>`, `<cid>/<path>` and `/ipfs/<cid>[/<path>]`. */
export function parseContentHandle (handle: string, what = 'volume handle'): ContentRef {
  if (typeof handle !== 'string' || handle === '') throw invalid(`${what} is empty`)
  let rest = handle
  if (rest.startsWith('/ipfs/')) rest = rest.slice('/ipfs/'.length)
  else if (rest.startsWith('/')) throw invalid(`${what} ${JSON.stringify(handle)} must be a CID or /ipfs/<cid>[/path]`)
  const slash = rest.indexOf('/')
  const cidStr = slash === -1 ? rest : rest.slice(0, slash)
  const cid = parseCid(cidStr, what)
  const path = parsePath(slash === -1 ? undefined : rest.slice(slash + 1), what)
  return { cid, path }
}

/** Looks like a content handle (as opposed to a controller-made volume id). */
export function looksLikeContentHandle (s: string): boolean {
  return s.startsWith('/ipfs/') || /^(Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{20,}|k[0-9a-z]{20,})(\/|$)/.test(s)
}

export function formatContentRef (ref: ContentRef): string {
  return [ref.cid.toString(), ...ref.path].join('/')
}

/** An IPNS name: a libp2p key as CID/peer id, or a DNSLink domain. Returns `/ipns/<name>`. */
export function parseIpnsName (s: string): string {
  if (typeof s !== 'string' || s === '') throw invalid('ipns name is empty')
  const name = s.startsWith('/ipns/') ? s.slice('/ipns/'.length) : s
  if (/^(12D3Koo|Qm)[1-9A-HJ-NP-Za-km-z]{40,60}$/.test(name)) return `/ipns/${name}`
  if (/^[bk][a-z0-9]{20,100}$/.test(name)) { parseCid(name, 'ipns name'); return `/ipns/${name}` }
  if (name.length <= 253 && /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i.test(name)) return `/ipns/${name.toLowerCase()}`
  throw invalid(`ipns name ${JSON.stringify(s)} is neither a key (k51…/12D3Koo…) nor a DNSLink domain`)
}
