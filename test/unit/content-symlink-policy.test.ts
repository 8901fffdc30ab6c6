import test from 'ava'
import { isCanonical, safeSymlinkTarget } from '../../node-plugin/fuse/symlink-policy.js'

test('safe relative targets are served as stored', (t) => {
  t.is(safeSymlinkTarget('file.json', []), 'file.json')
  t.is(safeSymlinkTarget('sub/file.json', ['a']), 'sub/file.json')
  t.is(safeSymlinkTarget('../x', ['a']), '../x')
  t.is(safeSymlinkTarget('../../x/y', ['a', 'b']), '../../x/y')
})

test('absolute targets are taken relative to the mount root', (t) => {
  t.is(safeSymlinkTarget('/etc/passwd', []), 'etc/passwd')
  t.is(safeSymlinkTarget('/etc/passwd', ['a', 'b']), '../../etc/passwd')
  t.is(safeSymlinkTarget('/a/b/c', ['a', 'b']), 'c')
  t.is(safeSymlinkTarget('/', ['a']), '..')
})

test('targets climbing above the root stay at the root', (t) => {
  t.is(safeSymlinkTarget('../../../etc/hostname', ['sub']), '../etc/hostname')
  t.is(safeSymlinkTarget('..', []), '.')
  t.is(safeSymlinkTarget('../x', []), 'x')
})

test('`..` after a name is normalised away (a symlinked name could climb out)', (t) => {
  t.is(safeSymlinkTarget('b/../c', ['a']), 'c')
  t.is(safeSymlinkTarget('./x//y/', []), 'x/y')
  t.is(safeSymlinkTarget('', ['a']), '.')
})

test('NUL in a target makes the entry unservable', (t) => {
  t.is(safeSymlinkTarget('a\0b', []), undefined)
})

test('every presented target is canonical for its depth', (t) => {
  const targets = ['/x', '../../..', 'a/../../b', '/../..', '.', 'x/./y', '../a/../..', '//etc']
  for (const dir of [[], ['a'], ['a', 'b', 'c']]) {
    for (const target of targets) {
      const out = safeSymlinkTarget(target, dir) as string
      t.true(out === '.' || isCanonical(out, dir.length), `${target} in /${dir.join('/')} → ${out}`)
    }
  }
})
