// Starting, finding and stopping a volume's FUSE server process. The server runs detached in
// its own session with its output in a file, so it outlives the gRPC server (pods keep their
// mounts across node plugin restarts) and is found again through its pid file. With a unix
// launcher (`--fuse-launcher unix:///run/ipfs-csi/fuse-host.sock`) the `ipfs-csi fuse-host`
// process spawns it instead, so it is not even a child of the node service's container.
import { spawn } from 'node:child_process'
import { createConnection } from 'node:net'
import { constants as fsc, existsSync, watch, type FSWatcher } from 'node:fs'
import { open, readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Code, CsiError } from '../driver/errors.js'
import { findMount, isVolumeMount, readMountTable } from './mount-table.js'
import { fuseUnmount } from './mount-ops.js'
import { isHeapMiB } from './fuse/fuse-spec.js'
import { readProcCreds } from './fuse/privileges.js'
import { placeInOwnCgroup, serverMemoryLimit, type Placement } from './fuse-cgroup.js'
import { userFacing } from './user-errors.js'
import type { RunAs } from '../driver/config.js'

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
  /** Stops watching for the exit (a launcher-started server is watched by polling /proc). */
  stopWatching?: () => void
  /** Its memory cgroup, or why it has none (local spawns of a spec with a heap limit). */
  cgroup?: Placement
}

export interface SpawnOptions {
  /** `local` (default: spawn here) or `unix:///abs/path.sock` (ask `ipfs-csi fuse-host`). */
  launcher?: string
  signal?: AbortSignal
  /** Deadline of the request to the launcher socket. */
  timeoutMs?: number
  /** Local spawns: the server drops to this uid/gid once mounted (fuse-host has its own setting). */
  runAs?: RunAs
}

/**
 * Starts the FUSE server for `specPath` (output appended to `logPath`), here or through the
 * launcher socket. A launcher that is missing, refusing or silent → UNAVAILABLE (retryable).
 */
export async function spawnFuseServer (specPath: string, logPath: string, options: SpawnOptions = {}): Promise<StartedServer> {
  const launcher = options.launcher ?? 'local'
  if (launcher === 'local') return await spawnLocalFuseServer(specPath, logPath, options.runAs)
  if (!launcher.startsWith('unix://')) throw new CsiError(Code.INTERNAL, `unknown FUSE launcher ${JSON.stringify(launcher)}`)
  const socketPath = launcher.slice('unix://'.length)
  const reply = await launcherRequest(socketPath, { op: 'spawn', specPath, logPath }, options.timeoutMs ?? 10_000, options.signal)
  const pid = reply.pid
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 1) {
    throw new CsiError(Code.INTERNAL, `FUSE launcher refused to start the server: ${String(reply.error ?? JSON.stringify(reply)).slice(0, 500)}`)
  }
  return watchByPolling(pid, async () => await remoteIsRunning(socketPath, pid, specPath).catch(() => true))
}

const STATUS_TIMEOUT_MS = 10_000
/**
 * Status requests in flight at once. A healer pass asks about every volume together, and
 * fuse-host takes 64 connections (more are closed unanswered): the rest wait here, and spawn and
 * stop requests keep connections of their own.
 */
const STATUS_IN_FLIGHT = 16
let statusInFlight = 0
const statusWaiting: Array<() => void> = []

async function withStatusSlot<T> (fn: () => Promise<T>): Promise<T> {
  // A released slot passes straight to the next waiter, so the count never overshoots.
  if (statusInFlight >= STATUS_IN_FLIGHT) await new Promise<void>((resolve) => statusWaiting.push(resolve))
  else statusInFlight++
  try {
    return await fn()
  } finally {
    const next = statusWaiting.shift()
    if (next !== undefined) next()
    else statusInFlight--
  }
}

/** The launcher's answer to a status or stop request: its pid list, or UNAVAILABLE/INTERNAL. */
async function remotePids (socketPath: string, request: Record<string, unknown>, timeoutMs: number, key: 'pids' | 'stopped'): Promise<number[]> {
  const reply = await launcherRequest(socketPath, request, timeoutMs)
  const pids = reply[key]
  if (!Array.isArray(pids) || !pids.every((p) => typeof p === 'number' && Number.isSafeInteger(p))) {
    throw new CsiError(Code.INTERNAL, `FUSE launcher refused ${String(request.op)}: ${String(reply.error ?? JSON.stringify(reply)).slice(0, 500)}`)
  }
  return pids as number[]
}

