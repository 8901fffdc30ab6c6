// Service-account token verification: every refusal the API owes is a 401 (UNAUTHENTICATED),
// and key rotation works for a JWKS file and a JWKS URL.
import test from 'ava'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { SignJWT, UnsecuredJWT, base64url } from 'jose'
import { createTokenVerifier, type TokenVerifier } from '../../api/auth/service-account-token.js'
import { Code, CsiError } from '../../driver/errors.js'
import { toHttpFailure } from '../../api/http/http-error.js'
import { makeTestCa } from '../helpers/gateway-nginx.js'
import { AUDIENCE, ISSUER, saToken, signingKey, writeJwks, type SigningKey } from '../helpers/api-process.js'

let dir: string
let key1: SigningKey
let key2: SigningKey
let ecKey: SigningKey
let verifier: TokenVerifier
const signal = AbortSignal.timeout(30_000)

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-auth-'))
  key1 = await signingKey('k1')
  key2 = await signingKey('k2')
  ecKey = await signingKey('ec', 'ES256')
  await writeJwks(path.join(dir, 'jwks.json'), [key1, ecKey])
  verifier = createTokenVerifier({ kind: 'jwks-file', issuer: ISSUER, audience: AUDIENCE, jwksFile: path.join(dir, 'jwks.json') })
})

test.after.always(async () => { await rm(dir, { recursive: true, force: true }) })

async function refusal (t: { is: (a: unknown, b: unknown, m?: string) => void, fail: (m: string) => void }, token: string, what: string): Promise<string> {
  try {
    await verifier.verify(token, signal)
  } catch (err) {
    t.is((err as CsiError).code, Code.UNAUTHENTICATED, what)
    t.is(toHttpFailure(err).status, 401, what)
    return (err as Error).message
  }
  t.fail(`${what}: accepted`)
  return ''
}

test('a token signed by the cluster key with the right iss and aud is accepted (RS256 and ES256)', async (t) => {
  t.deepEqual(await verifier.verify(await saToken(key1, { namespace: 'ml', name: 'trainer' }), signal), { subject: 'system:serviceaccount:ml:trainer', namespace: 'ml', name: 'trainer' })
  t.is((await verifier.verify(await saToken(ecKey, { namespace: 'b' }), signal)).namespace, 'b')
})

test('wrong iss is 401', async (t) => {
  t.regex(await refusal(t, await saToken(key1, { iss: 'https://evil.example' }), 'iss'), /iss/)
})

test('wrong aud is 401', async (t) => {
  t.regex(await refusal(t, await saToken(key1, { aud: 'someone-else' }), 'aud'), /aud/)
})

test('an expired token is 401', async (t) => {
  t.regex(await refusal(t, await saToken(key1, { expiresIn: Math.floor(Date.now() / 1000) - 60 }), 'exp'), /expired/)
})

test('a token whose nbf is in the future is 401', async (t) => {
  t.regex(await refusal(t, await saToken(key1, { notBefore: Math.floor(Date.now() / 1000) + 3600 }), 'nbf'), /nbf/)
})

test('alg none is 401', async (t) => {
  const unsecured = new UnsecuredJWT({ 'kubernetes.io': { namespace: 'ml' } }).setSubject('system:serviceaccount:ml:trainer').setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('1h').encode()
  await refusal(t, unsecured, 'alg none')
  // Also with an empty signature and a kid, as attackers send it.
  const header = base64url.encode(JSON.stringify({ alg: 'none', kid: 'k1', typ: 'JWT' }))
  await refusal(t, `${header}.${unsecured.split('.')[1] as string}.`, 'alg none with kid')
})

test('an HS256 token keyed with the public RSA key (HS/RS swap) is 401', async (t) => {
  // The classic confusion attack: sign with HMAC using the verifier's public key material.
  const secret = new TextEncoder().encode(JSON.stringify(key1.jwk))
  const hs = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setSubject('system:serviceaccount:ml:trainer').setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('1h').sign(secret)
  await refusal(t, hs, 'HS256 swap')
  const nPem = Buffer.from(key1.jwk.n as string, 'base64url')
  const hs2 = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setSubject('system:serviceaccount:ml:trainer').setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('1h').sign(nPem)
  await refusal(t, hs2, 'HS256 keyed with the modulus')
})

test('an unknown kid is 401', async (t) => {
  const other = await signingKey('k-unknown')
  t.regex(await refusal(t, await saToken(other), 'unknown kid'), /no key/)
})

test('a token signed by another key under a known kid is 401', async (t) => {
  const impostor = await signingKey('k1')
  await refusal(t, await saToken(impostor), 'forged signature')
})

test('something that is not a JWT is 401', async (t) => {
  for (const junk of ['', 'hello', 'a.b', 'a.b.c.d', 'ipfscsi_nope', '....', 'eyJ.eyJ.sig', 'x'.repeat(40_000)]) {
    await refusal(t, junk, `not a JWT: ${junk.slice(0, 12)}`)
  }
})

test('a subject that is not a service account is 401', async (t) => {
  await refusal(t, await saToken(key1, { sub: 'admin' }), 'sub')
  await refusal(t, await saToken(key1, { sub: 'system:serviceaccount:ml' }), 'short sub')
})

