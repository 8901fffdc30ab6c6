// Warms this node's Kubo with the desired entries that select this node. Each entry's DAG is
// walked breadth-first: every block is one task in a shared p-queue (bounded concurrency,
// higher priority first), fetched with `block/get` from the node Kubo (which gets it over
// bitswap), verified against its CID, and its links queued. A block the node already holds
// (`block/get` with offline=true answers) counts as fetched without a network fetch, so a
// restarted preloader resumes where it was. Once every block is local the entry is pinned
// recursively as `preload:<name>` (a local walk, fast) and is ready. Removing an entry aborts its
// tasks and unpins it so GC can reclaim it.
import { setMaxListeners } from 'node:events'
import PQueue from 'p-queue'
import type { CID } from 'multiformats/cid'
import { Code, CsiError, toCsiError } from '../driver/errors.js'
import type { Kubo } from '../driver/kubo.js'
import type { Logger } from '../driver/logger.js'
import { BlockFetcher } from '../content/block-fetcher.js'
import { IDENTITY, verifyBlock } from '../content/verify-block.js'
import { blockLinks } from '../content/block-links.js'
import { selects, type DesiredEntry, type DesiredState } from './desired-state.js'

export const PIN_NAME_PREFIX = 'preload:'
export const pinName = (entryName: string): string => PIN_NAME_PREFIX + entryName

export type EntryState = 'pending' | 'fetching' | 'ready' | 'failed'

export interface EntryStatus {
  name: string
  cid: string
  state: EntryState
  priority: number
  bytesFetched: number
  /** Exact once the walk is complete (ready); before that, fetched plus the linked sizes still queued. */
  bytesTotal: number
  blocksFetched: number
  /** Exact once the walk is complete (ready); before that, fetched plus queued (grows as the DAG unfolds). */
  blocksTotal: number
  error: string | null
  /** Blocks that came over the network in this process / were already local. */
  blocksDownloaded: number
  blocksLocal: number
  retries: number
  /** Epoch ms: first block task started, last block done, entry ready. */
  firstBlockAt: number | null
  lastBlockAt: number | null
  readyAt: number | null
}

export interface PreloaderInit {
  kubo: Kubo
  nodeName: string
  labels: Record<string, string>
  concurrency: number
  log: Logger
  /** Deadline of one block fetch and of small Kubo calls. */
  kuboTimeoutMs: number
  /** Attempts per block before the entry fails. */
  maxAttempts?: number
  retryBaseMs?: number
  /** A failed entry is tried again after this long. */
  retryFailedMs?: number
}

interface Job {
  entry: DesiredEntry
  status: EntryStatus
  abort: AbortController
  seen: Set<string>
  outstanding: number
  queuedBlocks: number
  queuedBytes: number
  failedAt?: number
  finish?: (err?: Error) => void
}

export class Preloader {
  readonly queue: PQueue
  private readonly fetcher: BlockFetcher
  private readonly init: Required<PreloaderInit>
  private readonly log: Logger
  private readonly jobs = new Map<string, Job>()
  private problems: string[] = []
  private fileError: string | null = null
  /** Serializes pin changes, so an unpin and a pin of the same CID never interleave. */
  private pinChain: Promise<void> = Promise.resolve()
  private startChain: Promise<void> = Promise.resolve()
  readonly counters = { blocksDownloaded: 0, blocksLocal: 0, bytesDownloaded: 0, retries: 0, failures: 0, unpinned: 0 }
  private stopped = false

  constructor (init: PreloaderInit) {
    this.init = { maxAttempts: 6, retryBaseMs: 1000, retryFailedMs: 30_000, ...init }
    this.log = init.log
    this.queue = new PQueue({ concurrency: init.concurrency })
    // The verified block reader the mounts use; no cache: each block is read once per walk.
    this.fetcher = new BlockFetcher({ kubo: init.kubo, timeoutMs: init.kuboTimeoutMs, cacheBytes: 0, log: init.log })
  }

  /** Applies a new desired state (entries for other nodes are ignored). */
  apply (state: DesiredState): void {
    if (this.stopped) return
    this.problems = state.problems
    this.fileError = null
    for (const p of state.problems) this.log.warn('desired entry left out', { problem: p })
    const wanted = new Map(state.entries.filter(e => selects(e.nodeSelector, this.init.labels)).map(e => [e.name, e]))
    for (const [name, job] of this.jobs) {
      const next = wanted.get(name)
      if (next === undefined || !next.cid.equals(job.entry.cid)) this.remove(job)
      else job.entry = next // priority/selector changes apply to tasks queued from now on
    }
    const added = [...wanted.values()].filter(e => !this.jobs.has(e.name)).sort((a, b) => b.priority - a.priority)
    for (const e of added) this.startJob(e)
    const selectedOut = state.entries.length - wanted.size
    this.log.info('desired state applied', { entries: wanted.size, notForThisNode: selectedOut, invalid: state.problems.length })
    this.sweepStalePins()
  }

