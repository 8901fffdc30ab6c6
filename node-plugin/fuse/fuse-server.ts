// One volume's FUSE server process (`ipfs-csi fuse-server --spec FILE`). It is started detached
// by the node service (or in the foreground by `ipfs-csi mount`) and lives until unmounted, so
// the gRPC server can restart without touching pods' mounts.
import { readFile, writeFile, rename, rm } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import path from 'node:path'
import { parseArgs, promisify } from 'node:util'
import Fuse from 'fuse-native'
import type { Logger } from '../../driver/logger.js'
import { createLightLogger } from '../../driver/light-logger.js'
import { Kubo } from '../../driver/kubo.js'
import { toCsiError } from '../../driver/errors.js'
import type { FuseSpec } from './fuse-spec.js'
import { toFuseOps, type FsInstance } from './fuse-ops.js'
import { FuseOpStats } from './op-stats.js'
import { serveFuseMetrics, type FuseMetricsSource } from './fuse-metrics.js'

const execFileP = promisify(execFile)

export interface RunningFuse {
  spec: FuseSpec
  unmount: () => Promise<void>
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
    fsname: `ipfs-csi:${spec.volumeId}`.slice(0, 100).replace(/[,\s]/g, '_'),
    subtype: 'ipfs-csi',
    timeout: opTimeoutMs + 2000,
    ...(content ? { kernelCache: true, entryTimeout: CONTENT_CACHE_S, attrTimeout: CONTENT_CACHE_S } : { autoCache: true, entryTimeout: 1, attrTimeout: 1, acAttrTimeout: WRITABLE_AC_ATTR })
  })
  await new Promise<void>((resolve, reject) => fuse.mount((err: Error | null) => err != null ? reject(err) : resolve()))
  log.info('mounted', { mountpoint: spec.mountpoint, mode: spec.mode, volumeId: spec.volumeId })
  let unmounting: Promise<void> | undefined
  const stats = instance.stats
  return {
    spec,
    metrics: { mode: spec.mode, ops: opStats, ...(stats !== undefined ? { content: stats } : {}) },
    unmount: async () => {
      unmounting ??= (async () => {
        await instance.close().catch((err: Error) => log.error('close failed', { error: err.message }))
        await new Promise<void>((resolve) => fuse.unmount((err: Error | null) => {
          if (err != null) log.warn('unmount failed, detaching lazily', { error: err.message })
          resolve()
        }))
        await execFileP('fusermount', ['-uz', spec.mountpoint]).catch(() => {})
        log.info('unmounted', { mountpoint: spec.mountpoint })
      })()
      await unmounting
    }
  }
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

export function validateSpec (raw: unknown): FuseSpec {
  const s = raw as FuseSpec
  const problems: string[] = []
  if (s?.version !== 1) problems.push('version must be 1')
  if (typeof s?.mountpoint !== 'string' || !path.isAbsolute(s.mountpoint)) problems.push('mountpoint must be absolute')
  if (s?.mode !== 'content' && s?.mode !== 'writable') problems.push('mode must be content or writable')
  if (s?.mode === 'content' && typeof s.rootCid !== 'string') problems.push('content mode needs rootCid')
  if (s?.mode === 'writable' && typeof s.mfsPath !== 'string') problems.push('writable mode needs mfsPath')
  if (typeof s?.kuboApi !== 'string') problems.push('kuboApi is required')
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

export async function fuseServerCommand (argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { spec: { type: 'string' } }, strict: true })
  if (values.spec === undefined) throw new Error('fuse-server needs --spec FILE')
  const spec = validateSpec(JSON.parse(await readFile(values.spec, 'utf8')))
  // Not winston: loading it was ~100 ms of every FUSE server's start-up (see light-logger.ts).
  const log = createLightLogger(spec.logLevel, 'fuse-server').child({ volumeId: spec.volumeId })
  const status = statusPathOf(values.spec)
  let running: RunningFuse
  try {
    running = await startFuse(spec, log)
  } catch (err) {
    // The node service reads why from here (a code, not our log text) to answer the stage.
    const e = toCsiError(err)
    await writeFile(`${status}.tmp`, JSON.stringify({ pid: process.pid, failed: { code: e.code, message: e.message.slice(0, 300) } }))
    await rename(`${status}.tmp`, status)
    throw err
  }
  await serveSocketMetrics(running, metricsSocketOf(values.spec), log)
  await writeFile(`${status}.tmp`, JSON.stringify({ pid: process.pid, mountpoint: spec.mountpoint, mountedAt: new Date().toISOString() }))
  await rename(`${status}.tmp`, status)
  await runUntilSignalled(running, log)
  return 0
}