test('a token whose kubernetes.io namespace disagrees with sub is 401', async (t) => {
  const tok = await new SignJWT({ 'kubernetes.io': { namespace: 'kube-system' } }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setSubject('system:serviceaccount:ml:trainer').setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('1h').sign(key1.privateKey)
  await refusal(t, tok, 'namespace mismatch')
})

test('JWKS file rotation: a token of a new key is accepted once the file has it, an old key is refused once removed', async (t) => {
  const file = path.join(dir, 'rotating.json')
  await writeJwks(file, [key1])
  const v = createTokenVerifier({ kind: 'jwks-file', issuer: ISSUER, audience: AUDIENCE, jwksFile: file })
  await v.verify(await saToken(key1), signal)
  await t.throwsAsync(v.verify(await saToken(key2), signal))
  // Rotation: the new file has a different size, so the change is seen at once.
  await writeJwks(file, [key1, key2])
  t.is((await v.verify(await saToken(key2), signal)).name, 'trainer')
  await writeJwks(file, [key2])
  // The file is looked at again at most once a second.
  await new Promise(resolve => setTimeout(resolve, 1100))
  const old = await saToken(key1)
  const err = await t.throwsAsync(v.verify(old, signal))
  t.is((err as CsiError).code, Code.UNAUTHENTICATED)
})

test('JWKS URL rotation: an unknown kid re-fetches the key set (at most once per cooldown)', async (t) => {
  let keys = [key1]
  let fetches = 0
  const server = http.createServer((_req, res) => {
    fetches++
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ keys: keys.map(k => k.jwk) }))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/openid/v1/jwks`
  try {
    const v = createTokenVerifier({ kind: 'jwks-url', issuer: ISSUER, audience: AUDIENCE, jwksUrl: url })
    await v.verify(await saToken(key1), signal)
    t.is(fetches, 1)
    await v.verify(await saToken(key1), signal)
    t.is(fetches, 1, 'a known kid does not fetch again')
    keys = [key1, key2]
    // The first fetch was just now: within the cooldown an unknown kid is refused without a fetch.
    await t.throwsAsync(v.verify(await saToken(key2), signal))
    t.is(fetches, 1)
    // Past the cooldown the unknown kid fetches the new set and the token is accepted.
    keys = [key1]
    const quick = createTokenVerifier({ kind: 'jwks-url', issuer: ISSUER, audience: AUDIENCE, jwksUrl: url }, { jwksCooldownMs: 0 })
    await quick.verify(await saToken(key1), signal)
    const before = fetches
    keys = [key1, key2]
    t.is((await quick.verify(await saToken(key2), signal)).name, 'trainer')
    t.is(fetches, before + 1, 'one re-fetch on the unknown kid')
  } finally {
    server.close()
  }
})

test('a TokenReview that does not authenticate, or lacks the audience, is 401; a good one is cached', async (t) => {
  let reviews = 0
  let answer: unknown = {}
  const server = http.createServer((req, res) => {
    reviews++
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      const spec = (JSON.parse(body) as { spec: { audiences: string[] } }).spec
      t.deepEqual(spec.audiences, [AUDIENCE])
      t.is(req.headers.authorization, 'Bearer own-token')
      res.writeHead(201, { 'content-type': 'application/json' })
      res.end(JSON.stringify(answer))
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  await writeFile(path.join(dir, 'own-token'), 'own-token\n')
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/apis/authentication.k8s.io/v1/tokenreviews`
  try {
    const v = createTokenVerifier({ kind: 'tokenreview', audience: AUDIENCE, url, tokenFile: path.join(dir, 'own-token') })
    const tok = await saToken(key1)
    answer = { status: { authenticated: false, error: 'token expired' } }
    const e1 = await t.throwsAsync(v.verify(tok, signal))
    t.is((e1 as CsiError).code, Code.UNAUTHENTICATED)
    const tok2 = await saToken(key1, { name: 'other' })
    answer = { status: { authenticated: true, audiences: ['kubernetes'], user: { username: 'system:serviceaccount:ml:other' } } }
    t.is(((await t.throwsAsync(v.verify(tok2, signal))) as CsiError).code, Code.UNAUTHENTICATED)
    const tok3 = await saToken(key1, { name: 'good' })
    answer = { status: { authenticated: true, audiences: [AUDIENCE], user: { username: 'system:serviceaccount:ml:good' } } }
    t.is((await v.verify(tok3, signal)).subject, 'system:serviceaccount:ml:good')
    const n = reviews
    await v.verify(tok3, signal)
    t.is(reviews, n, 'the second check of the same token is answered from the cache')
    t.is(((await t.throwsAsync(v.verify('not.a.jwt!', signal))) as CsiError).code, Code.UNAUTHENTICATED)
    t.is(reviews, n, 'a non-JWT never reaches the API server')
  } finally {
    server.close()
  }
})

test('JWKS over https with --oidc-ca-file: the cluster CA is trusted; without it the issuer is unavailable (503), not a 401', async (t) => {
  const ca = await makeTestCa(await mkdtemp(path.join(dir, 'ca-')), 'localhost')
  const server = https.createServer({ cert: await readFile(ca.cert), key: await readFile(ca.key) }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ keys: [key1.jwk] }))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = `https://localhost:${(server.address() as AddressInfo).port}/openid/v1/jwks`
  await writeFile(path.join(dir, 'cluster-ca.crt'), ca.caCert)
  try {
    const v = createTokenVerifier({ kind: 'jwks-url', issuer: ISSUER, audience: AUDIENCE, jwksUrl: url, caFile: path.join(dir, 'cluster-ca.crt') })
    t.is((await v.verify(await saToken(key1), signal)).name, 'trainer')
    const untrusted = createTokenVerifier({ kind: 'jwks-url', issuer: ISSUER, audience: AUDIENCE, jwksUrl: url })
    const err = await t.throwsAsync(untrusted.verify(await saToken(key1), signal))
    t.is((err as CsiError).code, Code.UNAVAILABLE)
    t.is(toHttpFailure(err).status, 503)
  } finally {
    server.close()
  }
})
