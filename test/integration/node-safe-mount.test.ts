// Binds into pod targets with real mounts (root): the flags a pod gets (ro,nosuid,nodev /
// nosuid,nodev) read back from /proc/self/mountinfo and shown to work (a setuid-root program
// does not run as root, a device node does not open), and the check-then-bind race closed: a
// target swapped for a symlink between the check and the bind never redirects the mount.
import test, { type ExecutionContext } from 'ava'
import { execFile } from 'node:child_process'
import { chmod, copyFile, mkdir, mkdtemp, open, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { Code, type CsiError } from '../../driver/errors.js'
import { findMount, readMountTable, type MountEntry } from '../../node-plugin/mount-table.js'
import { removeEmptyDir, safeBind, safeUnmount } from '../../node-plugin/safe-mount.js'
import { cleanupMounts } from '../helpers/cleanup-mounts.js'

const execFileP = promisify(execFile)
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups']

interface Dirs { root: string, kubelet: string, src: string, target: string, isSource: (e: MountEntry) => boolean }

/**
 * A tmpfs mounted with suid,dev as the "volume" (so setuid and devices work on it, and only the
 * bind's flags can stop them), holding a setuid-root copy of id(1) and a /dev/null node.
 */
async function fixture (t: ExecutionContext): Promise<Dirs> {
  const root = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-safe-mount-'))
  t.teardown(async () => { await cleanupMounts(root); await rm(root, { recursive: true, force: true }) })
  // Other users must reach the programs (the setuid test runs as nobody).
  await chmod(root, 0o755)
  const kubelet = path.join(root, 'kubelet')
  const src = path.join(kubelet, 'plugins', 'staging')
  await mkdir(src, { recursive: true })
  await execFileP('mount', ['-t', 'tmpfs', '-o', 'suid,dev,mode=0755,size=16m', 'ipfs-csi-test', src])
  await copyFile('/usr/bin/id', path.join(src, 'id'))
  await chmod(path.join(src, 'id'), 0o4755)
  await execFileP('mknod', ['-m', '0666', path.join(src, 'null'), 'c', '1', '3'])
  const target = path.join(kubelet, 'pods', 'uid-1', 'volumes', 'kubernetes.io~csi', 'pvc-1', 'mount')
  await mkdir(path.dirname(target), { recursive: true })
  await chmod(path.join(root, 'kubelet'), 0o755)
  return { root, kubelet, src, target, isSource: (e) => e.source === 'ipfs-csi-test' }
}

const euidRunning = async (program: string): Promise<string> => (await execFileP('setpriv', [...NOBODY, program, '-u'])).stdout.trim()

async function opensDevice (p: string): Promise<string> {
  try { await (await open(p, 'r+')).close(); return 'opened' } catch (err) { return (err as NodeJS.ErrnoException).code ?? 'error' }
}

const mountsUnder = async (dir: string): Promise<string[]> => (await readMountTable()).filter(e => e.mountPoint.startsWith(dir + '/')).map(e => e.mountPoint).sort()

test('a read-only bind carries ro,nosuid,nodev in the mount table: a setuid-root program runs as the caller, a device node does not open', async (t) => {
  const d = await fixture(t)
  // Control: on the volume itself both work, so only the bind's flags can stop them.
  t.is(await euidRunning(path.join(d.src, 'id')), '0', 'setuid works on the source mount')
  t.is(await opensDevice(path.join(d.src, 'null')), 'opened')
  await safeBind(d.src, d.target, { readOnly: true, srcRoot: d.kubelet, dstRoot: d.kubelet, isSource: d.isSource })
  const m = findMount(await readMountTable(), d.target)
  t.truthy(m)
  for (const flag of ['ro', 'nosuid', 'nodev']) t.true(m?.options.includes(flag), `${flag} in ${m?.options.join(',') ?? ''}`)
  t.is(await euidRunning(path.join(d.target, 'id')), '65534', 'nosuid: the setuid bit is ignored')
  t.is(await opensDevice(path.join(d.target, 'null')), 'EACCES', 'nodev: the device node does not open')
  await t.throwsAsync(writeFile(path.join(d.target, 'new'), 'x'), { code: 'EROFS' })
})

test('a read-write bind carries nosuid,nodev and stays writable', async (t) => {
  const d = await fixture(t)
  await safeBind(d.src, d.target, { readOnly: false, srcRoot: d.kubelet, dstRoot: d.kubelet, isSource: d.isSource })
  const m = findMount(await readMountTable(), d.target)
  t.true(m?.options.includes('nosuid') === true && m.options.includes('nodev') && !m.options.includes('ro'), m?.options.join(','))
  await writeFile(path.join(d.target, 'new'), 'x')
  t.is(await readFile(path.join(d.src, 'new'), 'utf8'), 'x')
  t.is(await euidRunning(path.join(d.target, 'id')), '65534')
  t.is(await opensDevice(path.join(d.target, 'null')), 'EACCES')
})

test('a bind given the mount id of a mount that went between the check and the bind (ids are reused) is accepted', async (t) => {
  const d = await fixture(t)
  // Another volume's mount, unmounted by someone else while this bind is under way: its id is
  // free again, and the kernel hands out the lowest free id, so the bind usually gets it.
  const other = path.join(d.root, 'other')
  await mkdir(other)
  let reused = 0
  for (let i = 0; i < 5; i++) {
    const target = `${d.target}-${i}`
    await execFileP('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'ipfs-csi-other', other])
    const otherId = findMount(await readMountTable(), other)?.id
    await safeBind(d.src, target, {
      readOnly: true, srcRoot: d.kubelet, dstRoot: d.kubelet, isSource: d.isSource,
      onOpened: async () => { await execFileP('umount', [other]) }
    })
    const m = findMount(await readMountTable(), target)
    t.true(m !== undefined && d.isSource(m) && m.options.includes('ro'), `bind ${i} in place`)
    if (m?.id === otherId) reused++
  }
  t.log(`${reused} of 5 binds got the id of the mount that had just gone`)
  t.true(reused > 0, 'the kernel reused an id at least once (otherwise this test shows nothing)')
})

test('a target swapped for a symlink after it was checked: the bind never lands on the link\'s destination, and nothing stays mounted', async (t) => {
  const d = await fixture(t)
  const victim = path.join(d.root, 'victim')
  await mkdir(victim)
  await writeFile(path.join(victim, 'keep'), 'host file')
  const moved = path.join(path.dirname(d.target), 'moved')
  const before = await mountsUnder(d.root)
  const err = await t.throwsAsync(safeBind(d.src, d.target, {
    readOnly: true,
    srcRoot: d.kubelet,
    dstRoot: d.kubelet,
    isSource: d.isSource,
    // The race: the checked directory goes away and a link to elsewhere takes its name.
    onOpened: async () => { await rename(d.target, moved); await symlink(victim, d.target) }
  })) as CsiError
  t.is(err.code, Code.FAILED_PRECONDITION, err.message)
  t.regex(err.message, /did not land on .*undone/)
  t.deepEqual(await mountsUnder(d.root), before, 'no mount left: not on the link\'s destination, not on the moved directory')
  t.is(findMount(await readMountTable(), victim), undefined)
  t.is(await readFile(path.join(victim, 'keep'), 'utf8'), 'host file')
})

test('a target that is a symlink or a file is refused before any mount, and left as it is', async (t) => {
  const d = await fixture(t)
  const victim = path.join(d.root, 'victim')
  await mkdir(victim)
  await symlink(victim, d.target)
  const before = await mountsUnder(d.root)
  const viaLink = await t.throwsAsync(safeBind(d.src, d.target, { readOnly: true, srcRoot: d.kubelet, dstRoot: d.kubelet, isSource: d.isSource })) as CsiError
  t.is(viaLink.code, Code.INVALID_ARGUMENT)
  // A symlink higher up (the pod's volume dir) is refused the same way.
  const deep = path.join(d.kubelet, 'pods', 'uid-2', 'volumes', 'kubernetes.io~csi')
  await mkdir(deep, { recursive: true })
  await symlink(victim, path.join(deep, 'pvc-2'))
  t.is((await t.throwsAsync(safeBind(d.src, path.join(deep, 'pvc-2', 'mount'), { readOnly: true, srcRoot: d.kubelet, dstRoot: d.kubelet, isSource: d.isSource })) as CsiError).code, Code.INVALID_ARGUMENT)
  const file = path.join(d.kubelet, 'pods', 'uid-1', 'volumes', 'kubernetes.io~csi', 'file-target')
  await writeFile(file, 'a file')
  t.is((await t.throwsAsync(safeBind(d.src, file, { readOnly: true, srcRoot: d.kubelet, dstRoot: d.kubelet, isSource: d.isSource })) as CsiError).code, Code.INVALID_ARGUMENT)
  t.is(await readFile(file, 'utf8'), 'a file')
  t.deepEqual(await mountsUnder(d.root), before)
  t.deepEqual((await readFile(path.join(d.target, '..', 'mount'), 'utf8').catch((e: NodeJS.ErrnoException) => e.code)), 'EISDIR', 'the link still points at the victim directory')
})

test('a source that is not the volume\'s mount is refused and nothing is mounted', async (t) => {
  const d = await fixture(t)
  const err = await t.throwsAsync(safeBind(d.src, d.target, { readOnly: true, srcRoot: d.kubelet, dstRoot: d.kubelet, isSource: (e) => e.source === 'some-other-volume' })) as CsiError
  t.is(err.code, Code.FAILED_PRECONDITION)
  t.is(findMount(await readMountTable(), d.target), undefined)
})

test.serial('a mount(8) that ignores the flags: the bind is undone and the error says which flags were missing', async (t) => {
  const d = await fixture(t)
  // A mount(8) that binds but silently skips every remount: the mount table shows no flags.
  const bin = path.join(d.root, 'bin')
  await mkdir(bin)
  await writeFile(path.join(bin, 'mount'), '#!/bin/sh\ncase "$*" in *remount*) exit 0;; esac\nexec /usr/bin/mount "$@"\n', { mode: 0o755 })
  const savedPath = process.env.PATH
  process.env.PATH = `${bin}:${savedPath ?? ''}`
  let err: CsiError | undefined
  try {
    err = await t.throwsAsync(safeBind(d.src, d.target, { readOnly: true, srcRoot: d.kubelet, dstRoot: d.kubelet, isSource: d.isSource })) as CsiError
  } finally {
    process.env.PATH = savedPath
  }
  t.is(err?.code, Code.INTERNAL)
  t.regex(err?.message ?? '', /did not get ro,nosuid,nodev .*undone/)
  t.is(findMount(await readMountTable(), d.target), undefined, 'nothing left half-mounted')
})

test('safeUnmount removes exactly the checked mount; a busy one lazily; a changed one is refused', async (t) => {
  const d = await fixture(t)
  await safeBind(d.src, d.target, { readOnly: true, srcRoot: d.kubelet, dstRoot: d.kubelet, isSource: d.isSource })
  const m = findMount(await readMountTable(), d.target) as MountEntry
  // A stale view (another id) is refused: the mount there is not the one that was checked.
  t.is((await t.throwsAsync(safeUnmount({ ...m, id: m.id + 100_000 }, d.kubelet)) as CsiError).code, Code.ABORTED)
  t.truthy(findMount(await readMountTable(), d.target))
  // Busy (a file open inside): detached lazily, gone from the table at once.
  const busy = await open(path.join(d.target, 'id'), 'r')
  try {
    await safeUnmount(m, d.kubelet)
  } finally {
    await busy.close()
  }
  t.is(findMount(await readMountTable(), d.target), undefined)
  t.truthy(findMount(await readMountTable(), d.src), 'the source mount is untouched')
})

test('removeEmptyDir removes an empty directory only: never a file, a symlink (nor what it points to) or contents', async (t) => {
  const d = await fixture(t)
  const base = path.dirname(d.target)
  const file = path.join(base, 'file')
  const link = path.join(base, 'link')
  const full = path.join(base, 'full')
  const elsewhere = path.join(d.root, 'elsewhere')
  await writeFile(file, 'x')
  await mkdir(elsewhere)
  await symlink(elsewhere, link)
  await mkdir(full)
  await writeFile(path.join(full, 'data'), 'y')
  t.regex(await removeEmptyDir(d.kubelet, file) ?? '', /not a directory/)
  t.regex(await removeEmptyDir(d.kubelet, link) ?? '', /not a directory/)
  t.regex(await removeEmptyDir(d.kubelet, full) ?? '', /not empty/)
  t.is(await removeEmptyDir(d.kubelet, d.target), undefined)
  t.is(await removeEmptyDir(d.kubelet, d.target), undefined, 'already gone is fine')
  t.true((await stat(file)).isFile())
  t.true((await stat(elsewhere)).isDirectory())
  t.is(await readFile(path.join(full, 'data'), 'utf8'), 'y')
  await t.throwsAsync(stat(d.target), { code: 'ENOENT' })
})

test('a missing source fails the bind and leaves nothing mounted', async (t) => {
  const d = await fixture(t)
  const err = await t.throwsAsync(safeBind(path.join(d.src, 'missing'), d.target, { readOnly: true, srcRoot: d.kubelet, dstRoot: d.kubelet, isSource: d.isSource })) as CsiError
  t.is(err.code, Code.NOT_FOUND)
  t.is(findMount(await readMountTable(), d.target), undefined)
})