/**
 * Servers started by fuse-host live in its PID namespace, which the node service may not share
 * (another pod): fuse-host is asked. A launcher that does not answer is UNAVAILABLE, never "not
 * running", so a busy or restarting fuse-host does not get a live mount healed away.
 */
export async function remoteFindPids (socketPath: string, specPath: string): Promise<number[]> {
  return await withStatusSlot(async () => await remotePids(socketPath, { op: 'status', specPath }, STATUS_TIMEOUT_MS, 'pids'))
}

export async function remoteIsRunning (socketPath: string, pid: number, specPath: string): Promise<boolean> {
  return (await remoteFindPids(socketPath, specPath)).includes(pid)
}

/** SIGTERM, SIGKILL after graceMs, done by fuse-host; `pid` undefined stops every server of the spec. */
export async function remoteStop (socketPath: string, specPath: string, pid: number | undefined, graceMs: number): Promise<void> {
  await remotePids(socketPath, { op: 'stop', specPath, ...(pid !== undefined ? { pid } : {}), graceMs }, graceMs + 15_000, 'stopped')
}

/**
 * What the spawner needs of the spec: the heap limit (V8 takes it only as a flag at start) and
 * what the server's memory cgroup is sized and named by. A spec that cannot be read or is a
 * symlink is left to the server itself to refuse with a clear error.
 */
async function spawnSettingsOf (specPath: string): Promise<{ heap?: number, blockCacheBytes: number, volumeId: string }> {
  try {
    const fh = await open(specPath, fsc.O_RDONLY | fsc.O_NOFOLLOW)
    try {
      const spec = JSON.parse(await fh.readFile('utf8')) as { maxHeapMiB?: unknown, blockCacheBytes?: unknown, volumeId?: unknown }
      const cache = Number.isSafeInteger(spec.blockCacheBytes) ? spec.blockCacheBytes as number : 0
      return { ...(isHeapMiB(spec.maxHeapMiB) ? { heap: spec.maxHeapMiB } : {}), blockCacheBytes: cache, volumeId: typeof spec.volumeId === 'string' ? spec.volumeId : 'volume' }
    } finally { await fh.close() }
  } catch {
    return { blockCacheBytes: 0, volumeId: 'volume' }
  }
}

/**
 * util-linux's setpriv, which sets no_new_privs before exec: Node cannot call prctl itself. It does
 * not hinder the mount (root needs no setuid helper), and once the server has dropped root no
 * setuid binary (fusermount) or file capability gives any back.
 */
export const SETPRIV = '/usr/bin/setpriv'

/** How a server is started: through setpriv when it will drop root and setpriv is there. */
export function serverCommand (specPath: string, heap: number | undefined, runAs: RunAs | undefined, hasSetpriv = existsSync(SETPRIV)): { file: string, args: string[] } {
  const node = [...(heap !== undefined ? [`--max-old-space-size=${heap}`] : []), CLI_PATH, 'fuse-server', '--spec', specPath, ...(runAs !== undefined ? ['--run-as', `${runAs.uid}:${runAs.gid}`] : [])]
  if (runAs !== undefined && hasSetpriv) return { file: SETPRIV, args: ['--no-new-privs', '--', process.execPath, ...node] }
  return { file: process.execPath, args: node }
}

