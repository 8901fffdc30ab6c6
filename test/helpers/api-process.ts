// `ipfs-csi api serve` as a real child process on a free loopback port, plus service-account
// tokens signed like a Kubernetes API server signs projected tokens (RS256, kid, iss, aud, exp).
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'
import { freePort } from './free-port.js'
import { CLI, logFile } from './repo.js'
import { stopProcess } from './stop-process.js'

export const ISSUER = 'https://kubernetes.default.svc.cluster.local'
export const AUDIENCE = 'ipfs-csi-api'

export interface SigningKey { kid: string, privateKey: CryptoKey, jwk: JWK }

export async function signingKey (kid: string, alg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = { ...await exportJWK(publicKey), kid, alg, use: 'sig' }
  return { kid, privateKey, jwk }
}

export async function writeJwks (file: string, keys: SigningKey[]): Promise<void> {
  await writeFile(file, JSON.stringify({ keys: keys.map(k => k.jwk) }))
}

export interface TokenOptions {
  namespace?: string
  name?: string
  iss?: string
  aud?: string
  expiresIn?: string | number
  notBefore?: string | number
  sub?: string
}

/** A projected service-account token as the API server would issue it. */
export async function saToken (key: SigningKey, o: TokenOptions = {}): Promise<string> {
  const ns = o.namespace ?? 'ml'
  const name = o.name ?? 'trainer'
  const jwt = new SignJWT({ 'kubernetes.io': { namespace: ns, serviceaccount: { name, uid: '00000000-0000-0000-0000-000000000001' } } })
    .setProtectedHeader({ alg: key.jwk.alg as string, kid: key.kid, typ: 'JWT' })
    .setSubject(o.sub ?? `system:serviceaccount:${ns}:${name}`)
    .setIssuer(o.iss ?? ISSUER)
    .setAudience(o.aud ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(o.expiresIn ?? '1h')
  if (o.notBefore !== undefined) jwt.setNotBefore(o.notBefore)
  return await jwt.sign(key.privateKey)
}

export class ApiProcess {
  child?: ChildProcess
  url = ''
  logPath = ''
  port = 0

  constructor (readonly args: string[], readonly env: Record<string, string> = {}) {}

  static async start (args: string[], env: Record<string, string> = {}): Promise<ApiProcess> {
    const p = new ApiProcess(args, env)
    await p.launch()
    return p
  }

  async launch (): Promise<void> {
    // A restart keeps the port: clients (Kubo's stored service) still point at it.
    if (this.port === 0) this.port = await freePort()
    this.url = `http://127.0.0.1:${this.port}`
    this.logPath = logFile('api')
    const out = createWriteStream(this.logPath, { flags: 'a' })
    const child = spawn(process.execPath, [CLI, 'api', 'serve', '--listen', `127.0.0.1:${this.port}`, '--log-level', 'debug', ...this.args], { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.pipe(out); child.stderr.pipe(out)
    this.child = child
    const deadline = Date.now() + 60_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`api exited with ${child.exitCode}; log: ${this.logPath}`)
      if (Date.now() > deadline) throw new Error(`api did not answer in 60 s; log: ${this.logPath}`)
      try {
        if ((await fetch(`${this.url}/healthz`)).ok) return
      } catch {}
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }

  async stop (): Promise<void> {
    if (this.child != null) await stopProcess(this.child)
  }

  async restart (): Promise<void> {
    await this.stop()
    await this.launch()
  }
}

export const jwksPath = (dir: string): string => path.join(dir, 'jwks.json')
