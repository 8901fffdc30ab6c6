// Fetches blocks from Kubo (`block/get`), verifies each against its CID, and keeps the verified
// ones in a byte-bounded LRU. Concurrent requests for one block share a single fetch. Every
// fetch has a deadline, so a frozen or dead Kubo turns into an error, never a hung reader.
import http from 'node:http'
import https from 'node:https'
import { LRUCache } from 'lru-cache'
import type { CID } from 'multiformats/cid'
import { CsiError, Code, toCsiError } from '../../driver/errors.js'
import type { Logger } from '../../driver/logger.js'
import { IDENTITY, UnsupportedHashError, isSupportedHash, verifyBlock } from './verify-block.js'

/** Kubo refuses blocks over 2 MiB on the network; anything much larger is not a block. */
const MAX_BLOCK_BYTES = 4 * 1024 * 1024
/** Parallel HTTP requests to Kubo; the rest queue in the agent (their deadline keeps running). */
const MAX_SOCKETS = 16

export interface BlockFetcherInit {
  kuboApi: string
  headers: Record<string, string>
  /** Deadline of one block fetch, from the moment it is asked for. */
  timeoutMs: number
  cacheBytes: number
  log: Logger
}

export class BlockFetcher {
  private readonly base: URL
  private readonly basePath: string
  private readonly agent: http.Agent
  private readonly request: typeof http.request
  private readonly headers: Record<string, string>
  private readonly timeoutMs: number
  private readonly log: Logger
  private readonly cache: LRUCache<string, Uint8Array>
  private readonly inflight = new Map<string, Promise<Uint8Array>>()
  /** Blocks whose fetch just hit its deadline → until when a new ask fails at once. */
  private readonly recentTimeouts = new Map<string, number>()
  private readonly timeoutMemoMs: number
  private closed = false
  /** Counters for tests and debug logs. */
  readonly stats = { fetched: 0, cacheHits: 0, joined: 0, failed: 0 }