/** Spawns `cli.js fuse-server --spec specPath [--run-as U:G]` detached, output appended to `logPath`. */
export async function spawnLocalFuseServer (specPath: string, logPath: string, runAs?: RunAs): Promise<StartedServer> {
  const { heap, blockCacheBytes, volumeId } = await spawnSettingsOf(specPath)
  // As root, into a dir on the host: never through a symlink planted at the log's name.
  const log = await open(logPath, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600)
  try {
    const cmd = serverCommand(specPath, heap, runAs)
    const child = spawn(cmd.file, cmd.args, {
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
    // A server with a heap limit gets a memory cgroup of its own (fuse-cgroup.ts), where the node allows.
    const cgroup = heap !== undefined ? await placeInOwnCgroup(pid, volumeId, serverMemoryLimit(heap, blockCacheBytes)) : undefined
    return { pid, exited, ...(cgroup !== undefined ? { cgroup } : {}) }
  } finally {
    await log.close()
  }
}

/** Not our child: the exit is seen by polling `running` (pid + command line, so pid reuse is no exit). */
function watchByPolling (pid: number, running: () => Promise<boolean>, intervalMs = 200): StartedServer {
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  const exited = new Promise<{ code: number | null, signal: string | null }>((resolve) => {
    const tick = (): void => {
      void running().then((alive) => {
        if (stopped) return
        if (!alive) { resolve({ code: null, signal: null }); return }
        timer = setTimeout(tick, intervalMs)
        timer.unref()
      })
    }
    tick()
  })
  return { pid, exited, stopWatching: () => { stopped = true; if (timer !== undefined) clearTimeout(timer) } }
}

const MAX_REPLY_BYTES = 64 * 1024

/** One newline-terminated JSON request, one reply, bounded by `timeoutMs` and `signal`. */
export async function launcherRequest (socketPath: string, request: Record<string, unknown>, timeoutMs: number, signal?: AbortSignal): Promise<Record<string, unknown>> {
  return await new Promise((resolve, reject) => {
    const sock = createConnection(socketPath)
    let buf = ''
    let done = false
    const finish = (err: Error | undefined, value?: Record<string, unknown>): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      sock.destroy()
      if (err !== undefined) reject(err)
      else resolve(value as Record<string, unknown>)
    }
    const unavailable = (why: string): CsiError => new CsiError(Code.UNAVAILABLE, `FUSE launcher ${socketPath}: ${why}`)
    const timer = setTimeout(() => finish(unavailable(`no reply within ${timeoutMs} ms`)), timeoutMs)
    const onAbort = (): void => finish(new CsiError(Code.DEADLINE_EXCEEDED, `FUSE launcher request abandoned: ${String((signal?.reason as Error)?.message ?? signal?.reason)}`))
    if (signal?.aborted === true) { onAbort(); return }
    signal?.addEventListener('abort', onAbort, { once: true })
    sock.setEncoding('utf8')
    sock.on('connect', () => sock.write(JSON.stringify(request) + '\n'))
    sock.on('data', (chunk: string) => {
      buf += chunk
      const nl = buf.indexOf('\n')
      if (nl < 0) {
        if (buf.length > MAX_REPLY_BYTES) finish(unavailable('reply too long'))
        return
      }
      try {
        const v = JSON.parse(buf.slice(0, nl)) as unknown
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object')
        finish(undefined, v as Record<string, unknown>)
      } catch {
        finish(unavailable(`unreadable reply ${JSON.stringify(buf.slice(0, 200))}`))
      }
    })
    sock.on('error', (err: NodeJS.ErrnoException) => finish(unavailable(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? `not running (${err.code})` : err.message)))
    sock.on('close', () => finish(unavailable('closed the connection without a reply')))
  })
}

/**
 * The CSI code of a FUSE server that exited before mounting: the code it wrote into its status
 * file (see fuse-server.ts), INTERNAL when it wrote none (it crashed, or was killed).
 */
export function serverFailureCode (status: unknown): Code {
  const code = (status as { failed?: { code?: unknown } } | null)?.failed?.code
  return typeof code === 'number' && Number.isInteger(code) && code > 0 && code <= 16 ? code as Code : Code.INTERNAL
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
 * An inotify watch on the status file's directory wakes the check as soon as the server renames
 * its status into place (a backed-off poll alone overslept the mount by up to ~200 ms); the
 * poll stays as the fallback when the watch cannot be set up or misses an event.
 */
export async function waitMounted (opts: { server: StartedServer, statusPath: string, mountpoint: string, logPath: string, timeoutMs: number, signal?: AbortSignal }): Promise<void> {
  const { server, statusPath, mountpoint, logPath, timeoutMs, signal } = opts
  const deadline = Date.now() + timeoutMs
  let exit: { code: number | null, signal: string | null } | undefined
  let wake: (() => void) | undefined
  // An event while a check runs is remembered, so the next sleep is skipped rather than missed.
  let poked = false
  const poke = (): void => { poked = true; wake?.() }
  void server.exited.then((e) => { exit = e; poke() })
  let watcher: FSWatcher | undefined
  try {
    watcher = watch(path.dirname(statusPath), { persistent: false }, (_event, name) => {
      if (name === null || name === path.basename(statusPath)) poke()
    })
    watcher.on('error', () => {})
  } catch {}
  signal?.addEventListener('abort', poke, { once: true })
  try {
    for (let delay = 25; ; delay = Math.min(delay * 2, 250)) {
      if (exit !== undefined) {
        // The server's log and its own message name Kubo's address and internals: the log only.
        const tail = await logTail(logPath)
        const failed = await readFile(statusPath, 'utf8').then(t => JSON.parse(t) as unknown, () => undefined)
        const said = (failed as { failed?: { message?: unknown } } | undefined)?.failed?.message
        throw userFacing(serverFailureCode(failed), `FUSE server exited before mounting (exit ${exit.code ?? exit.signal ?? '?'})`, `${typeof said === 'string' ? `${said}; ` : ''}log: ${tail.slice(-800)}`)
      }
      try {
        const status = JSON.parse(await readFile(statusPath, 'utf8')) as { pid?: number, failed?: unknown }
        if (status.pid === server.pid && status.failed === undefined && findMount(await readMountTable(), mountpoint) !== undefined) { server.stopWatching?.(); return }
      } catch {}
      if (signal?.aborted === true) throw new CsiError(Code.DEADLINE_EXCEEDED, `mount of ${mountpoint} was abandoned: ${String((signal.reason as Error)?.message ?? signal.reason)}`)
      if (Date.now() > deadline) throw userFacing(Code.DEADLINE_EXCEEDED, `FUSE server did not mount ${mountpoint} within ${Math.round(timeoutMs / 1000)} s`, `log: ${(await logTail(logPath, 2)).slice(-400)}`)
      if (!poked) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay)
          wake = () => { clearTimeout(timer); resolve() }
        })
      }
      wake = undefined
      poked = false
    }
  } finally {
    watcher?.close()
    signal?.removeEventListener('abort', poke)
  }
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/**
 * SIGTERM (the server flushes and unmounts), then SIGKILL after `graceMs`; waits for the exit. A
 * server that dropped root cannot unmount: its mount is detached here first, so that its FUSE
 * threads end and it can exit after them rather than under them.
 */
