// The one place that talks to Kubo's RPC API. Every call gets a deadline: the caller's
// AbortSignal combined with a timeout, so no Kubo call can hang a CSI RPC or a FUSE read.
import { readFileSync } from 'node:fs'
import type { KuboRPCClient } from 'kubo-rpc-client'
import { CsiError, Code, toCsiError } from './errors.js'

export interface KuboInit {
  /** Base URL of the RPC API, e.g. http://127.0.0.1:5001 */
  url: string
  /** Bearer token for API.Authorizations; taken from a file so it never sits in argv. */
  tokenFile?: string
  /** Default deadline for a call, in ms. */
  timeoutMs: number
}

export interface CallOptions {
  signal: AbortSignal
  timeout?: number
  headers?: Record<string, string>
}

export class Kubo {
  readonly url: string
  readonly timeoutMs: number
  readonly headers: Record<string, string>
  private rpcClient?: Promise<KuboRPCClient>

  constructor (init: KuboInit) {
    this.url = init.url.replace(/\/$/, '')
    this.timeoutMs = init.timeoutMs
    this.headers = {}
    if (init.tokenFile !== undefined) {
      const token = readFileSync(init.tokenFile, 'utf8').trim()
      if (token === '') throw new CsiError(Code.INVALID_ARGUMENT, `Kubo API token file ${init.tokenFile} is empty`)
      this.headers.authorization = token.includes(' ') ? token : `Bearer ${token}`
    }
  }

  /**
   * kubo-rpc-client, loaded on first use: importing it costs a FUSE server process about a second
   * of start-up (measured), and the read path never needs it.
   */
  async rpc (): Promise<KuboRPCClient> {
    this.rpcClient ??= import('kubo-rpc-client').then(m => m.create({ url: `${this.url}/api/v0`, headers: this.headers }))
    return await this.rpcClient
  }

  /** Options for a kubo-rpc-client call: the caller's signal plus this call's deadline. */
  opts (signal?: AbortSignal, timeoutMs = this.timeoutMs): CallOptions {
    const deadline = AbortSignal.timeout(timeoutMs)
    return { signal: signal !== undefined ? AbortSignal.any([signal, deadline]) : deadline, timeout: timeoutMs }
  }

  /** Runs one Kubo call and maps its failure to a CsiError. */
  async call<T> (what: string, fn: (o: CallOptions) => Promise<T>, signal?: AbortSignal, timeoutMs?: number): Promise<T> {
    try {
      return await fn(this.opts(signal, timeoutMs))
    } catch (err) {
      const e = toCsiError(err)
      throw new CsiError(e.code, `${what}: ${e.message}`, { cause: err })
    }
  }

  /**
   * A raw RPC POST, for endpoints where the client library adds overhead or lacks an option.
   * Returns the response body; non-2xx becomes a CsiError carrying Kubo's message.
   */
  async post (endpoint: string, args: Record<string, string | string[] | boolean | number>, signal?: AbortSignal, timeoutMs?: number, body?: { data: Uint8Array, name?: string }): Promise<Uint8Array> {
    const qs = new URLSearchParams()
    for (const [k, v] of Object.entries(args)) {
      if (Array.isArray(v)) for (const x of v) qs.append(k, x)
      else qs.append(k, String(v))
    }
    const o = this.opts(signal, timeoutMs)
    let init: RequestInit = { method: 'POST', headers: this.headers, signal: o.signal }
    if (body !== undefined) {
      const form = new FormData()
      form.append('file', new Blob([body.data]), body.name ?? 'data')
      init = { ...init, body: form }
    }
    try {
      const res = await fetch(`${this.url}/api/v0/${endpoint}?${qs.toString()}`, init)
      const buf = new Uint8Array(await res.arrayBuffer())
      if (!res.ok) {
        let msg = new TextDecoder().decode(buf)
        try { msg = JSON.parse(msg).Message ?? msg } catch {}
        const code = res.status === 403 || res.status === 401 ? Code.PERMISSION_DENIED : /not found|no link named|does not exist|could not resolve/i.test(msg) ? Code.NOT_FOUND : Code.INTERNAL
        throw new CsiError(code, `kubo ${endpoint}: ${msg.trim()}`)
      }
      return buf
    } catch (err) {
      if (err instanceof CsiError) throw err
      const e = toCsiError(err)
      throw new CsiError(e.code, `kubo ${endpoint}: ${e.message}`, { cause: err })
    }
  }

  /** Raw POST returning parsed JSON (the last line, for streaming endpoints). */
  async postJson<T = any> (endpoint: string, args: Record<string, string | string[] | boolean | number>, signal?: AbortSignal, timeoutMs?: number): Promise<T> {
    const text = new TextDecoder().decode(await this.post(endpoint, args, signal, timeoutMs)).trim()
    const lines = text.split('\n').filter(l => l !== '')
    return JSON.parse(lines[lines.length - 1] ?? 'null') as T
  }

  /** True when Kubo answers within a short deadline; used by Probe and health. */
  async reachable (signal?: AbortSignal, timeoutMs = 3000): Promise<boolean> {
    try {
      await (await this.rpc()).id(this.opts(signal, timeoutMs))
      return true
    } catch {
      return false
    }
  }
}
