// How a failed MFS call looks to a filesystem. Kubo's cause arrives as a Reason on the CsiError
// (driver/kubo-errors.ts reads Kubo's answer once); anything without one (timeouts, Kubo down,
// unknown failures) is EIO.
import { Code, Errno, FsError, toCsiError, type Reason } from '../../../driver/errors.js'

const ERRNO_BY_REASON: Partial<Record<Reason, number>> = {
  'not-found': Errno.ENOENT,
  exists: Errno.EEXIST,
  'not-directory': Errno.ENOTDIR,
  'is-directory': Errno.EISDIR,
  'not-empty': Errno.ENOTEMPTY
}

/** Turns a failed MFS call into an FsError. */
export function toFsError (err: unknown, what: string): FsError {
  if (err instanceof FsError) return err
  const e = toCsiError(err)
  const errno = e.reason !== undefined ? ERRNO_BY_REASON[e.reason] : undefined
  if (errno !== undefined) return new FsError(errno, `${what}: ${e.message}`)
  // Deadline, unreachable Kubo, permission problems with the API token, unknown failures.
  return new FsError(e.code === Code.PERMISSION_DENIED ? Errno.EACCES : Errno.EIO, `${what}: ${e.message}`)
}
