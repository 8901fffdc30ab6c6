import test from 'ava'
import { Capacity } from '../../node-plugin/fuse/writable/capacity.js'
import { Errno, FsError } from '../../driver/errors.js'

test('statfs shows capacity, used and free in 4 KiB blocks', (t) => {
  const c = new Capacity(8 * 1024 * 1024, 4)
  const s = c.statfs()
  t.is(s.bsize, 4096)
  t.is(s.frsize, 4096)
  t.is(s.blocks, 2048)
  t.is(s.bfree, 2047) // 4 bytes used round the free count down
  t.is(s.bavail, s.bfree)
  c.change(1024 * 1024)
  t.is(c.statfs().bavail, 2047 - 256)
})

test('growth past the capacity is refused whole with ENOSPC and changes nothing', (t) => {
  const c = new Capacity(10_000, 0)
  c.change(9_000)
  const err = t.throws(() => c.change(1_001))
  t.true(err instanceof FsError)
  t.is((err as FsError).errno, Errno.ENOSPC)
  t.is(c.used, 9_000)
  c.change(1_000)
  t.is(c.used, 10_000)
  c.change(-20_000)
  t.is(c.used, 0, 'never negative')
})

test('no capacity means no limit and the largest 32-bit statfs', (t) => {
  const c = new Capacity(undefined, 0)
  c.change(1e13)
  t.is(c.statfs().blocks, 0xffffffff)
  t.true(c.statfs().bavail > 0)
})
