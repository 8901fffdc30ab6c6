// What a namespace user is told about a failed stage or an unhealthy volume. kubelet turns CSI
// errors and volume conditions into events anyone in the pod's namespace can read, so they carry
// a short cause and a code, never server log lines, Kubo addresses or raw errors: those go to the
// node plugin's log (CsiError.detail, logged by the gRPC edge).
import { Code, CsiError } from '../driver/errors.js'
import { codeName } from '../driver/metrics.js'

const CAUSES: Partial<Record<Code, string>> = {
  [Code.NOT_FOUND]: 'content not found',
  [Code.DEADLINE_EXCEEDED]: 'content unavailable: block fetch timed out',
  [Code.UNAVAILABLE]: 'content unavailable: the node\'s IPFS daemon is unreachable',
  [Code.DATA_LOSS]: 'content failed verification',
  [Code.RESOURCE_EXHAUSTED]: 'the node has no room for this volume',
  [Code.PERMISSION_DENIED]: 'the node may not read this content',
  [Code.INVALID_ARGUMENT]: 'the content cannot be served as a volume',
  [Code.FAILED_PRECONDITION]: 'the content cannot be served as a volume'
}

/** A short cause for a code, the same words for every volume. */
export const userCause = (code: Code): string => CAUSES[code] ?? 'the volume\'s file server failed to start'

/**
 * A CsiError a user may read: `what` (written by us, e.g. "volume X: FUSE server exited before
 * mounting"), the cause and the code; `detail` (log text, URLs) only for the node's log.
 */
export function userFacing (code: Code, what: string, detail: string): CsiError {
  return new CsiError(code, `${what}: ${userCause(code)} (${codeName(code)}; details in the node plugin's log)`, { detail })
}

/** The volume condition when the node's Kubo does not answer (its address stays in the log). */
export const KUBO_UNREACHABLE_CONDITION = 'the node\'s IPFS daemon is unreachable: reads of data not cached on this node fail'

/**
 * A Kubo call of a stage that failed. `what` names only what the user asked for (the subject,
 * and the sentence for content that does not exist); Kubo's own text, its address and the
 * endpoint go to the log.
 */
export function kuboStageError (e: CsiError, what: { subject: string, notFound: string }, timeoutMs: number): CsiError {
  if (e.code === Code.NOT_FOUND) return new CsiError(Code.NOT_FOUND, `${what.notFound} (${codeName(e.code)})`, { detail: e.message, ...(e.reason !== undefined ? { reason: e.reason } : {}) })
  if (e.code === Code.DEADLINE_EXCEEDED) return userFacing(e.code, `${what.subject}: not fetched within ${timeoutMs} ms (is it provided on the network?)`, e.message)
  return userFacing(e.code, what.subject, e.message)
}
