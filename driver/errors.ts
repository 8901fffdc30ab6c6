// One error type for the whole driver. It carries a gRPC status code as a plain number so
// domain code never imports grpc; the FUSE edge maps the same codes to errno.

/** gRPC status codes (numerically identical to @grpc/grpc-js `status`). */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16
} as const
export type Code = (typeof Code)[keyof typeof Code]

/**
 * Finer causes than a gRPC code, for callers that must tell them apart (an MFS `mkdir` over an
 * existing name is EEXIST, a missing pin on unpin is success). Set where the cause is known
 * (driver/kubo-errors.ts for Kubo's answers) so nothing else reads error text.
 */
export type Reason = 'not-found' | 'not-pinned' | 'exists' | 'not-directory' | 'is-directory' | 'not-empty' | 'not-unixfs'

export class CsiError extends Error {
  readonly code: Code
  readonly reason: Reason | undefined
  /**
   * What only the operator may read (server log lines, Kubo addresses, raw errors): logged at the
   * gRPC edge, never sent. The message is what the caller, and through events every namespace
   * user, sees.
   */
  readonly detail: string | undefined
  constructor (code: Code, message: string, options?: { cause?: unknown, reason?: Reason, detail?: string }) {
    super(message, options)
    this.name = 'CsiError'
    this.code = code
    this.reason = options?.reason
    this.detail = options?.detail
  }
}

export const invalid = (msg: string): CsiError => new CsiError(Code.INVALID_ARGUMENT, msg)
export const notFound = (msg: string): CsiError => new CsiError(Code.NOT_FOUND, msg)

/** Network failures of node:http, node:net and fetch (undici), by their error code. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT'])

/** Turns anything thrown (aborts, socket errors, bugs) into a CsiError, by error name and code only. */
export function toCsiError (err: unknown): CsiError {
  if (err instanceof CsiError) return err
  const e = err as { name?: string, code?: string, message?: string, cause?: { code?: string, name?: string } }
  const msg = e?.message ?? String(err)
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || e?.cause?.name === 'TimeoutError' || e?.cause?.name === 'AbortError') {
    return new CsiError(Code.DEADLINE_EXCEEDED, `Kubo call did not finish in time: ${msg}`, { cause: err })
  }
  const sys = e?.code ?? e?.cause?.code
  if (sys !== undefined && UNREACHABLE.has(sys)) {
    return new CsiError(Code.UNAVAILABLE, `Kubo is unreachable: ${msg}${e?.cause?.code !== undefined ? ` (${e.cause.code})` : ''}`, { cause: err })
  }
  return new CsiError(Code.INTERNAL, msg, { cause: err })
}

/** errno values (Linux) used at the FUSE edge. fuse-native expects negative numbers. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EACCES: 13,
  EEXIST: 17,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EFBIG: 27,
  ENOSPC: 28,
  EROFS: 30,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ENODATA: 61,
  ETIMEDOUT: 110
} as const

const ERRNO_BY_CODE: Record<number, number> = {
  [Code.INVALID_ARGUMENT]: Errno.EINVAL,
  [Code.NOT_FOUND]: Errno.ENOENT,
  [Code.ALREADY_EXISTS]: Errno.EEXIST,
  [Code.PERMISSION_DENIED]: Errno.EACCES,
  [Code.RESOURCE_EXHAUSTED]: Errno.ENOSPC,
  [Code.OUT_OF_RANGE]: Errno.EFBIG,
  [Code.UNIMPLEMENTED]: Errno.ENOSYS,
  // Everything else (Kubo down, deadline, corrupt block, bug) is an I/O error to the reader.
  [Code.DEADLINE_EXCEEDED]: Errno.EIO,
  [Code.UNAVAILABLE]: Errno.EIO,
  [Code.DATA_LOSS]: Errno.EIO
}

/** Maps an error to a positive errno; an FsError keeps its own. */
export function toErrno (err: unknown): number {
  if (err instanceof FsError) return err.errno
  const code = toCsiError(err).code
  return ERRNO_BY_CODE[code] ?? Errno.EIO
}

/** A filesystem error with an explicit errno, thrown by FUSE operation code. */
export class FsError extends Error {
  readonly errno: number
  constructor (errno: number, message: string) {
    super(message)
    this.name = 'FsError'
    this.errno = errno
  }
}
