// One volume's FUSE server process (`ipfs-csi fuse-server --spec FILE`). It is started detached
// by the node service (or in the foreground by `ipfs-csi mount`) and lives until unmounted, so
// the gRPC server can restart without touching pods' mounts.
import { accessSync, constants as fsc, readdirSync } from 'node:fs'
import { lstat, open, realpath, rename, rm } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import path from 'node:path'
import { tmpdir } from 'node:os'
import { parseArgs, promisify } from 'node:util'
import Fuse from 'fuse-native'
import type { Logger } from '../../driver/logger.js'
import { createLightLogger } from '../../driver/light-logger.js'
import { Kubo } from '../../driver/kubo.js'
import { Code, CsiError, toCsiError } from '../../driver/errors.js'
import { FUSE_HEAP_MIB } from '../../driver/constants.js'
import { fuseFsName, isHeapMiB, type FuseSpec } from './fuse-spec.js'
import { toFuseOps, type FsInstance } from './fuse-ops.js'
import { FuseOpStats } from './op-stats.js'
import { serveFuseMetrics, type FuseMetricsSource } from './fuse-metrics.js'
import { boundedStderrWriter, DEFAULT_LOG_BOUNDS } from './log-bounds.js'
import { dropPrivileges, handOverDir, type ProcCreds } from './privileges.js'
import { validateRunAs, type RunAs } from '../../driver/config.js'

const execFileP = promisify(execFile)

export interface RunningFuse {
  spec: FuseSpec
  /**
   * Flushes and unmounts; once unprivileged, flushes, asks `detacher` (if any) to detach the
   * mount, and waits (bounded) for the FUSE threads to end.
   */
  unmount: () => Promise<void>
  /** Drops to `runAs` (privileges.ts); from then on `unmount` leaves the mount to the spawner. */
  dropPrivileges: (runAs: RunAs) => ProcCreds
  /** After a drop: who detaches the mount when we stop (a root helper); else the spawner, before SIGTERM. */
  setDetacher: (detach: () => void) => void
  /** What fuse-metrics.ts turns into metrics when scraped. */
  metrics: FuseMetricsSource
}

/** Content is immutable: long kernel caches are safe and make re-reads free. */
const CONTENT_CACHE_S = 3600
/**
 * fuse-native has no big_writes option and without it the kernel sends 4 KiB writes (about 4x
 * slower for writable volumes). ac_attr_timeout=1 equals attr_timeout (no change); the suffix
 * carries big_writes into fuse-native's -o option string.
 */
const WRITABLE_AC_ATTR = '1,big_writes' as unknown as number

