// One `cat?offset=&length=` request over a run of consecutive leaves of a file node, its body cut
// into one buffer per leaf. A deadline bounds progress (not the whole run: a run is many blocks,
// and each waiting reader is bounded by its own read deadline anyway). What a leaf's bytes are
// worth (hashing, caching, fetching it alone when they do not verify) is the caller's business.
import type { CID } from 'multiformats/cid'
import { CsiError, Code } from '../driver/errors.js'
import type { Kubo } from '../driver/kubo.js'
import type { RunLeaf } from './block-reader.js'

export interface CatRunSink {
  /** Leaf `i` of the run arrived whole, in its own buffer (leaves arrive in order). */
  leaf: (i: number, bytes: Buffer) => void
  /**
   * The stream stopped before leaf `from`: `err` says why (DEADLINE_EXCEEDED when no data came
   * within the deadline; UNAVAILABLE when it failed, ended early or sent too much).
   */
  rest: (from: number, err: CsiError) => void
}

/** Streams the run's bytes from Kubo; settles every leaf through `sink` exactly once. */
export function streamCatRun (kubo: Kubo, parent: CID, run: RunLeaf[], timeoutMs: number, sink: CatRunSink): void {
  const first = run[0] as RunLeaf
  const total = run.reduce((s, l) => s + l.size, 0)
  let done = 0 // leaves settled, in order
  let cur: Buffer | undefined
  let fill = 0
  let settled = false
  let timer: NodeJS.Timeout | undefined
  const finish = (err?: CsiError): void => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    if (err !== undefined) req?.destroy()
    const why = err ?? (done < run.length ? new CsiError(Code.UNAVAILABLE, 'cat ended early') : undefined)
    if (why !== undefined && done < run.length) sink.rest(done, why)
    done = run.length
  }
  // One timer re-armed lazily (not per chunk).
  let lastData = Date.now()
  const check = (): void => {
    const idle = Date.now() - lastData
    if (idle >= timeoutMs) finish(new CsiError(Code.DEADLINE_EXCEEDED, `kubo cat ${parent.toString()}: no data within ${timeoutMs} ms`))
    else timer = setTimeout(check, timeoutMs - idle)
  }
  timer = setTimeout(check, timeoutMs)
  // Copies payload bytes into leaf buffers; each full leaf is handed out.
  const consume = (c: Buffer, from: number, to: number): void => {
    if (settled) return
    lastData = Date.now()
    let at = from
    while (at < to && done < run.length) {
      const l = run[done] as RunLeaf
      if (cur === undefined) {
        // One buffer per leaf (not views of one per run): the cache's byte accounting stays
        // true, and one leaf kept in the cache cannot pin a whole run's memory.
        cur = Buffer.allocUnsafeSlow(l.size)
        fill = 0
      }
      const n = Math.min(l.size - fill, to - at)
      c.copy(cur, fill, at, at + n)
      fill += n
      at += n
      if (fill === l.size) {
        const bytes = cur
        cur = undefined
        fill = 0
        sink.leaf(done++, bytes)
      }
    }
    if (at < to) finish(new CsiError(Code.UNAVAILABLE, 'cat sent more bytes than asked for'))
  }
  const req = kubo.stream('cat', { arg: parent.toString(), offset: first.offset, length: total, progress: false }, { onData: consume, onEnd: (err) => finish(err) })
}
