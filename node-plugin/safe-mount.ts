// Binding into and unbinding from paths that the node service checked, without a window in
// which a swapped path (a symlink planted after the check) redirects the mount. Node has no
// openat(2) and no mount(2), so the kernel's /proc/self/fd magic links stand in:
// - a directory is opened one component at a time, O_NOFOLLOW, as /proc/self/fd/<parent>/<name>,
//   with O_PATH, which never calls into the filesystem (a hung FUSE server cannot stall it);
// - mount(8) and umount(8) get the opened directories as /proc/self/fd/3 and /4 and
//   --no-canonicalize, so the kernel binds onto the very directory that was checked;
// - /proc/self/fdinfo tells which mount an fd is on, so the mount that landed is checked by id
//   in the mount table (flags, source, place) and undone when anything differs.
import { spawn } from 'node:child_process'
import { constants as fsc } from 'node:fs'
import { mkdir, open, readFile, rmdir, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { Code, CsiError, invalid } from '../driver/errors.js'
import { failed, type ExecResult } from './mount-ops.js'
import { bindFlags, isNewMount, missingBindFlags, mountById, readMountTable, type MountEntry } from './mount-table.js'

/** Linux O_PATH (x86_64 and arm64): an fd naming a place, no read access, no filesystem call. */
const O_PATH = 0o10000000
const DIR_NOFOLLOW = O_PATH | fsc.O_DIRECTORY | fsc.O_NOFOLLOW

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException)?.code

/**
 * Opens the directory `p` below the trusted directory `root` without following a symlink in any
 * component after `root` (`create`: missing components are made, 0750). A symlink or a
 * non-directory on the way is INVALID_ARGUMENT: a file target included.
 */
export async function openDirUnder (root: string, p: string, what: string, options: { create?: boolean } = {}): Promise<FileHandle> {
  const rel = path.relative(root, p)
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || rel.split('/').some(s => s === '' || s === '.' || s === '..')) throw invalid(`${what} ${JSON.stringify(p)} is not below ${root}`)
  let dir = await open(root, O_PATH | fsc.O_DIRECTORY)
  try {
    for (const seg of rel.split('/')) {
      const next = `/proc/self/fd/${dir.fd}/${seg}`
      let fh: FileHandle
      try {
        fh = await open(next, DIR_NOFOLLOW)
      } catch (err) {
        if (errno(err) === 'ENOENT' && options.create === true) {
          // mkdir never follows a symlink at its last component (EEXIST instead).
          await mkdir(next, { mode: 0o750 }).catch((e: unknown) => { if (errno(e) !== 'EEXIST') throw e })
          fh = await open(next, DIR_NOFOLLOW).catch((e: unknown) => { throw walkError(e, what, p) })
        } else {
          throw walkError(err, what, p)
        }
      }
      await dir.close()
      dir = fh
    }
    return dir
  } catch (err) {
    await dir.close()
    throw err
  }
}

function walkError (err: unknown, what: string, p: string): Error {
  const code = errno(err)
  // O_PATH|O_NOFOLLOW|O_DIRECTORY on a symlink or a file: ENOTDIR (ELOOP on some kernels).
  if (code === 'ENOTDIR' || code === 'ELOOP') return invalid(`${what} ${JSON.stringify(p)} is not a directory, or goes through a symlink`)
  if (code === 'ENOENT') return new CsiError(Code.NOT_FOUND, `${what} ${JSON.stringify(p)} does not exist`)
  return err as Error
}

/** The id of the mount `fh` is on (its mountinfo id). */
export async function mountIdOf (fh: FileHandle): Promise<number> {
  const m = /^mnt_id:\s*(\d+)$/m.exec(await readFile(`/proc/self/fdinfo/${fh.fd}`, 'utf8'))
  if (m == null) throw new CsiError(Code.INTERNAL, 'no mnt_id in /proc/self/fdinfo')
  return Number(m[1])
}