  fileProblem (message: string): void {
    this.fileError = message
    this.log.error('desired state not applied; keeping the last good state', { error: message })
  }

  /** Periodic work: retry failed entries after their back-off. */
  tick (): void {
    for (const job of [...this.jobs.values()]) {
      if (job.status.state === 'failed' && job.failedAt !== undefined && Date.now() - job.failedAt >= this.init.retryFailedMs) {
        this.log.info('retrying failed entry', { entry: job.entry.name })
        this.jobs.delete(job.entry.name)
        this.startJob(job.entry)
      }
    }
  }

  status (): { node: string, entries: EntryStatus[], problems: string[], desiredError: string | null } {
    const entries = [...this.jobs.values()].map(j => ({ ...j.status })).sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name))
    return { node: this.init.nodeName, entries, problems: [...this.problems], desiredError: this.fileError }
  }

  async stop (): Promise<void> {
    this.stopped = true
    for (const job of this.jobs.values()) {
      job.abort.abort(new CsiError(Code.ABORTED, 'preloader stopping'))
      job.finish?.(new CsiError(Code.ABORTED, 'preloader stopping'))
    }
    this.queue.clear()
    await Promise.race([this.queue.onIdle(), new Promise(resolve => setTimeout(resolve, 5000))])
    this.fetcher.close()
  }

  private startJob (entry: DesiredEntry): void {
    const job: Job = {
      entry,
      status: { name: entry.name, cid: entry.cid.toString(), state: 'pending', priority: entry.priority, bytesFetched: 0, bytesTotal: 0, blocksFetched: 0, blocksTotal: 0, error: null, blocksDownloaded: 0, blocksLocal: 0, retries: 0, firstBlockAt: null, lastBlockAt: null, readyAt: null },
      abort: new AbortController(),
      seen: new Set(),
      outstanding: 0,
      queuedBlocks: 0,
      queuedBytes: 0
    }
    // Every in-flight Kubo call of the entry listens on its signal (up to the queue's concurrency).
    setMaxListeners(0, job.abort.signal)
    this.jobs.set(entry.name, job)
    this.log.info('preloading entry', { entry: entry.name, cid: job.status.cid, priority: entry.priority })
    void this.run(job)
  }

  private async run (job: Job): Promise<void> {
    const started = Date.now()
    try {
      const walked = new Promise<void>((resolve, reject) => {
        job.finish = (err) => { job.finish = undefined; if (err !== undefined) reject(err); else resolve() }
      })
      walked.catch(() => {})
      // Entries start one after another in apply order (highest priority first), so their root
      // tasks reach the queue in that order even though the local check before them is async.
      const gate = this.startChain.then(async () => {
        if (job.abort.signal.aborted) { job.finish?.(new CsiError(Code.CANCELLED, 'entry removed')); return }
        if (await this.completeLocally(job)) { job.finish?.(); return }
        job.seen.add(job.entry.cid.toString())
        this.enqueue(job, job.entry.cid, undefined, 0)
      })
      this.startChain = gate.catch(() => {})
      await gate
      await walked
      await this.serialPin(async () => { await this.pin(job) })
      if (job.abort.signal.aborted) return
      job.status.state = 'ready'
      job.status.readyAt = Date.now()
      job.status.blocksTotal = job.status.blocksFetched
      job.status.bytesTotal = job.status.bytesFetched
      this.log.info('entry ready', { entry: job.entry.name, cid: job.status.cid, blocks: job.status.blocksFetched, bytes: job.status.bytesFetched, downloaded: job.status.blocksDownloaded, local: job.status.blocksLocal, ms: Date.now() - started })
    } catch (err) {
      if (job.abort.signal.aborted && this.jobs.get(job.entry.name) !== job) return // removed: not a failure
      if (this.stopped) return
      job.abort.abort(err)
      job.status.state = 'failed'
      job.status.error = (err as Error).message
      job.failedAt = Date.now()
      this.counters.failures++
      this.log.error('entry failed', { entry: job.entry.name, cid: job.status.cid, error: job.status.error, retryInMs: this.init.retryFailedMs })
    }
  }

  /**
   * A DAG already complete on the node (restart after ready, content shared with a mount) is
   * settled by one Kubo-side offline walk instead of a block-by-block one: `dag/stat` with
   * offline=true fails at the first missing block, and otherwise gives the exact totals.
   */
  private async completeLocally (job: Job): Promise<boolean> {
    let stat: { DagStats?: Array<{ Size: number, NumBlocks: number }> }
    try {
      stat = await this.init.kubo.postJson('dag/stat', { arg: job.status.cid, offline: true, progress: false }, job.abort.signal, this.init.kuboTimeoutMs)
    } catch {
      return false // something is missing (or Kubo is slow): the block walk fetches and retries
    }
    const d = stat.DagStats?.[0]
    if (d === undefined) return false
    const s = job.status
    if (s.state === 'pending') s.state = 'fetching'
    s.firstBlockAt = s.lastBlockAt = Date.now()
    s.blocksFetched = s.blocksTotal = s.blocksLocal = Number(d.NumBlocks)
    s.bytesFetched = s.bytesTotal = Number(d.Size)
    this.counters.blocksLocal += s.blocksLocal
    return true
  }

  private enqueue (job: Job, cid: CID, tsize: number | undefined, attempt: number, parentLocal = true): void {
    job.outstanding++
    job.queuedBlocks++
    job.queuedBytes += tsize ?? 0
    this.refreshTotals(job)
    this.queue.add(async () => { await this.fetchOne(job, cid, tsize, parentLocal) }, { priority: job.entry.priority, signal: job.abort.signal })
      .catch((err: unknown) => { this.onTaskError(job, cid, tsize, attempt, err, parentLocal) })
  }

  private async fetchOne (job: Job, cid: CID, tsize: number | undefined, parentLocal: boolean): Promise<void> {
    const signal = job.abort.signal
    if (signal.aborted) throw signal.reason
    if (job.status.state === 'pending') job.status.state = 'fetching'
    job.status.firstBlockAt ??= Date.now()
    const { bytes, local } = await this.getBlock(cid, signal, parentLocal)
    const links = blockLinks(cid, bytes)
    if (signal.aborted) throw signal.reason
    job.queuedBlocks--
    job.queuedBytes -= tsize ?? 0
    const s = job.status
    s.blocksFetched++
    s.bytesFetched += bytes.byteLength
    if (local) { s.blocksLocal++; this.counters.blocksLocal++ } else { s.blocksDownloaded++; this.counters.blocksDownloaded++; this.counters.bytesDownloaded += bytes.byteLength }
    const fresh = links.filter((l) => {
      const key = l.cid.toString()
      if (job.seen.has(key) || l.cid.multihash.code === IDENTITY) return false // each block once; identity blocks are inline
      job.seen.add(key)
      return true
    })
    for (const l of fresh) this.enqueue(job, l.cid, l.tsize, 0, local)
    s.lastBlockAt = Date.now()
    job.outstanding--
    this.refreshTotals(job)
    if (job.outstanding === 0) job.finish?.()
  }

  private onTaskError (job: Job, cid: CID, tsize: number | undefined, attempt: number, err: unknown, parentLocal: boolean): void {
    if (job.abort.signal.aborted || this.stopped) return
    job.outstanding--
    job.queuedBlocks--
    job.queuedBytes -= tsize ?? 0
    const e = toCsiError(err)
    // Bad bytes or an unwalkable block will not get better by asking again.
    if (e.code === Code.DATA_LOSS || e.code === Code.PERMISSION_DENIED || attempt + 1 >= this.init.maxAttempts) {
      job.finish?.(new CsiError(e.code, `block ${cid.toString()}: ${e.message}${attempt > 0 ? ` (after ${attempt + 1} attempts)` : ''}`))
      return
    }
    job.status.retries++
    this.counters.retries++
    const delay = Math.min(30_000, this.init.retryBaseMs * 2 ** attempt) * (0.75 + Math.random() * 0.5)
    this.log.warn('block fetch failed, retrying', { entry: job.entry.name, cid: cid.toString(), attempt: attempt + 1, delayMs: Math.round(delay), error: e.message })
    job.outstanding++ // the retry keeps the entry from finishing meanwhile
    const t = setTimeout(() => {
      job.outstanding--
      if (!job.abort.signal.aborted) this.enqueue(job, cid, tsize, attempt + 1, parentLocal)
    }, delay)
    job.abort.signal.addEventListener('abort', () => clearTimeout(t), { once: true })
  }

  private refreshTotals (job: Job): void {
    job.status.blocksTotal = job.status.blocksFetched + job.queuedBlocks
    job.status.bytesTotal = job.status.bytesFetched + Math.max(0, job.queuedBytes)
  }

  /**
   * The verified block. Kubo's block/get serves a local block from its blockstore and only asks
   * peers for a missing one, so nothing local is ever refetched; the offline probe before it only
   * tells local from downloaded for progress. It is skipped under a block that was just
   * downloaded (its children are almost never local), which halves the RPCs of a fresh fetch.
   */
  private async getBlock (cid: CID, signal: AbortSignal, probeLocal: boolean): Promise<{ bytes: Uint8Array, local: boolean }> {
    if (probeLocal) {
      try {
        const bytes = await this.init.kubo.post('block/get', { arg: cid.toString(), offline: true }, signal, this.init.kuboTimeoutMs)
        verifyBlock(cid, bytes) // DATA_LOSS on mismatch, as the fetcher does for downloaded blocks
        return { bytes, local: true }
      } catch (err) {
        if (!(err instanceof CsiError) || err.code !== Code.NOT_FOUND) throw err
      }
    }
    return { bytes: await this.fetcher.get(cid, signal), local: false }
  }

  private async serialPin (fn: () => Promise<void>): Promise<void> {
    const p = this.pinChain.then(fn)
    this.pinChain = p.catch(() => {})
    await p
  }

  /** The name of the recursive pin on `cid`, '' when unnamed, undefined when not pinned. */
  private async pinNameOf (cid: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      const res = await this.init.kubo.postJson<{ Keys?: Record<string, { Type: string, Name?: string }> }>('pin/ls', { arg: cid, type: 'recursive', names: true }, signal, this.init.kuboTimeoutMs)
      const k = res.Keys?.[cid]
      return k === undefined ? undefined : (k.Name ?? '')
    } catch (err) {
      if (err instanceof CsiError && err.reason === 'not-pinned') return undefined
      throw err
    }
  }

  private async pin (job: Job): Promise<void> {
    const cid = job.status.cid
    const signal = job.abort.signal
    const current = await this.pinNameOf(cid, signal)
    // Someone else's pin (a staged volume, an operator) already protects it; renaming it would
    // make a later unpin of this entry remove their protection.
    if (current !== undefined && !current.startsWith(PIN_NAME_PREFIX)) {
      this.log.info('entry content already pinned by another owner; leaving that pin', { entry: job.entry.name, cid, pin: current })
      return
    }
    if (current === pinName(job.entry.name)) return
    // Every block is local now, so this walk never waits on the network; large DAGs get a long deadline.
    await this.init.kubo.post('pin/add', { arg: cid, recursive: true, name: pinName(job.entry.name) }, signal, Math.max(this.init.kuboTimeoutMs, 10 * 60_000))
  }

  private remove (job: Job): void {
    this.jobs.delete(job.entry.name)
    job.abort.abort(new CsiError(Code.CANCELLED, `entry ${job.entry.name} removed`))
    job.finish?.(new CsiError(Code.CANCELLED, `entry ${job.entry.name} removed`))
    this.log.info('entry removed from desired state; cancelling and unpinning', { entry: job.entry.name, cid: job.status.cid })
    void this.serialPin(async () => { await this.unpin(job.status.cid, pinName(job.entry.name)) }).catch((err: Error) => {
      this.log.error('unpinning removed entry failed; will retry on the next sweep', { entry: job.entry.name, error: err.message })
    })
  }

  private async unpin (cid: string, name: string): Promise<void> {
    const current = await this.pinNameOf(cid)
    if (current !== name) return // not ours (or already gone)
    const other = [...this.jobs.values()].find(j => j.status.cid === cid && j.status.state === 'ready')
    if (other !== undefined) {
      // Another ready entry holds the same content: hand the pin over instead of dropping it
      // (one still fetching pins it itself when done).
      await this.init.kubo.post('pin/add', { arg: cid, recursive: true, name: pinName(other.entry.name) }, undefined, this.init.kuboTimeoutMs)
      return
    }
    await this.init.kubo.post('pin/rm', { arg: cid, recursive: true }, undefined, this.init.kuboTimeoutMs)
    this.counters.unpinned++
    this.log.info('unpinned', { cid, pin: name })
  }

  /** Unpins `preload:` pins no current entry owns (entries removed while the preloader was down). */
  private sweepStalePins (): void {
    void this.serialPin(async () => {
      const res = await this.init.kubo.postJson<{ Keys?: Record<string, { Type: string, Name?: string }> }>('pin/ls', { type: 'recursive', names: true }, undefined, this.init.kuboTimeoutMs)
      for (const [cid, k] of Object.entries(res.Keys ?? {})) {
        const name = k.Name ?? ''
        if (!name.startsWith(PIN_NAME_PREFIX)) continue
        const job = this.jobs.get(name.slice(PIN_NAME_PREFIX.length))
        if (job !== undefined && job.status.cid === cid) continue
        await this.unpin(cid, name)
      }
    }).catch((err: Error) => { this.log.warn('sweeping stale preload pins failed', { error: err.message }) })
  }
}
