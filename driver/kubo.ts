// The one client of Kubo's RPC API: nothing else in the driver speaks HTTP to Kubo. Every call
// has a deadline (the caller's AbortSignal combined with a timeout, or an absolute deadline on the
// read path), carries the API token, and fails with a CsiError whose code (and Reason) comes from
// Kubo's answer parsed once (kubo-errors.ts). Three transports, one per kind of call:
//  - `post`/`postJson`: fetch, for control calls (pins, MFS, resolve, stat); `postStreamed` and
//    `postStreamBody` stream a large body out of or into Kubo (dag/export → dag/import);
//  - `small`: node:http on a keep-alive agent, for the per-block calls of the read path;
//  - `stream`: a response body handed over in the socket's own reads (raw-http-stream.ts), for
//    `cat` runs of the read path, where node:http's per-chunk events were most of the CPU.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { CsiError, Code, toCsiError } from './errors.js'
import { kuboError, kuboMessage } from './kubo-errors.js'
import { deadline } from './deadline.js'
import { rawPost } from './raw-http-stream.js'

export interface KuboInit {
  /** Base URL of the RPC API, e.g. http://127.0.0.1:5001 */
  url: string
  /** Bearer token for API.Authorizations; taken from a file so it never sits in argv. */
  tokenFile?: string
  /** Default deadline for a call, in ms. */
  timeoutMs: number
  /** Parallel `small` requests (the rest queue in the agent, their deadlines running). */
  maxSockets?: number
}

export type KuboArgs = Record<string, string | string[] | boolean | number>

/** A request body: bytes, or a Blob (fs.openAsBlob streams a file from disk). */
export interface KuboBody {
  data: Uint8Array | Blob
  name?: string
  /** The part's Content-Type (`application/symlink` makes `add` store a UnixFS symlink). */
  type?: string
}

export interface StreamHandlers {
  /** Payload bytes buf[start, end); called synchronously, the range is only valid during the call. */
  onData: (buf: Buffer, start: number, end: number) => void
  /** Exactly once: undefined at a clean end, or the failure (HTTP status, X-Stream-Error, socket). */
  onEnd: (err: CsiError | undefined) => void
}

/** Default parallel `small` requests to Kubo. */
const MAX_SOCKETS = 16

export class Kubo {
  readonly url: string
  readonly timeoutMs: number
  /** Authorization header (from the token file). */
  private readonly headers: Record<string, string>
  private readonly base: URL
  private readonly agent: http.Agent
  private readonly request: typeof http.request

  constructor (init: KuboInit) {
    this.url = init.url.replace(/\/$/, '')
    this.timeoutMs = init.timeoutMs
    this.headers = {}
    if (init.tokenFile !== undefined) {
      const token = readFileSync(init.tokenFile, 'utf8').trim()
      if (token === '') throw new CsiError(Code.INVALID_ARGUMENT, `Kubo API token file ${init.tokenFile} is empty`)
      this.headers.authorization = token.includes(' ') ? token : `Bearer ${token}`
    }
    this.base = new URL(this.url)
    const isHttps = this.base.protocol === 'https:'
    const maxSockets = init.maxSockets ?? MAX_SOCKETS
    this.agent = isHttps ? new https.Agent({ keepAlive: true, maxSockets }) : new http.Agent({ keepAlive: true, maxSockets })
    this.request = isHttps ? https.request : http.request
  }

  /** An RPC POST; returns the response body. A failure is a CsiError carrying Kubo's cause. */
  async post (endpoint: string, args: KuboArgs, signal?: AbortSignal, timeoutMs = this.timeoutMs, body?: KuboBody): Promise<Uint8Array> {
    const limit = deadline(timeoutMs, signal)
    let init: RequestInit = { method: 'POST', headers: this.headers, signal: limit.signal }
    if (body !== undefined) {
      const form = new FormData()
      form.append('file', body.data instanceof Blob ? body.data : new Blob([body.data], body.type !== undefined ? { type: body.type } : {}), body.name ?? 'data')
      init = { ...init, body: form }
    }
    try {
      const res = await fetch(`${this.url}/api/v0/${endpoint}?${query(args)}`, init)
      const buf = new Uint8Array(await res.arrayBuffer())
      if (!res.ok) throw kuboError(endpoint, res.status, kuboMessage(buf))
      return buf
    } catch (err) {
      if (err instanceof CsiError) throw err
      const e = toCsiError(err)
      throw new CsiError(e.code, `kubo ${endpoint}: ${e.message}`, { cause: err })
    } finally {
      limit.clear()
    }
  }