/** Runs `cmd` with `fds` as its fds 3, 4, ... and a deadline; never throws. */
export async function runWithFds (cmd: string, args: string[], fds: number[], timeoutMs = 10_000): Promise<ExecResult> {
  return await new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe', ...fds] })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { if (stdout.length < 65536) stdout += d })
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < 65536) stderr += d })
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, timeoutMs)
    child.once('error', (err) => { clearTimeout(timer); resolve({ code: -1, stdout, stderr: err.message, timedOut }) })
    child.once('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr, timedOut }) })
  })
}

export interface SafeBindOptions {
  readOnly: boolean
  /** Trusted directories the source and the target lie below: no symlink under them is followed. */
  srcRoot: string
  dstRoot: string
  /** What the source, and so each bind of it, must be in the mount table (this volume's FUSE mount). */
  isSource: (e: MountEntry) => boolean
  /** Test seam: runs once both directories are open, before the bind (to swap paths in a test). */
  onOpened?: () => Promise<void>
}

/**
 * Binds the mount at `src` onto the directory `dst` with `ro,nosuid,nodev` (read-only) or
 * `nosuid,nodev`: the bind lands on the directory that was opened, then its flags are set with
 * a bind remount (the first mount call ignores them) and checked in the mount table by mount id.
 * Anything unexpected (flags, source, a target moved meanwhile) is unmounted before the error:
 * nothing is left half-mounted.
 */
export async function safeBind (src: string, dst: string, o: SafeBindOptions): Promise<void> {
  const srcFh = await openDirUnder(o.srcRoot, src, 'staging path')
  try {
    const dstFh = await openDirUnder(o.dstRoot, dst, 'target_path', { create: true })
    try {
      const before = await readMountTable()
      const srcMnt = mountById(before, await mountIdOf(srcFh))
      if (srcMnt === undefined || srcMnt.mountPoint !== src || !o.isSource(srcMnt)) throw new CsiError(Code.FAILED_PRECONDITION, `${src} is not this volume's mount`)
      const parentId = await mountIdOf(dstFh)
      if (mountById(before, parentId)?.mountPoint === dst) throw new CsiError(Code.FAILED_PRECONDITION, `${dst} is already a mount point`)
      await o.onOpened?.()
      const r = await runWithFds('mount', ['--bind', '--no-canonicalize', '/proc/self/fd/4', '/proc/self/fd/3'], [dstFh.fd, srcFh.fd])
      if (r.code !== 0) {
        await undoNewMounts(before, parentId, o.isSource)
        throw failed(`bind mount of ${src} on ${dst} failed`, r)
      }
      await setFlags(src, dst, before, parentId, o)
    } finally {
      await dstFh.close()
    }
  } finally {
    await srcFh.close()
  }
}

/** The bind just made: found at `dst` by id, remounted with the flags, checked; undone otherwise. */
async function setFlags (src: string, dst: string, before: MountEntry[], parentId: number, o: SafeBindOptions): Promise<void> {
  let top: FileHandle | undefined
  try {
    top = await openDirUnder(o.dstRoot, dst, 'target_path').catch(() => undefined)
    const id = top !== undefined ? await mountIdOf(top) : -1
    const landed = mountById(await readMountTable(), id)
    if (top === undefined || landed === undefined || !isNewMount(before, landed) || landed.parentId !== parentId || landed.mountPoint !== dst || !o.isSource(landed)) {
      await undoNewMounts(before, parentId, o.isSource)
      throw new CsiError(Code.FAILED_PRECONDITION, `bind mount of ${src} did not land on ${dst} (the directory was moved or replaced while it was mounted); undone`)
    }
    const want = bindFlags(o.readOnly)
    const r = await runWithFds('mount', ['--no-canonicalize', '-o', `remount,bind,${want.join(',')}`, '/proc/self/fd/3'], [top.fd])
    const after = mountById(await readMountTable(), id)
    const missing = after === undefined ? want : missingBindFlags(after, o.readOnly)
    if (r.code !== 0 || missing.length > 0 || (!o.readOnly && after?.options.includes('ro') === true)) {
      await detach(top, id)
      throw new CsiError(Code.INTERNAL, `bind mount of ${src} on ${dst} did not get ${want.join(',')} (${r.code !== 0 ? failed('remount', r).message : `mount table shows ${after?.options.join(',') ?? 'nothing'}`}); undone`)
    }
  } finally {
    await top?.close()
  }
}

