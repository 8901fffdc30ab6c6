// Mount and unmount commands. Each runs as a child process with a deadline: a hung FUSE mount
// can stall any syscall touching it, and a stalled child can be killed where a stalled libuv
// thread cannot.
import { execFile } from 'node:child_process'
import { Code, CsiError } from '../driver/errors.js'

export interface ExecResult { code: number, stdout: string, stderr: string, timedOut: boolean }

/** Runs a command with a deadline; never throws (the caller decides what a failure means). */
export async function run (cmd: string, args: string[], timeoutMs = 10_000): Promise<ExecResult> {
  return await new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string, killed?: boolean, signal?: string }) | null
      const timedOut = e != null && e.killed === true && e.signal === 'SIGKILL'
      const code = e == null ? 0 : typeof e.code === 'number' ? e.code : -1
      resolve({ code, stdout: String(stdout ?? ''), stderr: String(stderr ?? (e?.message ?? '')), timedOut })
    })
  })
}

/** The error of a mount command that failed: DEADLINE_EXCEEDED when it timed out, INTERNAL otherwise. */
export function failed (what: string, r: ExecResult): CsiError {
  const why = r.timedOut ? 'timed out' : (r.stderr.trim() !== '' ? r.stderr.trim() : `exit code ${r.code}`)
  return new CsiError(r.timedOut ? Code.DEADLINE_EXCEEDED : Code.INTERNAL, `${what}: ${why}`)
}

/** `fusermount -uz`: lazily detaches a FUSE mount even when its server is gone. */
export async function fuseUnmount (p: string): Promise<void> {
  const r = await run('fusermount', ['-uz', p])
  if (r.code === 0) return
  // Fall back to umount -l, which also handles the rare case fusermount refuses (not in mtab).
  const l = await run('umount', ['-l', '-c', p])
  if (l.code === 0) return
  throw failed(`fusermount -uz ${p} failed`, r)
}

export interface FsUsage {
  /** Fundamental block size. */
  frsize: number
  blocks: number
  bfree: number
  bavail: number
  files: number
  ffree: number
}

export type ProbeResult =
  | { ok: true, usage: FsUsage }
  | { ok: false, reason: 'notconn' | 'timeout' | 'missing' | 'error', message: string }

/** statfs(2) of `p` in a child process, so a hung mount costs a killed child, not a stuck RPC. */
export async function probeFs (p: string, timeoutMs = 5000): Promise<ProbeResult> {
  const r = await run('stat', ['-f', '-c', '%S %b %f %a %c %d', '--', p], timeoutMs)
  if (r.timedOut) return { ok: false, reason: 'timeout', message: `statfs of ${p} did not answer in ${timeoutMs} ms` }
  if (r.code !== 0) {
    const msg = r.stderr.trim()
    // ENOTCONN once the server is gone; ECONNABORTED while the kernel is aborting its connection.
    if (/not connected|connection abort/i.test(msg)) return { ok: false, reason: 'notconn', message: `${p}: transport endpoint is not connected (FUSE server gone)` }
    if (/No such file/i.test(msg)) return { ok: false, reason: 'missing', message: `${p} does not exist` }
    return { ok: false, reason: 'error', message: msg !== '' ? msg : `stat exited with ${r.code}` }
  }
  const n = r.stdout.trim().split(/\s+/).map(Number)
  if (n.length !== 6 || n.some(x => !Number.isFinite(x) || x < 0)) return { ok: false, reason: 'error', message: `unexpected stat output ${JSON.stringify(r.stdout)}` }
  const [frsize, blocks, bfree, bavail, files, ffree] = n as [number, number, number, number, number, number]
  return { ok: true, usage: { frsize, blocks, bfree, bavail, files, ffree } }
}
