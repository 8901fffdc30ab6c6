// A caller's AbortSignal combined with a deadline, on a plain timer.
// Not `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: on Node 20 the composite holds its
// sources weakly and the timeout signal's timer holds only a WeakRef, so after a garbage
// collection the deadline silently never fires (nodejs/node#57736) and a call can hang for ever.

export interface Deadline {
  /** Aborts when the parent aborts (with its reason) or after `ms` (with a TimeoutError). */
  readonly signal: AbortSignal
  /** Stops the timer and detaches from the parent; call it once the guarded work is over. */
  readonly clear: () => void
}

export function deadline (ms: number, parent?: AbortSignal): Deadline {
  const ac = new AbortController()
  const timer = setTimeout(() => ac.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')), ms)
  // Like AbortSignal.timeout, the timer alone does not keep the process alive.
  timer.unref()
  const onAbort = (): void => { clearTimeout(timer); ac.abort(parent?.reason) }
  if (parent?.aborted === true) onAbort()
  else parent?.addEventListener('abort', onAbort, { once: true })
  return {
    signal: ac.signal,
    clear: () => { clearTimeout(timer); parent?.removeEventListener('abort', onAbort) }
  }
}
