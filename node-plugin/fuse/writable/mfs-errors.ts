// Kubo answers MFS failures with English messages only; this maps the ones a filesystem
// must tell apart to errno. Anything else (timeouts, Kubo down, unknown) stays EIO.
import { Code, CsiError, Errno, FsError, toCsiError } from '../../../driver/errors.js'

const RULES: Array<[RegExp, number]> = [
  [/does not exist|no link named|not found/i, Errno.ENOENT],
  [/already exists|already has entry/i, Errno.EEXIST],
  [/not a directory/i, Errno.ENOTDIR],
  [/was not a file|is a directory/i, Errno.EISDIR],
  [/not empty/i, Errno.ENOTEMPTY]
]

/** Errno for a Kubo reply message, or undefined when it is not one we recognise. */
export function errnoOfMessage (msg: string): number | undefined {
  for (const [re, errno] of RULES) if (re.test(msg)) return errno
  return undefined
}

/** Turns a failed MFS call into an FsError; only answers from Kubo itself are interpreted. */
export function toFsError (err: unknown, what: string): FsError {
  if (err instanceof FsError) return err
  const e = toCsiError(err)
  const answered = e.code === Code.NOT_FOUND || e.code === Code.INTERNAL
  const errno = answered ? errnoOfMessage(e.message) : undefined
  if (errno !== undefined) return new FsError(errno, `${what}: ${e.message}`)
  // Deadline, unreachable Kubo, permission problems with the API token, unknown failures.
  return new FsError(e.code === Code.PERMISSION_DENIED ? Errno.EACCES : Errno.EIO, `${what}: ${e.message}`)
}

export function isCsiError (err: unknown): err is CsiError { return err instanceof CsiError }
