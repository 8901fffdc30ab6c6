// The HTTP edge of the driver's one error class: a CsiError's code becomes a status and the
// Pinning Service API's Failure body `{error: {reason, details}}`. Anything that is not a
// CsiError is a bug or an outage, reported as 500 without its internals.
import { CsiError, Code, toCsiError } from '../../driver/errors.js'

export interface Failure {
  error: { reason: string, details?: string }
}

interface Mapping { status: number, reason: string }

const BY_CODE: Record<number, Mapping> = {
  [Code.INVALID_ARGUMENT]: { status: 400, reason: 'BAD_REQUEST' },
  [Code.UNAUTHENTICATED]: { status: 401, reason: 'UNAUTHORIZED' },
  [Code.PERMISSION_DENIED]: { status: 403, reason: 'FORBIDDEN' },
  [Code.NOT_FOUND]: { status: 404, reason: 'NOT_FOUND' },
  [Code.ALREADY_EXISTS]: { status: 409, reason: 'CONFLICT' },
  [Code.FAILED_PRECONDITION]: { status: 409, reason: 'CONFLICT' },
  [Code.ABORTED]: { status: 409, reason: 'CONFLICT' },
  // Used at this edge for limits on what a request may carry (body, headers).
  [Code.OUT_OF_RANGE]: { status: 413, reason: 'PAYLOAD_TOO_LARGE' },
  [Code.RESOURCE_EXHAUSTED]: { status: 429, reason: 'TOO_MANY_REQUESTS' },
  [Code.UNIMPLEMENTED]: { status: 501, reason: 'NOT_IMPLEMENTED' },
  [Code.UNAVAILABLE]: { status: 503, reason: 'SERVICE_UNAVAILABLE' },
  [Code.DEADLINE_EXCEEDED]: { status: 504, reason: 'GATEWAY_TIMEOUT' },
  [Code.CANCELLED]: { status: 499, reason: 'CLIENT_CLOSED_REQUEST' }
}

export interface HttpFailure {
  status: number
  body: Failure
}

/** Maps anything thrown by a handler to a status and a Failure body. */
export function toHttpFailure (err: unknown): HttpFailure {
  const e = err instanceof CsiError ? err : toCsiError(err)
  const m = BY_CODE[e.code]
  if (m === undefined) return { status: 500, body: { error: { reason: 'INTERNAL_SERVER_ERROR', details: 'unexpected internal error; see the API logs' } } }
  return { status: m.status, body: { error: { reason: m.reason, details: e.message } } }
}

export const unauthenticated = (msg: string): CsiError => new CsiError(Code.UNAUTHENTICATED, msg)
export const forbidden = (msg: string): CsiError => new CsiError(Code.PERMISSION_DENIED, msg)