export async function stopFuseServer (pid: number, specPath: string, graceMs = 10_000): Promise<void> {
  if (!(await isFuseServer(pid, specPath))) return
  if (!ranAsRoot(pid)) await detachBeforeStop(pid, specPath)
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

/** Whether the process still runs as root (its real uid; unreadable counts as root: no detach). */
function ranAsRoot (pid: number): boolean {
  try { return readProcCreds(pid).uids[0] === 0 } catch { return true }
}

/**
 * Lazily detaches the FUSE mount of `pid`'s volume at the spec's mountpoint, when `pid` is the
 * spec's only server and the top mount there is this volume's (never another mount). Binds of it
 * elsewhere keep the filesystem (and the server's threads) alive until they go.
 */
async function detachBeforeStop (pid: number, specPath: string): Promise<boolean> {
  const target = await specMountOf(specPath)
  if (target === undefined) return false
  const { mountpoint, volumeId } = target
  const pids = await findServerPids(specPath)
  if (pids.length !== 1 || pids[0] !== pid) return false
  return (await detachVolumeMount(mountpoint, volumeId)).detached
}

/** Unmount attempts: dead mounts may be stacked at one path. */
const DETACH_TRIES = 4

/**
 * Lazily unmounts the volume's FUSE mounts stacked at `mountpoint` (never another mount): whether
 * one went, and why the last attempt failed if one did.
 */
export async function detachVolumeMount (mountpoint: string, volumeId: string): Promise<{ detached: boolean, error?: string }> {
  let detached = false
  for (let i = 0; i < DETACH_TRIES; i++) {
    const m = findMount(await readMountTable(), mountpoint)
    if (m === undefined || !isVolumeMount(m, volumeId)) break
    try {
      await fuseUnmount(mountpoint)
      detached = true
    } catch (err) {
      return { detached, error: (err as Error).message }
    }
  }
  return { detached }
}

/** The mountpoint and volume of a spec (read without following a symlink), or undefined. */
export async function specMountOf (specPath: string): Promise<{ mountpoint: string, volumeId: string } | undefined> {
  let spec: { mountpoint?: unknown, volumeId?: unknown }
  try {
    const fh = await open(specPath, fsc.O_RDONLY | fsc.O_NOFOLLOW)
    try { spec = JSON.parse(await fh.readFile('utf8')) as typeof spec } finally { await fh.close() }
  } catch {
    return undefined
  }
  const { mountpoint, volumeId } = spec
  if (typeof mountpoint !== 'string' || !path.isAbsolute(mountpoint) || typeof volumeId !== 'string') return undefined
  return { mountpoint, volumeId }
}