export async function startFuse (spec: FuseSpec, log: Logger): Promise<RunningFuse> {
  const kubo = new Kubo({ url: spec.kuboApi, ...(spec.kuboApiTokenFile !== undefined ? { tokenFile: spec.kuboApiTokenFile } : {}), timeoutMs: spec.kuboTimeoutMs })
  // Only the filesystem this volume needs is loaded: start-up time is stage time.
  const instance: FsInstance = spec.mode === 'content'
    ? await (await import('./content-fs.js')).createContentFs(spec, { kubo, log })
    : await (await import('./writable-fs.js')).createWritableFs(spec, { kubo, log })
  // Our own bound (readTimeoutMs + slack for metadata) answers EIO first; fuse-native's timeout
  // is a backstop set on purpose just above it rather than its 15 s default.
  const opTimeoutMs = Math.max(spec.readTimeoutMs, spec.mode === 'writable' ? spec.kuboTimeoutMs : 0) + 500
  const opStats = new FuseOpStats()
  const ops = toFuseOps(instance.fs, log, opTimeoutMs, opStats)
  const content = spec.mode === 'content'
  const fuse = new Fuse(spec.mountpoint, ops, {
    force: true,
    mkdir: true,
    allowOther: true,
    fsname: fuseFsName(spec.volumeId),
    subtype: 'ipfs-csi',
    timeout: opTimeoutMs + 2000,
    ...(content ? { kernelCache: true, entryTimeout: CONTENT_CACHE_S, attrTimeout: CONTENT_CACHE_S } : { autoCache: true, entryTimeout: 1, attrTimeout: 1, acAttrTimeout: WRITABLE_AC_ATTR })
  })
  const tasksBefore = ownTasks()
  await new Promise<void>((resolve, reject) => fuse.mount((err: Error | null) => err != null ? reject(err) : resolve()))
  // fuse-native's FUSE thread (and its workers) is never joined and keeps using memory the JS
  // heap owns: node must not tear that heap down (exit) while it still runs (issue #12).
  const fuseThreads = [...ownTasks()].filter(tid => !tasksBefore.has(tid))
  log.info('mounted', { mountpoint: spec.mountpoint, mode: spec.mode, volumeId: spec.volumeId, fuseThreads: fuseThreads.length })
  let unmounting: Promise<void> | undefined
  let privileged = true
  let detacher: (() => void) | undefined
  const stats = instance.stats
  return {
    spec,
    metrics: { mode: spec.mode, ops: opStats, ...(stats !== undefined ? { content: stats } : {}) },
    dropPrivileges: (runAs) => {
      // What a writable volume writes later: its spill files, under a root handed over now.
      if (spec.mode === 'writable') handOverDir(spillRootOf(spec), runAs)
      privileged = false
      try {
        return dropPrivileges(runAs)
      } catch (err) {
        // Still root (the drop refused, or only part of it went): the mount can still go.
        privileged = process.getuid?.() === 0
        throw err
      }
    },
    setDetacher: (detach) => { detacher = detach },
    unmount: async () => {
      unmounting ??= (async () => {
        await instance.close().catch((err: Error) => log.error('close failed', { error: err.message }))
        if (!privileged) {
          // fusermount would refuse (the mount is root's): the spawner detaches it before its
          // SIGTERM (stopFuseServer), which ends the FUSE threads; exiting while they still run
          // is what crashed servers at exit. Bounded: a mount nobody detached keeps them.
          detacher?.()
          const left = await waitForTasksGone(fuseThreads, UNPRIVILEGED_THREAD_WAIT_MS)
          if (left.length > 0) log.warn('unprivileged: the mount is still attached, exiting with its FUSE threads running; the spawner detaches it', { mountpoint: spec.mountpoint, fuseThreadsLeft: left.length })
          else log.info('unmounted', { mountpoint: spec.mountpoint, by: 'spawner', fuseThreadsLeft: 0 })
          return
        }
        await new Promise<void>((resolve) => fuse.unmount((err: Error | null) => {
          if (err != null) log.warn('unmount failed, detaching lazily', { error: err.message })
          resolve()
        }))
        await execFileP('fusermount', ['-uz', spec.mountpoint]).catch(() => {})
        const left = await waitForTasksGone(fuseThreads, FUSE_THREAD_EXIT_MS)
        if (left.length > 0) log.warn('FUSE threads still running after unmount (the detached mount is still in use)', { threads: left.length })
        log.info('unmounted', { mountpoint: spec.mountpoint, fuseThreadsLeft: left.length })
      })()
      await unmounting
    }
  }
}

/** How long an unmount waits for the FUSE threads to end once the mount is detached. */
const FUSE_THREAD_EXIT_MS = 10_000
/** The same for a server that dropped root, whose mount someone else detaches (or not). */
const UNPRIVILEGED_THREAD_WAIT_MS = 5_000

/** This process's thread ids. */
function ownTasks (): Set<string> {
  try { return new Set(readdirSync('/proc/self/task')) } catch { return new Set() }
}

/** Waits until none of `tids` is a thread of ours any more (or `ms` passed); returns those left. */
async function waitForTasksGone (tids: string[], ms: number): Promise<string[]> {
  const deadline = Date.now() + ms
  for (;;) {
    const now = ownTasks()
    const left = tids.filter(tid => now.has(tid))
    if (left.length === 0 || Date.now() > deadline) return left
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** The spill root of a writable volume (writable-fs.ts's default when the spec names none). */
function spillRootOf (spec: FuseSpec): string {
  return spec.spillDir ?? path.join(tmpdir(), 'ipfs-csi-spill')
}

/** What the server needs after the drop and cannot reach as that uid: said once, up front. */
function warnUnreachable (spec: FuseSpec, log: Logger): void {
  const check = (p: string, mode: number, why: string): void => {
    try { accessSync(p, mode) } catch (err) { log.warn(why, { path: p, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message }) }
  }
  if (spec.kuboBlocksDir !== undefined) check(path.join(spec.kuboBlocksDir, 'SHARDING'), fsc.R_OK, 'blocks dir not readable after dropping root: blocks are read through the Kubo API')
  if (spec.mode === 'writable' && !spec.readOnly) check(spillRootOf(spec), fsc.R_OK | fsc.W_OK | fsc.X_OK, 'spill dir not reachable after dropping root: writes will fail')
}

/** Waits for SIGTERM/SIGINT, then unmounts. Exceptions in callbacks are logged, never fatal. */
export async function runUntilSignalled (running: RunningFuse, log: Logger): Promise<void> {
  process.on('uncaughtException', (err) => log.error('uncaught exception (mount kept)', { error: err.message, stack: err.stack }))
  process.on('unhandledRejection', (err) => log.error('unhandled rejection (mount kept)', { error: (err as Error)?.message }))
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve())
    process.once('SIGINT', () => resolve())
  })
  log.info('signal received, unmounting')
  await running.unmount()
}

