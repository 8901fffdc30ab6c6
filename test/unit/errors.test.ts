import test from 'ava'
import { CsiError, Code, Errno, FsError, toCsiError, toErrno } from '../../driver/errors.js'

test('CsiError codes map to errno at the FUSE edge', (t) => {
  t.is(toErrno(new CsiError(Code.NOT_FOUND, 'x')), Errno.ENOENT)
  t.is(toErrno(new CsiError(Code.RESOURCE_EXHAUSTED, 'x')), Errno.ENOSPC)
  t.is(toErrno(new CsiError(Code.UNAVAILABLE, 'x')), Errno.EIO)
  t.is(toErrno(new CsiError(Code.DEADLINE_EXCEEDED, 'x')), Errno.EIO)
  t.is(toErrno(new CsiError(Code.DATA_LOSS, 'x')), Errno.EIO)
  t.is(toErrno(new FsError(Errno.EROFS, 'ro')), Errno.EROFS)
  t.is(toErrno(new Error('anything else')), Errno.EIO)
})

test('timeouts and refused connections get retryable codes', (t) => {
  const timeout = new Error('The operation was aborted due to timeout'); timeout.name = 'TimeoutError'
  t.is(toCsiError(timeout).code, Code.DEADLINE_EXCEEDED)
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
  t.is(toCsiError(refused).code, Code.UNAVAILABLE)
  const fetchFailed = new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })
  t.is(toCsiError(fetchFailed).code, Code.UNAVAILABLE)
  t.is(toCsiError(new Error('boom')).code, Code.INTERNAL)
})
