import test from 'ava'
import { toFsError } from '../../node-plugin/fuse/writable/mfs-errors.js'
import { kuboError } from '../../driver/kubo-errors.js'
import { Code, CsiError, Errno } from '../../driver/errors.js'
import { StatCache } from '../../node-plugin/fuse/writable/stat-cache.js'
import { FsError } from '../../driver/errors.js'

test('Kubo MFS answers map to errno through the one Kubo error parser', (t) => {
  const errno = (msg: string): number => toFsError(kuboError('files/x', 500, msg), 'x').errno
  t.is(errno('file does not exist'), Errno.ENOENT)
  t.is(errno('file already exists'), Errno.EEXIST)
  t.is(errno('cp: cannot put node in path /a: directory already has entry by that name'), Errno.EEXIST)
  t.is(errno('vol1 was not a directory'), Errno.ENOTDIR)
  t.is(errno('cannot access a/b: Not a directory'), Errno.ENOTDIR)
  t.is(errno('/vol1/sub was not a file'), Errno.EISDIR)
  t.is(errno('directory not empty'), Errno.ENOTEMPTY)
  t.is(errno('something odd'), Errno.EIO)
  t.is(toFsError(kuboError('files/stat', 403, ''), 'x').errno, Errno.EACCES)
})

test('only answers from Kubo are interpreted; timeouts and outages are EIO', (t) => {
  t.is(toFsError(kuboError('files/mkdir', 500, 'file already exists'), 'mkdir').errno, Errno.EEXIST)
  t.is(toFsError(new CsiError(Code.INTERNAL, 'kubo files/mkdir: file already exists'), 'mkdir').errno, Errno.EIO, 'an error without a Reason is not read')
  t.is(toFsError(new CsiError(Code.DEADLINE_EXCEEDED, 'did not finish: file does not exist'), 'stat').errno, Errno.EIO)
  t.is(toFsError(new CsiError(Code.UNAVAILABLE, 'Kubo is unreachable'), 'stat').errno, Errno.EIO)
  t.is(toFsError(new CsiError(Code.PERMISSION_DENIED, 'forbidden'), 'stat').errno, Errno.EACCES)
  const abort = new Error('This operation was aborted')
  abort.name = 'AbortError'
  t.is(toFsError(abort, 'read').errno, Errno.EIO)
})

test('the stat cache remembers answers and "missing" briefly, and forgets on clear', async (t) => {
  const cache = new StatCache(60_000)
  let loads = 0
  const load = async () => { loads++; return { cid: 'c', type: 'file' as const, size: loads, cumulativeSize: loads } }
  t.is((await cache.get('/a', load)).size, 1)
  t.is((await cache.get('/a', load)).size, 1)
  cache.clear()
  t.is((await cache.get('/a', load)).size, 2)
  let misses = 0
  const missing = async (): Promise<never> => { misses++; throw new FsError(Errno.ENOENT, 'nope') }
  await t.throwsAsync(cache.get('/b', missing))
  await t.throwsAsync(cache.get('/b', missing))
  t.is(misses, 1)
  let fails = 0
  const failing = async (): Promise<never> => { fails++; throw new FsError(Errno.EIO, 'kubo down') }
  await t.throwsAsync(cache.get('/c', failing))
  await t.throwsAsync(cache.get('/c', failing))
  t.is(fails, 2, 'errors other than ENOENT are not cached')
})

test('an answer read before a clear is not cached after it', async (t) => {
  const cache = new StatCache(60_000)
  let release: () => void = () => {}
  const slow = cache.get('/a', async () => { await new Promise<void>(resolve => { release = resolve }); return { cid: 'c', type: 'file' as const, size: 1, cumulativeSize: 1 } })
  await new Promise(resolve => setTimeout(resolve, 5))
  cache.clear()
  release()
  await slow
  const fresh = await cache.get('/a', async () => ({ cid: 'c', type: 'file' as const, size: 2, cumulativeSize: 2 }))
  t.is(fresh.size, 2)
})
