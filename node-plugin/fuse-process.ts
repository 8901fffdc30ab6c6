// Starting, finding and stopping a volume's FUSE server process. The server runs detached in
// its own session with its output in a file, so it outlives the gRPC server (pods keep their
// mounts across node plugin restarts) and is found again through its pid file.
import { spawn } from 'node:child_process'
import { open, readFile, rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { Code, CsiError } from '../driver/errors.js'
import { findMount, readMountTable } from './mount-table.js'

export const CLI_PATH = fileURLToPath(new URL('../driver/cli.js', import.meta.url))

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** True when `pid` runs (not a zombie) the FUSE server for `specPath`: guards against pid reuse. */
export async function isFuseServer (pid: number, specPath: string): Promise<boolean> {
  if (!Number.isSafeInteger(pid) || pid <= 1) return false
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // Field 3 (after the parenthesised command name) is the state; Z/X = exited, not reaped.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    if (state === 'Z' || state === 'X') return false
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')
    return argv.includes('fuse-server') && argv.includes(specPath)
  } catch {
    return false
  }
}

export interface StartedServer {
  pid: number
  /** Resolves with the exit code/signal if the process ends while we still watch it. */
  exited: Promise<{ code: number | null, signal: string | null }>
}

/** Spawns `cli.js fuse-server --spec specPath` detached, output appended to `logPath`. */
export async function spawnFuseServer (specPath: string, logPath: string): Promise<StartedServer> {
  const log = await open(logPath, 'a', 0o600)
  try {
    const child = spawn(process.execPath, [CLI_PATH, 'fuse-server', '--spec', specPath], {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      env: process.env
    })
    const exited = new Promise<{ code: number | null, signal: string | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }))
      child.once('error', () => resolve({ code: -1, signal: null }))
    })
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid as number))
      child.once('error', reject)
    })
    child.unref()
    return { pid, exited }
  } finally {
    await log.close()
  }
}

/** Maps a FUSE server's dying words (last log lines) to the CSI code that fits best. */
export function codeForServerFailure (logTail: string): Code {
  if (/no link named|not found|does not exist|ENOENT/i.test(logTail)) return Code.NOT_FOUND
  if (/timed? ?out|deadline|aborted|TimeoutError/i.test(logTail)) return Code.DEADLINE_EXCEEDED
  if (/ECONNREFUSED|unreachable|fetch failed/i.test(logTail)) return Code.UNAVAILABLE
  return Code.INTERNAL
}

export async function logTail (logPath: string, lines = 5): Promise<string> {
  try {
    const text = await readFile(logPath, 'utf8')
    return text.trim().split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}

/**
 * Waits until the server reports its mount (status file with its pid, and the mountpoint in
 * the mount table), the process exits, or the deadline passes. Throws a CsiError on failure.
 */
export async function waitMounted (opts: { server: StartedServer, statusPath: string, mountpoint: string, logPath: string, timeoutMs: number, signal?: AbortSignal }): Promise<void> {
  const { server, statusPath, mountpoint, logPath, timeoutMs, signal } = opts
  const deadline = Date.now() + timeoutMs
  let exit: { code: number | null, signal: string | null } | undefined
  void server.exited.then((e) => { exit = e })
  for (let delay = 25; ; delay = Math.min(delay * 2, 250)) {
    if (exit !== undefined) {
      const tail = await logTail(logPath)
      throw new CsiError(codeForServerFailure(tail), `FUSE server exited before mounting (code ${exit.code ?? exit.signal ?? '?'}): ${tail.slice(-800)}`)
    }
    try {
      const status = JSON.parse(await readFile(statusPath, 'utf8')) as { pid?: number }
      if (status.pid === server.pid && findMount(await readMountTable(), mountpoint) !== undefined) return
    } catch {}
    if (signal?.aborted === true) throw new CsiError(Code.DEADLINE_EXCEEDED, `mount of ${mountpoint} was abandoned: ${String((signal.reason as Error)?.message ?? signal.reason)}`)
    if (Date.now() > deadline) throw new CsiError(Code.DEADLINE_EXCEEDED, `FUSE server did not mount ${mountpoint} within ${Math.round(timeoutMs / 1000)} s (content unreachable?): ${(await logTail(logPath, 2)).slice(-400)}`)
    await sleep(delay)
  }
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/** SIGTERM (the server flushes and unmounts), then SIGKILL after `graceMs`; waits for the exit. */
export async function stopFuseServer (pid: number, specPath: string, graceMs = 10_000): Promise<void> {
  if (!(await isFuseServer(pid, specPath))) return
  try { process.kill(pid, 'SIGTERM') } catch { return }
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline) {
    if (!alive(pid) || !(await isFuseServer(pid, specPath))) return
    await sleep(100)
  }
  try { process.kill(pid, 'SIGKILL') } catch {}
  const killDeadline = Date.now() + 5000
  while (Date.now() < killDeadline && await isFuseServer(pid, specPath)) await sleep(100)
}

export async function removeStatus (statusPath: string): Promise<void> {
  await rm(statusPath, { force: true })
}

/** Pids of live FUSE servers for `specPath`, found in /proc (for servers that never wrote a status). */
export async function findServerPids (specPath: string): Promise<number[]> {
  const { readdir } = await import('node:fs/promises')
  const out: number[] = []
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue
    const pid = Number(name)
    if (pid !== process.pid && await isFuseServer(pid, specPath)) out.push(pid)
  }
  return out
}