const MIN_LOG_BYTES = 16 * 1024
const MAX_LOG_BYTES = 1024 * 1024 * 1024

export function validateSpec (raw: unknown): FuseSpec {
  const s = raw as FuseSpec
  const problems: string[] = []
  if (s?.version !== 1) problems.push('version must be 1')
  if (typeof s?.mountpoint !== 'string' || !path.isAbsolute(s.mountpoint)) problems.push('mountpoint must be absolute')
  if (s?.mode !== 'content' && s?.mode !== 'writable') problems.push('mode must be content or writable')
  if (s?.mode === 'content' && typeof s.rootCid !== 'string') problems.push('content mode needs rootCid')
  if (s?.mode === 'writable' && typeof s.mfsPath !== 'string') problems.push('writable mode needs mfsPath')
  if (typeof s?.kuboApi !== 'string') problems.push('kuboApi is required')
  if (s?.maxHeapMiB !== undefined && !isHeapMiB(s.maxHeapMiB)) problems.push(`maxHeapMiB must be an integer from ${FUSE_HEAP_MIB.min} to ${FUSE_HEAP_MIB.max}`)
  if (s?.logMaxBytes !== undefined && (!Number.isSafeInteger(s.logMaxBytes) || s.logMaxBytes < MIN_LOG_BYTES || s.logMaxBytes > MAX_LOG_BYTES)) {
    problems.push(`logMaxBytes must be an integer from ${MIN_LOG_BYTES} to ${MAX_LOG_BYTES}`)
  }
  if (s?.spillDir !== undefined && (typeof s.spillDir !== 'string' || !path.isAbsolute(s.spillDir))) problems.push('spillDir must be an absolute path')
  for (const k of ['spillMaxBytes', 'spillVolumeMaxBytes'] as const) {
    if (s?.[k] !== undefined && (!Number.isSafeInteger(s[k]) || (s[k] as number) < 1)) problems.push(`${k} must be a positive integer`)
  }
  if (problems.length > 0) throw new Error(`invalid FUSE spec: ${problems.join('; ')}`)
  return s
}

/** File next to the spec that the node service polls: written once the mount is live. */
export const statusPathOf = (specPath: string): string => path.join(path.dirname(specPath), 'fuse-status.json')

/** Unix socket next to the spec where the server answers /metrics and /metrics.json (node-plugin/fuse-metrics-collector.ts reads it). */
export const metricsSocketOf = (specPath: string): string => path.join(path.dirname(specPath), 'metrics.sock')

/** Longest unix socket path Linux takes (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107

/** Metrics are never worth a mount: any trouble here is logged and the mount goes on. */
async function serveSocketMetrics (running: RunningFuse, socketPath: string, log: Logger): Promise<void> {
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    log.warn('state dir path too long for a metrics socket; this volume\'s metrics are not collected', { socket: socketPath })
    return
  }
  try {
    await rm(socketPath, { force: true })
    const mask = process.umask(0o177) // root-only from the moment it exists
    try {
      await serveFuseMetrics(running.metrics, { path: socketPath }, log, { volumeId: running.spec.volumeId })
    } finally {
      process.umask(mask)
    }
  } catch (err) {
    log.warn('cannot serve metrics on the volume\'s socket', { socket: socketPath, error: (err as Error).message })
  }
}

/**
 * The spec, read without following a symlink at its own name, from its resolved directory: the
 * state dir lives on the host, and whoever can plant a link there must not steer a root process.
 */
async function readSpec (specArg: string): Promise<{ spec: FuseSpec, specPath: string }> {
  const specPath = path.join(await realpath(path.dirname(path.resolve(specArg))), path.basename(specArg))
  const fh = await open(specPath, fsc.O_RDONLY | fsc.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ELOOP' ? `spec ${specPath} is a symlink` : `cannot read spec ${specPath}: ${err.message}`)
  })
  try {
    if (!(await fh.stat()).isFile()) throw new Error(`spec ${specPath} is not a regular file`)
    return { spec: validateSpec(JSON.parse(await fh.readFile('utf8'))), specPath }
  } finally {
    await fh.close()
  }
}

/**
 * The node service checked the mountpoint before writing the spec; the server checks again, as
 * the one that mounts, and returns the path to mount at: the parent resolved (the kernel would
 * resolve it anyway, and mounting where we checked leaves no gap to swap a link in), the last
 * component a directory or nothing, never a symlink.
 */
