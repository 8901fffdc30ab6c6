import test from 'ava'
import { mkdtemp, mkdir, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { checkPathUnder } from '../../driver/paths.js'
import { CsiError, Code } from '../../driver/errors.js'

test('paths under the kubelet dir pass; others are refused', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'paths-'))
  await mkdir(path.join(root, 'pods/a'), { recursive: true })
  t.is(await checkPathUnder(root, path.join(root, 'pods/a/mount'), 'target path'), path.join(root, 'pods/a/mount'))
  for (const p of ['/etc', `${root}/../x`, `${root}`, 'relative/path', `${root}/pods/a,b`, '']) {
    const err = await t.throwsAsync(checkPathUnder(root, p, 'target path'), { instanceOf: CsiError })
    t.is(err?.code, Code.INVALID_ARGUMENT, p)
  }
})

test('a path through a symlink is refused', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'paths-'))
  await symlink('/etc', path.join(root, 'evil'))
  const err = await t.throwsAsync(checkPathUnder(root, path.join(root, 'evil/mount'), 'staging path'), { instanceOf: CsiError })
  t.regex(err?.message ?? '', /symlink/)
})
