// Abuse protection: fixed-window rate limits per client IP (before authentication) and per
// identity (after), shared between replicas through Redis when --redis is given, and load
// shedding when the event loop lags. Answers: 429 with Retry-After and RateLimit headers, 503.
import { Redis } from 'ioredis'
import { CsiError, Code } from '../../driver/errors.js'
import type { Logger } from '../../driver/logger.js'

export interface Take { allowed: boolean, remaining: number, resetMs: number }

export interface RateLimiter {
  /** Counts one request against `key`'s window of `windowMs`, allowing `limit` per window. */
  take: (key: string, limit: number, windowMs: number) => Promise<Take>
  close: () => Promise<void>
}

/** One replica's counters (also the fallback while Redis is unreachable). */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { count: number, endsAt: number }>()

  async take (key: string, limit: number, windowMs: number): Promise<Take> {
    const now = Date.now()
    let w = this.windows.get(key)
    if (w === undefined || w.endsAt <= now) {
      // Bounded: expired windows are swept when the map grows.
      if (this.windows.size > 100_000) for (const [k, v] of this.windows) if (v.endsAt <= now) this.windows.delete(k)
      w = { count: 0, endsAt: now + windowMs }
      this.windows.set(key, w)
    }
    w.count++
    return { allowed: w.count <= limit, remaining: Math.max(0, limit - w.count), resetMs: w.endsAt - now }
  }

  async close (): Promise<void> {}
}

// Atomic per window: the first hit sets the expiry; every hit learns the count and the time left.
const TAKE_LUA = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`

/** Counters in Redis, shared by every replica; falls back to local counters while Redis is down. */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis
  private readonly fallback = new MemoryRateLimiter()
  private warned = false

  constructor (url: string, private readonly log: Logger) {
    this.redis = new Redis(url, { lazyConnect: false, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 500 })
    this.redis.on('error', (err: Error) => {
      if (!this.warned) { this.warned = true; this.log.warn('redis unavailable: rate limits are per replica until it is back', { error: err.message }) }
    })
    this.redis.on('ready', () => { if (this.warned) this.log.info('redis is back: rate limits are shared again'); this.warned = false })
  }

  async take (key: string, limit: number, windowMs: number): Promise<Take> {
    try {
      const [n, ttl] = await this.redis.eval(TAKE_LUA, 1, `ipfs-csi:rl:${key}`, String(windowMs)) as [number, number]
      return { allowed: n <= limit, remaining: Math.max(0, limit - n), resetMs: ttl }
    } catch {
      return await this.fallback.take(key, limit, windowMs)
    }
  }

  async close (): Promise<void> {
    this.redis.disconnect()
  }
}

/** RateLimit headers (draft-ietf-httpapi-ratelimit-headers) for one take. */
export function rateLimitHeaders (t: Take, limit: number, windowMs: number): Record<string, string> {
  return {
    'ratelimit-limit': String(limit),
    'ratelimit-remaining': String(t.remaining),
    'ratelimit-reset': String(Math.max(1, Math.ceil(t.resetMs / 1000))),
    'ratelimit-policy': `${limit};w=${Math.round(windowMs / 1000)}`
  }
}

/** A refusal that tells the client when to come back (429, 503): the edge adds Retry-After. */
export class RetryLater extends CsiError {
  constructor (code: Code, message: string, readonly retryAfterS: number) {
    super(code, message)
  }
}

/**
 * Event-loop lag from timer drift, sampled every `intervalMs`: the largest recent drift decays
 * by half each sample, so one slow tick sheds for a moment, not for long. A drift counts in
 * the proportion of it the process spent running, which makes the lag about the CPU time our own
 * work held the loop for: a CPU-bound burst is lag to shed, while a process that only waited for
 * a CPU (other processes held them) was idle, and refusing its clients would not help them (it
 * made `ipfs pin remote add` fail on a loaded node with the API doing nothing).
 */
export class LoadShedder {
  private lagMs = 0
  private readonly timer: NodeJS.Timeout
  private last = performance.now()
  private lastCpu = process.cpuUsage()

  constructor (readonly maxLagMs: number, intervalMs = 50) {
    this.timer = setInterval(() => {
      const now = performance.now()
      const cpu = process.cpuUsage()
      const wallMs = now - this.last
      const cpuMs = (cpu.user - this.lastCpu.user + cpu.system - this.lastCpu.system) / 1000
      const busy = wallMs > 0 ? Math.min(1, cpuMs / wallMs) : 1
      const drift = Math.max(0, wallMs - intervalMs) * busy
      this.last = now
      this.lastCpu = cpu
      this.lagMs = Math.max(drift, this.lagMs / 2)
    }, intervalMs)
    this.timer.unref()
  }

  get lag (): number { return this.lagMs }

  /** Throws 503 while the loop lags more than allowed. */
  check (): void {
    if (this.lagMs > this.maxLagMs) throw new RetryLater(Code.UNAVAILABLE, `overloaded (event loop ${Math.round(this.lagMs)} ms behind); retry shortly`, 1)
  }

  stop (): void { clearInterval(this.timer) }
}

export interface Limits { identityPerMinute: number, ipPerMinute: number }

const WINDOW_MS = 60_000

/** The guards the server runs: per IP and shedding before authentication, per identity after. */
export function guards (limiter: RateLimiter, shedder: LoadShedder, limits: Limits): {
  beforeAuth: (ctx: { ip: string, url: URL, headers: Record<string, string> }) => Promise<void>
  afterAuth: (ctx: { headers: Record<string, string> }, id: { subject: string }) => Promise<void>
} {
  const apply = async (ctx: { headers: Record<string, string> }, key: string, limit: number, what: string): Promise<void> => {
    const t = await limiter.take(key, limit, WINDOW_MS)
    Object.assign(ctx.headers, rateLimitHeaders(t, limit, WINDOW_MS))
    if (!t.allowed) throw new RetryLater(Code.RESOURCE_EXHAUSTED, `rate limit of ${limit} requests per minute for ${what} reached`, Math.max(1, Math.ceil(t.resetMs / 1000)))
  }
  return {
    beforeAuth: async (ctx) => {
      // Probes must keep answering under load, or kubelet restarts a busy replica.
      if (ctx.url.pathname === '/healthz') return
      shedder.check()
      await apply(ctx, `ip:${ctx.ip}`, limits.ipPerMinute, 'this client address')
    },
    afterAuth: async (ctx, id) => { await apply(ctx, `id:${id.subject}`, limits.identityPerMinute, id.subject) }
  }
}
