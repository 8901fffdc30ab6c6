import test, { type ExecutionContext } from 'ava'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Code, type CsiError } from '../../driver/errors.js'
import { findMount, isReadOnlyMount, readMountTable } from '../../node-plugin/mount-table.js'
import { bindMount, probeFs, run, unmount } from '../../node-plugin/mount-ops.js'

test('probeFs reports statfs numbers of a live filesystem', async (t) => {
  const r = await probeFs(tmpdir())
  t.true(r.ok, JSON.stringify(r))
  if (r.ok) {
    t.true(r.usage.frsize > 0)
    t.true(r.usage.blocks >= r.usage.bfree)
    t.true(r.usage.bfree >= r.usage.bavail)
  }
})

test('probeFs tells a missing path apart', async (t) => {
  const r = await probeFs('/nonexistent/ipfs-csi/probe')
  t.false(r.ok)
  if (!r.ok) t.is(r.reason, 'missing')
})

test('run reports exit codes and kills a command past its deadline', async (t) => {
  t.is((await run('true', [])).code, 0)
  t.is((await run('false', [])).code, 1)
  const started = Date.now()
  const slow = await run('sleep', ['30'], 200)
  t.true(slow.timedOut)
  t.true(Date.now() - started < 10_000)
})

/** A source dir with one file and an empty target; both removed (and the target unmounted) at teardown. */
async function bindDirs (t: ExecutionContext): Promise<{ src: string, dst: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-bind-'))
  const src = path.join(dir, 'src')
  const dst = path.join(dir, 'dst')
  await mkdir(src)
  await mkdir(dst)
  await writeFile(path.join(src, 'hello'), 'hi')
  t.teardown(async () => {
    for (let i = 0; i < 4 && findMount(await readMountTable(), dst) !== undefined; i++) await unmount(dst).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  return { src, dst }
}

test('bindMount read-only: one mount run leaves a read-only bind that refuses writes', async (t) => {
  const { src, dst } = await bindDirs(t)
  await bindMount(src, dst, true)
  const m = findMount(await readMountTable(), dst)
  t.truthy(m)
  if (m !== undefined) t.true(isReadOnlyMount(m), m.options.join(','))
  t.is(await readFile(path.join(dst, 'hello'), 'utf8'), 'hi')
  const err = await t.throwsAsync(writeFile(path.join(dst, 'new'), 'x'))
  t.is((err as NodeJS.ErrnoException).code, 'EROFS')
})

test('bindMount read-write leaves a writable bind', async (t) => {
  const { src, dst } = await bindDirs(t)
  await bindMount(src, dst, false)
  const m = findMount(await readMountTable(), dst)
  t.truthy(m)
  if (m !== undefined) t.false(isReadOnlyMount(m))
  await writeFile(path.join(dst, 'new'), 'x')
  t.is(await readFile(path.join(src, 'new'), 'utf8'), 'x')
})

test('bindMount of a missing source fails and leaves nothing mounted', async (t) => {
  const { src, dst } = await bindDirs(t)
  const err = await t.throwsAsync(bindMount(path.join(src, 'missing'), dst, true))
  t.is((err as CsiError).code, Code.INTERNAL)
  t.is(findMount(await readMountTable(), dst), undefined)
})
