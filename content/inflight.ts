// Fetches in flight, one per block: a second ask for a block being fetched joins the first fetch
// instead of starting another. A caller's own deadline ends its wait, never the shared fetch.
import { CsiError, Code } from '../driver/errors.js'

export interface Deferred<T> { resolve: (v: T) => void, reject: (e: unknown) => void }

export class Inflight<T> {
  private readonly pending = new Map<string, Promise<T>>()

  get (key: string): Promise<T> | undefined { return this.pending.get(key) }
  has (key: string): boolean { return this.pending.has(key) }

  /** Runs `fetch` as the one fetch of `key` until it settles. */
  start (key: string, fetch: () => Promise<T>): Promise<T> {
    const p = fetch().finally(() => this.pending.delete(key))
    this.pending.set(key, p)
    return p
  }

  /**
   * Registers a fetch of `key` that someone else settles (a leaf of a batched run) and returns
   * its resolve/reject. A settled fetch nobody waited for is not an unhandled rejection.
   */
  claim (key: string): Deferred<T> {
    let d: Deferred<T> = { resolve: () => {}, reject: () => {} }
    const p: Promise<T> = new Promise<T>((resolve, reject) => { d = { resolve, reject } })
      .finally(() => { if (this.pending.get(key) === p) this.pending.delete(key) })
    p.catch(() => {})
    this.pending.set(key, p)
    return d
  }
}

/** Waits for `p` unless `signal` fires first; the shared fetch itself goes on for other waiters. */
export async function raceSignal<T> (p: Promise<T>, signal: AbortSignal, key: string): Promise<T> {
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
