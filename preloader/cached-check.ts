// A health check that answers from its last result: at most one underlying call per `maxAgeMs`,
// however often it is asked, and concurrent askers share one call in flight. /healthz is polled
// by the kubelet and anything else that can reach it; it must never turn into a Kubo call each.
export function cachedCheck (check: () => Promise<boolean>, maxAgeMs: number, now: () => number = Date.now): () => Promise<boolean> {
  let last: { ok: boolean, at: number } | undefined
  let inFlight: Promise<boolean> | undefined
  return async () => {
    if (last !== undefined && now() - last.at < maxAgeMs) return last.ok
    inFlight ??= check().catch(() => false).then((ok) => {
      last = { ok, at: now() }
      inFlight = undefined
      return ok
    })
    return await inFlight
  }
}