  /**
   * A POST whose response body is handed over as a stream (`dag/export` of a large DAG). A
   * failure before the body (Kubo's status and message) is a CsiError as in `post`; `signal`
   * bounds the whole transfer, reading the body included.
   */
  async postStreamed (endpoint: string, args: KuboArgs, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    let res: Response
    try {
      res = await fetch(`${this.url}/api/v0/${endpoint}?${query(args)}`, { method: 'POST', headers: this.headers, signal })
    } catch (err) {
      const e = toCsiError(err)
      throw new CsiError(e.code, `kubo ${endpoint}: ${e.message}`, { cause: err })
    }
    if (!res.ok || res.body === null) throw kuboError(endpoint, res.status, kuboMessage(await res.text().catch(() => '')))
    return res.body
  }

  /**
   * A POST whose request body is a stream, sent as one multipart file without buffering it
   * (`dag/import` of a CAR); returns Kubo's answer as text. `signal` bounds the whole transfer.
   */
  async postStreamBody (endpoint: string, args: KuboArgs, file: { data: ReadableStream<Uint8Array>, name: string, type: string }, signal: AbortSignal): Promise<string> {
    const boundary = `ipfs-csi-${randomBytes(12).toString('hex')}`
    const enc = new TextEncoder()
    const head = enc.encode(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: ${file.type}\r\n\r\n`)
    const tail = enc.encode(`\r\n--${boundary}--\r\n`)
    const source = file.data
    const body = new ReadableStream<Uint8Array>({
      async start (c) {
        c.enqueue(head)
        const reader = source.getReader()
        try {
          for (;;) {
            const { value, done } = await reader.read()
            if (done) break
            c.enqueue(value)
          }
          c.enqueue(tail)
          c.close()
        } catch (err) { c.error(err) }
      }
    })
    let text: string
    let res: Response
    try {
      res = await fetch(`${this.url}/api/v0/${endpoint}?${query(args)}`, {
        method: 'POST',
        headers: { ...this.headers, 'content-type': `multipart/form-data; boundary=${boundary}` },
        body,
        signal,
        duplex: 'half'
      } as RequestInit & { duplex: 'half' })
      text = await res.text()
    } catch (err) {
      const e = toCsiError(err)
      throw new CsiError(e.code, `kubo ${endpoint}: ${e.message}`, { cause: err })
    }
    if (!res.ok) throw kuboError(endpoint, res.status, kuboMessage(text))
    return text
  }

  /** `post` returning parsed JSON (the last line, for streaming endpoints). */
  async postJson<T = any> (endpoint: string, args: KuboArgs, signal?: AbortSignal, timeoutMs?: number): Promise<T> {
    const text = new TextDecoder().decode(await this.post(endpoint, args, signal, timeoutMs)).trim()
    const lines = text.split('\n').filter(l => l !== '')
    try {
      return JSON.parse(lines[lines.length - 1] ?? 'null') as T
    } catch {
      throw new CsiError(Code.INTERNAL, `kubo ${endpoint}: unexpected reply ${JSON.stringify(text.slice(0, 200))}`)
    }
  }

  /** True when Kubo answers `id` within a short deadline; used by Probe and health. */
  async reachable (signal?: AbortSignal, timeoutMs = 3000): Promise<boolean> {
    try {
      await this.post('id', {}, signal, timeoutMs)
      return true
    } catch {
      return false
    }
  }

  /**
   * A small answer (`block/get`, `block/stat`) on the read path: one keep-alive socket per
   * request, no fetch machinery, `deadline` absolute (ms since the epoch), the body bounded by
   * `maxBytes` (DATA_LOSS past it). Socket failures are UNAVAILABLE, the deadline
   * DEADLINE_EXCEEDED; a keep-alive socket Kubo closed while idle is retried once.
   */
  async small (endpoint: string, arg: string, deadline: number, maxBytes: number): Promise<Uint8Array> {
    try {
      return await this.smallOnce(endpoint, arg, deadline, maxBytes)
    } catch (err) {
      if ((err as { retryable?: boolean }).retryable !== true || Date.now() >= deadline) throw err
      return await this.smallOnce(endpoint, arg, deadline, maxBytes)
    }
  }

  private async smallOnce (endpoint: string, arg: string, deadline: number, maxBytes: number): Promise<Uint8Array> {
    const what = `${endpoint} ${arg}`
    const target = this.target(`${endpoint}?arg=${encodeURIComponent(arg)}`)
    return await new Promise<Uint8Array>((resolve, reject) => {
      let settled = false
      const fail = (err: CsiError): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        req.destroy()
        reject(err)
      }
      const req = this.request({ ...target, method: 'POST', agent: this.agent, headers: { ...this.headers, 'content-length': '0' } }, (res) => {
        const chunks: Buffer[] = []
        let total = 0
        res.on('data', (c: Buffer) => {
          total += c.length
          if (total > maxBytes && res.statusCode === 200) fail(new CsiError(Code.DATA_LOSS, `kubo ${what}: answer is larger than ${maxBytes} bytes`))
          else chunks.push(c)
        })
        res.on('error', (err) => fail(unreachable(what, err)))
        res.on('end', () => {
          if (settled) return
          const body = Buffer.concat(chunks)
          if (res.statusCode !== 200) { fail(kuboError(what, res.statusCode ?? 0, kuboMessage(body))); return }
          const streamErr = res.trailers['x-stream-error']
          if (streamErr !== undefined && streamErr !== '') { fail(new CsiError(Code.UNAVAILABLE, `kubo ${what}: ${streamErr}`)); return }
          settled = true
          clearTimeout(timer)
          resolve(new Uint8Array(body.buffer, body.byteOffset, body.byteLength))
        })
      })
      const budgetMs = Math.max(0, deadline - Date.now())
      const timer = setTimeout(() => fail(new CsiError(Code.DEADLINE_EXCEEDED, `kubo ${what}: no answer within ${budgetMs} ms`)), budgetMs)
      req.on('error', (err: NodeJS.ErrnoException) => {
        const e = unreachable(what, err)
        if (req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) (e as { retryable?: boolean }).retryable = true
        fail(e)
      })
      req.end()
    })
  }

  /**
   * Streams the body of a POST to `handlers` (`cat` of a byte range): plain http goes through
   * raw-http-stream.ts, https through node:https. The caller bounds progress (and destroys).
   */
  stream (endpoint: string, args: KuboArgs, handlers: StreamHandlers): { destroy: () => void } {
    const target = this.target(`${endpoint}?${query(args)}`)
    const headers = { ...this.headers, 'content-length': '0' }
    let ended = false
    const end = (err: CsiError | undefined): void => { if (!ended) { ended = true; handlers.onEnd(err) } }
    const trailerError = (v: string | undefined): CsiError | undefined => v !== undefined && v !== '' ? new CsiError(Code.UNAVAILABLE, `kubo ${endpoint}: ${v}`) : undefined
    if (this.base.protocol === 'http:') {
      return rawPost({
        host: target.hostname,
        port: Number(target.port === '' ? 80 : target.port),
        path: target.path,
        headers,
        onData: handlers.onData,
        onEnd: (err, status, trailers) => {
          if (err !== undefined) end(unreachable(endpoint, err))
          else if (status !== 200) end(new CsiError(Code.UNAVAILABLE, `kubo ${endpoint}: HTTP ${status}`))
          else end(trailerError(trailers['x-stream-error']))
        }
      })
    }
    const r = this.request({ ...target, method: 'POST', agent: this.agent, headers }, (res) => {
      if (res.statusCode !== 200) { res.resume(); end(new CsiError(Code.UNAVAILABLE, `kubo ${endpoint}: HTTP ${res.statusCode ?? '?'}`)); return }
      res.on('data', (c: Buffer) => { if (!ended) handlers.onData(c, 0, c.length) })
      res.on('error', (err) => end(unreachable(endpoint, err)))
      res.on('end', () => end(trailerError(res.trailers['x-stream-error'])))
    })
    r.on('error', (err) => end(unreachable(endpoint, err)))
    r.end()
    return { destroy: () => { ended = true; r.destroy() } }
  }

  /** Closes idle keep-alive sockets. */
  close (): void {
    this.agent.destroy()
  }

  /** Plain request options rather than a URL object per request: `small` runs for every leaf read. */
  private target (pathAndQuery: string): { protocol: string, hostname: string, port: string, path: string } {
    return { protocol: this.base.protocol, hostname: this.base.hostname.replace(/^\[|\]$/g, ''), port: this.base.port, path: `${this.base.pathname.replace(/\/$/, '')}/api/v0/${pathAndQuery}` }
  }
}

function query (args: KuboArgs): string {
  const qs = new URLSearchParams()
  for (const [k, v] of Object.entries(args)) {
    if (Array.isArray(v)) for (const x of v) qs.append(k, x)
    else qs.append(k, String(v))
  }
  return qs.toString()
}

/** A transport failure of the read path: anything that is not a deadline is UNAVAILABLE (EIO). */
function unreachable (what: string, err: unknown): CsiError {
  const e = toCsiError(err)
  const code = e.code === Code.DEADLINE_EXCEEDED ? e.code : Code.UNAVAILABLE
  return new CsiError(code, `kubo ${what}: ${e.message}`, { cause: err })
}
