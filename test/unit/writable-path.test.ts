import test from 'ava'
import { checkMfsRoot, isWithin, normalize, rebase, segmentsOf, toMfs } from '../../node-plugin/fuse/writable/mfs-path.js'
import { Errno, FsError } from '../../driver/errors.js'

test('FUSE paths map under the volume root', (t) => {
  t.is(toMfs('/volumes/v1', '/'), '/volumes/v1')
  t.is(toMfs('/volumes/v1', '/a/b.txt'), '/volumes/v1/a/b.txt')
  t.is(toMfs('/volumes/v1', '//a//b/'), '/volumes/v1/a/b')
  t.is(normalize('/a/'), '/a')
})

test('names can never escape the volume root', (t) => {
  for (const bad of ['/..', '/a/../../etc', '/a/./b', 'relative', '/a\0b']) {
    const err = t.throws(() => toMfs('/volumes/v1', bad))
    t.true(err instanceof FsError)
    t.is((err as FsError).errno, Errno.EINVAL, bad)
  }
  t.is((t.throws(() => segmentsOf('/' + 'x'.repeat(256))) as FsError).errno, Errno.ENAMETOOLONG)
  t.deepEqual(segmentsOf('/' + 'x'.repeat(255)), ['x'.repeat(255)])
})

test('the MFS root must be absolute and normalized', (t) => {
  t.is(checkMfsRoot('/volumes/v1/'), '/volumes/v1')
  for (const bad of ['volumes', '/', '/a/../b', '/a//b', '']) t.throws(() => checkMfsRoot(bad), undefined, bad)
})

test('isWithin and rebase follow directory renames', (t) => {
  t.true(isWithin('/a/b', '/a'))
  t.true(isWithin('/a', '/a'))
  t.false(isWithin('/ab', '/a'))
  t.true(isWithin('/x', '/'))
  t.is(rebase('/a/b/c', '/a', '/z'), '/z/b/c')
  t.is(rebase('/a', '/a', '/z/y'), '/z/y')
})