export async function resolveMountpoint (mountpoint: string): Promise<string> {
  const refuse = (why: string): never => { throw new CsiError(Code.FAILED_PRECONDITION, `mountpoint ${mountpoint} ${why}`) }
  if (path.normalize(mountpoint) !== mountpoint || mountpoint === '/' || mountpoint.endsWith('/')) refuse('is not a normalized absolute path')
  // Directories not made yet (fuse-native makes them) cannot be links: resolve what exists.
  let existing = path.dirname(mountpoint)
  let parent: string | undefined
  while (parent === undefined) {
    parent = await realpath(existing).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT' || existing === '/') refuse(`cannot be resolved: ${err.message}`)
      return undefined
    })
    if (parent === undefined) existing = path.dirname(existing)
  }
  const resolved = path.join(parent, path.relative(existing, mountpoint))
  const st = await lstat(resolved).catch((err: NodeJS.ErrnoException) => err.code === 'ENOENT' ? undefined : refuse(`cannot be checked: ${err.message}`))
  if (st?.isSymbolicLink() === true) refuse('is a symlink')
  if (st !== undefined && !st.isDirectory()) refuse('is not a directory')
  return resolved
}

/** Replaces `file` atomically; the temp file is never opened through a symlink planted at its name. */
async function writeStatus (file: string, value: unknown): Promise<void> {
  // A stale temp file (or anything planted there) is removed, not followed: rm unlinks the name.
  await rm(`${file}.tmp`, { force: true })
  const fh = await open(`${file}.tmp`, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600)
  try { await fh.writeFile(JSON.stringify(value)) } finally { await fh.close() }
  await rename(`${file}.tmp`, file)
}

export async function fuseServerCommand (argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { spec: { type: 'string' }, 'run-as': { type: 'string' } }, strict: true })
  if (values.spec === undefined) throw new Error('fuse-server needs --spec FILE [--run-as UID:GID]')
  const problems: string[] = []
  const runAs = validateRunAs(problems, values['run-as'], 'run-as')
  if (problems.length > 0) throw new Error(problems.join('; '))
  const { spec, specPath } = await readSpec(values.spec)
  // Not winston: loading it was ~100 ms of every FUSE server's start-up (see light-logger.ts).
  // Its stderr is a file on the host: repeated lines are rate-limited and the file is bounded.
  // A server that drops root opens its log's rotation files now: the state dir is root's.
  const write = boundedStderrWriter({ ...DEFAULT_LOG_BOUNDS, ...(spec.logMaxBytes !== undefined ? { maxBytes: spec.logMaxBytes } : {}) }, 2, runAs !== undefined)
  const log = createLightLogger(spec.logLevel, 'fuse-server', write).child({ volumeId: spec.volumeId })
  const status = statusPathOf(specPath)
  let running: RunningFuse
  try {
    // Refused before mounting: a server asked to drop root must be able to.
    if (runAs !== undefined && process.getuid?.() !== 0) throw new CsiError(Code.FAILED_PRECONDITION, `--run-as ${runAs.uid}:${runAs.gid} needs a server started as root (uid ${String(process.getuid?.())})`)
    const mountpoint = await resolveMountpoint(spec.mountpoint)
    if (mountpoint !== spec.mountpoint) log.info('mountpoint resolved', { mountpoint: spec.mountpoint, resolved: mountpoint })
    running = await startFuse({ ...spec, mountpoint }, log)
  } catch (err) {
    // The node service reads why from here (a code, not our log text) to answer the stage.
    const e = toCsiError(err)
    await writeStatus(status, { pid: process.pid, failed: { code: e.code, message: e.message.slice(0, 300) } })
    throw err
  }
  await serveSocketMetrics(running, metricsSocketOf(specPath), log)
  await writeStatus(status, { pid: process.pid, mountpoint: running.spec.mountpoint, mountedAt: new Date().toISOString() })
  if (runAs !== undefined) {
    try {
      const creds = running.dropPrivileges(runAs)
      log.info('privileges dropped', { uid: runAs.uid, gid: runAs.gid, noNewPrivs: creds.noNewPrivs })
      warnUnreachable(spec, log)
    } catch (err) {
      // Never serve untrusted content as root when told not to: the node sees the exit and heals.
      log.error('cannot drop privileges; stopping', { error: (err as Error).message })
      await running.unmount()
      process.exit(1)
    }
  }
  await runUntilSignalled(running, log)
  // fuse-native's handle keeps the loop alive when the mount was left to the spawner.
  if (runAs !== undefined) process.exit(0)
  return 0
}