  constructor (init: BlockFetcherInit) {
    this.base = new URL(init.kuboApi)
    this.basePath = this.base.pathname.replace(/\/$/, '')
    const isHttps = this.base.protocol === 'https:'
    this.agent = isHttps ? new https.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS }) : new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS })
    this.request = isHttps ? https.request : http.request
    this.headers = { ...init.headers, 'content-length': '0' }
    this.timeoutMs = init.timeoutMs
    this.log = init.log
    this.timeoutMemoMs = Math.min(1000, init.timeoutMs)
    // lru-cache needs maxSize ≥ 1; a block larger than the whole cache is simply not kept.
    this.cache = new LRUCache<string, Uint8Array>({ maxSize: Math.max(1, init.cacheBytes), sizeCalculation: (b) => Math.max(1, b.byteLength) })
  }

  /** Verified bytes of a block; `signal` bounds this caller's wait (the shared fetch has its own deadline). */
  async get (cid: CID, signal?: AbortSignal): Promise<Uint8Array> {
    if (cid.multihash.code === IDENTITY) return cid.multihash.digest // the CID is the block
    if (!isSupportedHash(cid.multihash.code)) {
      const err = new UnsupportedHashError(cid)
      this.log.error('cannot verify block: unsupported hash function', { cid: cid.toString(), code: cid.multihash.code })
      throw err
    }
    const key = cid.toString()
    const hit = this.cache.get(key)
    if (hit !== undefined) { this.stats.cacheHits++; return hit }
    let p = this.inflight.get(key)
    if (p === undefined) {
      // The kernel retries a failed readahead page with a second read of the same range at once;
      // without this memo one read(2) against a frozen Kubo would take twice the deadline.
      const until = this.recentTimeouts.get(key)
      if (until !== undefined) {
        if (Date.now() < until) throw new CsiError(Code.DEADLINE_EXCEEDED, `kubo block/get ${key}: no answer within ${this.timeoutMs} ms moments ago; not asking again yet`)
        this.recentTimeouts.delete(key)
      }
      p = this.fetchVerified(cid, key).finally(() => this.inflight.delete(key))
      this.inflight.set(key, p)
    } else {
      this.stats.joined++
    }
    return signal === undefined ? await p : await raceSignal(p, signal, key)
  }

  /** Starts fetching without waiting (read-ahead); failures are only logged at debug. */
  prefetch (cid: CID): void {
    if (this.closed || cid.multihash.code === IDENTITY || this.cache.has(cid.toString()) || this.inflight.has(cid.toString())) return
    this.get(cid).catch((err: Error) => this.log.debug('read-ahead failed', { cid: cid.toString(), error: err.message }))
  }

  has (cid: CID): boolean {
    return cid.multihash.code === IDENTITY || this.cache.has(cid.toString())
  }

  close (): void {
    this.closed = true
    this.agent.destroy()
    this.cache.clear()
  }

  private async fetchVerified (cid: CID, key: string): Promise<Uint8Array> {
    const deadline = Date.now() + this.timeoutMs
    try {
      let bytes: Uint8Array
      try {
        bytes = await this.httpGet(key, deadline)
      } catch (err) {
        // A keep-alive socket Kubo closed while idle fails at once; one retry on a fresh socket.
        if ((err as { retryable?: boolean }).retryable !== true || Date.now() >= deadline) throw err
        bytes = await this.httpGet(key, deadline)
      }
      try {
        verifyBlock(cid, bytes)
      } catch (err) {
        this.log.error('block failed verification, refusing to serve it', { cid: key, bytes: bytes.byteLength, error: (err as Error).message })
        throw err
      }
      this.stats.fetched++
      if (!this.closed) this.cache.set(key, bytes)
      return bytes
    } catch (err) {
      this.stats.failed++
      if (err instanceof CsiError && err.code === Code.DEADLINE_EXCEEDED) {
        if (this.recentTimeouts.size > 10_000) this.recentTimeouts.clear()
        this.recentTimeouts.set(key, Date.now() + this.timeoutMemoMs)
      }
      throw err
    }
  }

  private async httpGet (key: string, deadline: number): Promise<Uint8Array> {
    if (this.closed) throw new CsiError(Code.UNAVAILABLE, 'block fetcher is closed')
    // Plain request options rather than a URL object per block: this runs for every leaf read.
    const target = { protocol: this.base.protocol, hostname: this.base.hostname.replace(/^\[|\]$/g, ''), port: this.base.port, path: `${this.basePath}/api/v0/block/get?arg=${encodeURIComponent(key)}` }
    return await new Promise<Uint8Array>((resolve, reject) => {
      let settled = false
      const fail = (err: CsiError): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        req.destroy()
        reject(err)
      }
      const req = this.request({ ...target, method: 'POST', agent: this.agent, headers: this.headers }, (res) => {
        const chunks: Buffer[] = []
        let total = 0
        res.on('data', (c: Buffer) => {
          total += c.length
          if (total > MAX_BLOCK_BYTES && res.statusCode === 200) fail(new CsiError(Code.DATA_LOSS, `kubo block/get ${key}: block is larger than ${MAX_BLOCK_BYTES} bytes`))
          else chunks.push(c)
        })
        res.on('error', (err) => fail(wrap(key, err)))
        res.on('end', () => {
          if (settled) return
          const body = Buffer.concat(chunks)
          if (res.statusCode !== 200) {
            let msg = body.toString('utf8')
            try { msg = JSON.parse(msg).Message ?? msg } catch {}
            const code = res.statusCode === 401 || res.statusCode === 403 ? Code.PERMISSION_DENIED : Code.UNAVAILABLE
            fail(new CsiError(code, `kubo block/get ${key}: HTTP ${res.statusCode ?? '?'}: ${msg.trim().slice(0, 300)}`))
            return
          }
          const streamErr = res.trailers['x-stream-error']
          if (streamErr !== undefined && streamErr !== '') { fail(new CsiError(Code.UNAVAILABLE, `kubo block/get ${key}: ${streamErr}`)); return }
          settled = true
          clearTimeout(timer)
          resolve(new Uint8Array(body.buffer, body.byteOffset, body.byteLength))
        })
      })
      const timer = setTimeout(() => fail(new CsiError(Code.DEADLINE_EXCEEDED, `kubo block/get ${key}: no answer within ${this.timeoutMs} ms`)), Math.max(0, deadline - Date.now()))
      req.on('error', (err: NodeJS.ErrnoException) => {
        const e = wrap(key, err)
        if (req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) (e as { retryable?: boolean }).retryable = true
        fail(e)
      })
      req.end()
    })
  }
}

function wrap (key: string, err: unknown): CsiError {
  const e = toCsiError(err)
  // Anything that is not a deadline is "Kubo cannot give us the block now": UNAVAILABLE → EIO.
  const code = e.code === Code.DEADLINE_EXCEEDED ? e.code : Code.UNAVAILABLE
  return new CsiError(code, `kubo block/get ${key}: ${e.message}`, { cause: err })
}

/** Waits for `p` unless `signal` fires first; the shared fetch itself goes on for other waiters. */
async function raceSignal<T> (p: Promise<T>, signal: AbortSignal, key: string): Promise<T> {
  if (signal.aborted) throw new CsiError(Code.DEADLINE_EXCEEDED, `block ${key}: read deadline passed`)
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(new CsiError(Code.DEADLINE_EXCEEDED, `block ${key}: read deadline passed`))
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([p, aborted])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}
