// Verification of projected service-account tokens (JWTs), offline against the cluster's JWKS
// (a file, re-read when it changes, or a URL, re-fetched on an unknown kid: key rotation), or
// online with a TokenReview. Any failure is one kind of error: 401, with the reason in the body.
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import https from 'node:https'
import { createLocalJWKSet, jwtVerify, errors as joseErrors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose'
import { LRUCache } from 'lru-cache'
import { unauthenticated } from '../http/http-error.js'
import { CsiError, Code } from '../../driver/errors.js'
import { deadline } from '../../driver/deadline.js'
import type { AuthConfig } from '../config.js'

/** Who a verified service-account token names. */
export interface ServiceAccount {
  /** `system:serviceaccount:NS:NAME` */
  subject: string
  namespace: string
  name: string
}

export interface TokenVerifier {
  verify: (token: string, signal: AbortSignal) => Promise<ServiceAccount>
}

// Asymmetric algorithms only: an HS256 token "signed" with a public key is refused (alg swap),
// and jose never accepts alg "none".
export const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']
const SUBJECT = /^system:serviceaccount:([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?):([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)$/
const JWT_SHAPE = /^[A-Za-z0-9_-]{2,8192}\.[A-Za-z0-9_-]{2,16384}\.[A-Za-z0-9_-]{0,2048}$/
const MAX_JWKS_BYTES = 1024 * 1024

/** `system:serviceaccount:NS:NAME` → its parts; anything else is refused. */
export function parseSubject (sub: unknown): ServiceAccount {
  const m = typeof sub === 'string' ? SUBJECT.exec(sub) : null
  if (m == null) throw unauthenticated('the token does not name a service account (sub must be system:serviceaccount:NS:NAME)')
  return { subject: sub as string, namespace: m[1] as string, name: m[3] as string }
}

/** A JWKS read from somewhere; `refresh` re-reads it (rate limited by the caller). */
interface KeySource { keys: () => Promise<JWTVerifyGetKey>, refresh: () => Promise<boolean> }

function parseJwks (text: string, from: string): JSONWebKeySet {
  let j: unknown
  try { j = JSON.parse(text) } catch { throw new CsiError(Code.UNAVAILABLE, `JWKS from ${from} is not JSON`) }
  if (j === null || typeof j !== 'object' || !Array.isArray((j as JSONWebKeySet).keys)) throw new CsiError(Code.UNAVAILABLE, `JWKS from ${from} has no keys array`)
  return j as JSONWebKeySet
}

function fileKeys (file: string): KeySource {
  let cur: { mtimeMs: number, size: number, set: JWTVerifyGetKey } | undefined
  const load = async (): Promise<boolean> => {
    const s = await stat(file)
    if (cur !== undefined && s.mtimeMs === cur.mtimeMs && s.size === cur.size) return false
    if (s.size > MAX_JWKS_BYTES) throw new CsiError(Code.UNAVAILABLE, `JWKS file ${file} is larger than ${MAX_JWKS_BYTES} bytes`)
    cur = { mtimeMs: s.mtimeMs, size: s.size, set: createLocalJWKSet(parseJwks(await readFile(file, 'utf8'), file)) }
    return true
  }
  let checkedAt = 0
  return {
    keys: async () => {
      // A removed key must stop working too: look at the file at most once a second.
      if (cur === undefined || Date.now() - checkedAt > 1000) { checkedAt = Date.now(); await load() }
      return (cur as { set: JWTVerifyGetKey }).set
    },
    refresh: load
  }
}

async function fetchText (url: string, caFile: string | undefined, signal: AbortSignal, init: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<{ status: number, text: string }> {
  const ca = caFile !== undefined ? await readFile(caFile) : undefined
  if (ca === undefined || !url.startsWith('https:')) {
    const res = await fetch(url, { ...init, signal })
    const buf = await res.arrayBuffer()
    if (buf.byteLength > MAX_JWKS_BYTES) throw new CsiError(Code.UNAVAILABLE, `${url} answered more than ${MAX_JWKS_BYTES} bytes`)
    return { status: res.status, text: Buffer.from(buf).toString('utf8') }
  }
  return await new Promise((resolve, reject) => {
    const req = https.request(url, { method: init.method ?? 'GET', headers: init.headers, ca, signal }, (res) => {
      const chunks: Buffer[] = []
      let n = 0
      res.on('data', (c: Buffer) => { n += c.length; if (n > MAX_JWKS_BYTES) { req.destroy(new Error('response too large')) } else chunks.push(c) })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

function urlKeys (url: string, caFile: string | undefined, cooldownMs: number): KeySource {
  let cur: JWTVerifyGetKey | undefined
  let lastFetch = 0
  let inflight: Promise<boolean> | undefined
  const load = async (): Promise<boolean> => {
    // An unknown kid re-fetches at most once per cooldown: a flood of bad tokens cannot hammer the issuer.
    if (cur !== undefined && Date.now() - lastFetch < cooldownMs) return false
    inflight ??= (async () => {
      try {
        lastFetch = Date.now()
        let got
        try {
          got = await fetchText(url, caFile, AbortSignal.timeout(10_000))
        } catch (err) {
          // The issuer is unreachable (or its certificate untrusted): our outage, not the caller's fault.
          throw new CsiError(Code.UNAVAILABLE, `JWKS ${url} is unreachable: ${(err as Error).message}`)
        }
        const { status, text } = got
        if (status !== 200) throw new CsiError(Code.UNAVAILABLE, `JWKS ${url} answered ${status}`)
        cur = createLocalJWKSet(parseJwks(text, url))
        return true
      } finally { inflight = undefined }
    })()
    return await inflight
  }
  return {
    keys: async () => { if (cur === undefined) await load(); if (cur === undefined) throw new CsiError(Code.UNAVAILABLE, 'no JWKS'); return cur },
    refresh: load
  }
}

function why (err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'the token has expired'
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `the token's ${err.claim} claim is not acceptable (${err.reason})`
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the issuer matches the token (unknown kid or algorithm)'
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'the token uses an algorithm that is not accepted'
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'the token signature is not valid'
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return 'the token is not a valid JWT'
  return 'the token could not be verified'
}

export class JwksVerifier implements TokenVerifier {
  constructor (private readonly source: KeySource, private readonly issuer: string, private readonly audience: string) {}

  async verify (token: string): Promise<ServiceAccount> {
    if (!JWT_SHAPE.test(token)) throw unauthenticated('the token is not a JWT')
    const attempt = async (): Promise<ServiceAccount> => {
      const { payload } = await jwtVerify(token, await this.source.keys(), {
        issuer: this.issuer,
        audience: this.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: 5
      })
      const sa = parseSubject(payload.sub)
      // Kubernetes also writes the namespace into its own claim; both must agree.
      const k8s = payload['kubernetes.io'] as { namespace?: unknown } | undefined
      if (k8s?.namespace !== undefined && k8s.namespace !== sa.namespace) throw unauthenticated('the token\'s namespace claims disagree')
      return sa
    }
    try {
      return await attempt()
    } catch (err) {
      if (err instanceof CsiError) throw err
      if (err instanceof joseErrors.JWKSNoMatchingKey) {
        // Key rotation: the issuer may have a key we have not seen yet.
        if (await this.source.refresh().catch(() => false)) {
          try { return await attempt() } catch (err2) { if (err2 instanceof CsiError) throw err2; throw unauthenticated(why(err2)) }
        }
      }
      throw unauthenticated(why(err))
    }
  }
}

/** TokenReview against the API server; answers are cached (bounded) by a hash of the token. */
export class TokenReviewVerifier implements TokenVerifier {
  private readonly cache = new LRUCache<string, { sa?: ServiceAccount, reason?: string }>({ max: 10_000, ttl: 60_000 })

  constructor (private readonly o: { url: string, audience: string, tokenFile: string, caFile?: string }) {}

  async verify (token: string, signal: AbortSignal): Promise<ServiceAccount> {
    if (!JWT_SHAPE.test(token)) throw unauthenticated('the token is not a JWT')
    const key = createHash('sha256').update(token).digest('hex')
    const hit = this.cache.get(key)
    if (hit?.sa !== undefined) return hit.sa
    if (hit?.reason !== undefined) throw unauthenticated(hit.reason)
    const own = (await readFile(this.o.tokenFile, 'utf8')).trim()
    const body = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [this.o.audience] } })
    let res
    const limit = deadline(10_000, signal)
    try {
      res = await fetchText(this.o.url, this.o.caFile, limit.signal, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${own}` }, body })
    } catch (err) {
      throw new CsiError(Code.UNAVAILABLE, `TokenReview is unreachable: ${(err as Error).message}`)
    } finally {
      limit.clear()
    }
    if (res.status !== 201 && res.status !== 200) throw new CsiError(Code.UNAVAILABLE, `TokenReview answered ${res.status}`)
    const st = (JSON.parse(res.text) as { status?: { authenticated?: boolean, error?: string, audiences?: string[], user?: { username?: string } } }).status
    const reject = (reason: string): never => {
      // Refusals are cached briefly so a flood of one bad token does not become a flood of reviews.
      this.cache.set(key, { reason }, { ttl: 10_000 })
      throw unauthenticated(reason)
    }
    if (st?.authenticated !== true) reject(`the API server did not authenticate the token${st?.error !== undefined ? `: ${st.error}` : ''}`)
    if (!(st?.audiences ?? []).includes(this.o.audience)) reject('the token is not meant for this audience')
    const sa = parseSubject(st?.user?.username)
    this.cache.set(key, { sa })
    return sa
  }
}

export function createTokenVerifier (auth: AuthConfig, o: { jwksCooldownMs?: number } = {}): TokenVerifier {
  switch (auth.kind) {
    case 'jwks-file': return new JwksVerifier(fileKeys(auth.jwksFile), auth.issuer, auth.audience)
    case 'jwks-url': return new JwksVerifier(urlKeys(auth.jwksUrl, auth.caFile, o.jwksCooldownMs ?? 30_000), auth.issuer, auth.audience)
    case 'tokenreview': return new TokenReviewVerifier(auth)
  }
}
