// `ipfs-csi mount --fuse-run-as`: the mount process drops root once mounted and can no longer
// unmount. This small root process, started just before the drop, lazily unmounts the mount,
// only while it is still the one named `fsname`, when its stdin (a pipe from the mount process)
// carries a byte (a clean stop: the mount process then waits for its FUSE threads to end before
// it exits) or closes, whatever ended the mount process (Ctrl-C, a crash, SIGKILL). What the
// bytes are is never looked at: no untrusted input reaches it.
//   node unmount-guard.js <mountpoint> <fsname>
import { execFile, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const GUARD_PATH = fileURLToPath(import.meta.url)

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)))

/** Is there a mount at `mountpoint` whose source is `fsname`? */
export function isMountedAs (mountpoint: string, fsname: string, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): boolean {
  for (const line of mountinfo.split('\n')) {
    const [left = '', right = ''] = line.split(' - ')
    const fields = left.split(' ')
    const source = right.split(' ')[1]
    if (fields[4] !== undefined && unescape(fields[4]) === mountpoint && source !== undefined && unescape(source) === fsname) return true
  }
  return false
}

/**
 * Starts the guard for `mountpoint`; the child holds no reference on our event loop. The function
 * returned asks it to detach now.
 */
export function startUnmountGuard (mountpoint: string, fsname: string): () => void {
  const child = spawn(process.execPath, [GUARD_PATH, mountpoint, fsname], { detached: true, stdio: ['pipe', 'ignore', 'inherit'] })
  child.unref()
  child.stdin?.on('error', () => {})
  ;(child.stdin as unknown as { unref?: () => void } | null)?.unref?.()
  return () => { child.stdin?.write('u') }
}

async function detach (mountpoint: string, fsname: string): Promise<void> {
  for (let i = 0; i < 4 && isMountedAs(mountpoint, fsname); i++) {
    await new Promise<void>((resolve) => execFile('fusermount', ['-uz', mountpoint], () => {
      if (!isMountedAs(mountpoint, fsname)) { resolve(); return }
      execFile('umount', ['-l', mountpoint], () => resolve())
    }))
  }
}

async function guard (mountpoint: string, fsname: string): Promise<void> {
  // Ctrl-C reaches the whole terminal's process group: the guard outlives it on purpose.
  process.on('SIGINT', () => {})
  process.on('SIGTERM', () => {})
  let asked: Promise<void> | undefined
  await new Promise<void>((resolve) => {
    process.stdin.on('data', () => { asked ??= detach(mountpoint, fsname) })
    process.stdin.once('end', resolve)
    process.stdin.once('close', resolve)
    process.stdin.once('error', () => resolve())
  })
  await asked
  await detach(mountpoint, fsname)
  process.exit(0)
}

if (process.argv[1] === GUARD_PATH) {
  const [mountpoint, fsname] = process.argv.slice(2)
  if (mountpoint === undefined || fsname === undefined) {
    console.error('usage: unmount-guard.js <mountpoint> <fsname>')
    process.exit(2)
  }
  void guard(mountpoint, fsname)
}