/** Lazily detaches the mount `fh` is the root of, if it still is mount `id`. */
async function detach (fh: FileHandle, id: number): Promise<void> {
  if (await mountIdOf(fh) !== id) return
  await runWithFds('umount', ['-l', '--no-canonicalize', '/proc/self/fd/3'], [fh.fd])
}

/** Undoes binds of ours that appeared on mount `parentId` since `before` (wherever they landed). */
async function undoNewMounts (before: MountEntry[], parentId: number, isSource: (e: MountEntry) => boolean): Promise<void> {
  for (const e of (await readMountTable()).filter(e => isNewMount(before, e) && e.parentId === parentId && isSource(e))) {
    // The path is the kernel's; the fd is checked to be on that very mount before the unmount.
    const fh = await open(e.mountPoint, O_PATH | fsc.O_DIRECTORY).catch(() => undefined)
    if (fh === undefined) continue
    try { await detach(fh, e.id) } finally { await fh.close() }
  }
}

/**
 * Unmounts `m`, the top mount at `m.mountPoint` below `root`, and nothing else: the directory is
 * opened without following symlinks and must be on mount `m.id`. A busy mount is detached lazily.
 */
export async function safeUnmount (m: MountEntry, root: string): Promise<void> {
  const p = m.mountPoint
  const fh = await openDirUnder(root, p, 'target_path')
  try {
    if (await mountIdOf(fh) !== m.id) throw new CsiError(Code.ABORTED, `the mount at ${p} changed while it was checked; retry`)
    // umount2 through the parent's fd and the name: no fd of ours pins the mount, so an idle
    // mount goes at once; a busy one is detached lazily through the fd that names it exactly.
    const parent = path.dirname(p) === root ? await open(root, O_PATH | fsc.O_DIRECTORY) : await openDirUnder(root, path.dirname(p), 'target_path')
    let r: ExecResult
    try {
      r = await runWithFds('umount', ['--no-canonicalize', `/proc/self/fd/3/${path.basename(p)}`], [parent.fd])
    } finally {
      await parent.close()
    }
    if (r.code === 0) return
    if (await mountIdOf(fh) !== m.id) return // gone meanwhile, or it was ours to unmount and is
    const lazy = await runWithFds('umount', ['-l', '--no-canonicalize', '/proc/self/fd/3'], [fh.fd])
    if (lazy.code !== 0) throw failed(`unmount of ${p} failed`, lazy)
  } finally {
    await fh.close()
  }
}

/**
 * Removes `p` below `root` if it is an empty directory (what NodePublish created, which the CSI
 * spec has the plugin remove). Never a file, never through a symlink, never contents: returns
 * why it was left, or undefined when removed or already gone.
 */
export async function removeEmptyDir (root: string, p: string): Promise<string | undefined> {
  let parent: FileHandle
  try {
    parent = path.dirname(p) === root ? await open(root, O_PATH | fsc.O_DIRECTORY) : await openDirUnder(root, path.dirname(p), 'target_path')
  } catch (err) {
    if ((err as CsiError).code === Code.NOT_FOUND) return undefined
    return (err as Error).message
  }
  try {
    // rmdir never follows a symlink at its last component, and refuses a file (ENOTDIR).
    await rmdir(`/proc/self/fd/${parent.fd}/${path.basename(p)}`)
    return undefined
  } catch (err) {
    const code = errno(err)
    if (code === 'ENOENT') return undefined
    if (code === 'ENOTDIR') return 'not a directory (a file or a symlink is never removed)'
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return 'not empty (contents are never removed)'
    return (err as Error).message
  } finally {
    await parent.close()
  }
}
