// Bounds the node-local Kubo's repo. When the repo is over --node-cache-max-bytes, unpinned
// content is garbage-collected (`repo/gc`). Mounted content is pinned on stage
// (`ipfs-csi/staged/<id>`) and desired preloads are pinned by the preloader (`preload:<name>`),
// so GC never touches either; an entry the preloader dropped is unpinned and reclaimed here.
// Kubo GC is all-or-nothing over unpinned blocks (it keeps no access times), so there is no
// least-recently-used order among reclaimable content: all of it goes in one pass.
import type { Kubo } from '../driver/kubo.js'
import type { Logger } from '../driver/logger.js'

export const PROTECTED_PIN_PREFIXES = ['ipfs-csi/staged/', 'preload:'] as const

export interface NodeCacheInit {
  kubo: Kubo
  maxBytes: number
  log: Logger
  /** How often the repo size is checked. */
  intervalMs?: number
  /** Deadline of one GC run (a big repo takes a while). */
  gcTimeoutMs?: number
}

export interface EvictionResult {
  sizeBefore: number
  sizeAfter: number
  /** Blocks GC removed. */
  removed: number
  /** True when GC ran (the repo was over the limit). */
  ran: boolean
  /** Pins that keep the repo over the limit after GC (nothing is evicted from them). */
  protectedPins: number
}

export class NodeCache {
  private readonly init: Required<NodeCacheInit>
  private timer?: NodeJS.Timeout
  private running?: Promise<EvictionResult>
  private readonly abort = new AbortController()
  /** The repo size last measured (undefined until the first check) and GC runs, for metrics. */
  lastRepoBytes: number | undefined
  gcRuns = 0

  get maxBytes (): number { return this.init.maxBytes }

  constructor (init: NodeCacheInit) {
    this.init = { intervalMs: 60_000, gcTimeoutMs: 10 * 60_000, ...init }
  }

  start (): void {
    const tick = (): void => {
      this.evictIfOver().catch((err: Error) => this.init.log.warn('node cache check failed', { error: err.message }))
    }
    tick()
    this.timer = setInterval(tick, this.init.intervalMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.abort.abort()
  }

  async repoSize (signal?: AbortSignal): Promise<number> {
    const st = await this.init.kubo.postJson<{ RepoSize?: number }>('repo/stat', { 'size-only': true }, signal ?? this.abort.signal)
    this.lastRepoBytes = Number(st.RepoSize ?? 0)
    return this.lastRepoBytes
  }

  /** One check; concurrent callers share a running pass. */
  async evictIfOver (): Promise<EvictionResult> {
    this.running ??= this.pass().finally(() => { this.running = undefined })
    return await this.running
  }

  private async pass (): Promise<EvictionResult> {
    const signal = this.abort.signal
    const sizeBefore = await this.repoSize(signal)
    if (sizeBefore <= this.init.maxBytes) return { sizeBefore, sizeAfter: sizeBefore, removed: 0, ran: false, protectedPins: 0 }
    this.init.log.info('node cache over its limit; collecting unpinned content', { repoBytes: sizeBefore, maxBytes: this.init.maxBytes })
    this.gcRuns++
    // repo/gc streams one line per removed block; errors arrive as lines with an Error field.
    const body = new TextDecoder().decode(await this.init.kubo.post('repo/gc', { 'stream-errors': true }, signal, this.init.gcTimeoutMs))
    let removed = 0
    const errors: string[] = []
    for (const line of body.split('\n')) {
      if (line.trim() === '') continue
      try {
        const r = JSON.parse(line) as { Key?: unknown, Error?: string }
        if (r.Error !== undefined && r.Error !== '') errors.push(r.Error)
        else if (r.Key !== undefined) removed++
      } catch {}
    }
    if (errors.length > 0) this.init.log.warn('GC reported errors', { count: errors.length, first: errors[0] })
    const sizeAfter = await this.repoSize(signal)
    let protectedPins = 0
    if (sizeAfter > this.init.maxBytes) {
      const pins = await this.init.kubo.postJson<{ Keys?: Record<string, { Name?: string }> }>('pin/ls', { type: 'recursive', names: true }, signal)
      protectedPins = Object.values(pins.Keys ?? {}).filter(k => PROTECTED_PIN_PREFIXES.some(p => (k.Name ?? '').startsWith(p))).length
      this.init.log.warn('node cache still over its limit: the rest is mounted or desired content, which is never evicted', { repoBytes: sizeAfter, maxBytes: this.init.maxBytes, protectedPins })
    }
    this.init.log.info('node cache GC done', { removedBlocks: removed, repoBytesBefore: sizeBefore, repoBytesAfter: sizeAfter })
    return { sizeBefore, sizeAfter, removed, ran: true, protectedPins }
  }
}
