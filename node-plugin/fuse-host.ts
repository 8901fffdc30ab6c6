// `ipfs-csi fuse-host`: starts FUSE servers on behalf of the node service, so they are children
// of this process (in Kubernetes: the node data-plane pod) and outlive the node service's pod.
// It also answers for them, since the node service may not share its PID namespace. One
// newline-terminated JSON request per connection on a mode-0600 unix socket:
//   {"op":"spawn","specPath":P,"logPath":L} → {"pid":N}     {"op":"ping"} → {"ok":true}
//   {"op":"status","specPath":P} → {"pids":[N...]}  (live servers of that spec)
//   {"op":"stop","specPath":P,"pid":N?,"graceMs":G} → {"stopped":[N...]}  (SIGTERM, SIGKILL after G)
// errors → {"error":"..."}. Only specs under <stateDir>/volumes/<dir>/spec.json are started:
// the socket is root-only, but a path check keeps it from being a generic "run this" service;
// status and stop only ever touch processes whose command line names such a spec.
import { existsSync } from 'node:fs'
import { lstat, mkdir, realpath, rm, chmod } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import path from 'node:path'
import { ConfigError, readFlags, validateRunAs, type RunAs } from '../driver/config.js'
import { DEFAULTS } from '../driver/constants.js'
import { createLogger, type Logger } from '../driver/logger.js'
import { detachVolumeMount, findServerPids, isFuseServer, SETPRIV, spawnLocalFuseServer, specMountOf, stopFuseServer } from './fuse-process.js'
import { parseListen, startMetricsServer } from '../driver/metrics-server.js'

export const FUSE_HOST_FLAGS = {
  socket: { type: 'string' },
  'state-dir': { type: 'string', default: DEFAULTS.stateDir },
  'log-level': { type: 'string', default: DEFAULTS.logLevel },
  'metrics-listen': { type: 'string' },
  'fuse-run-as': { type: 'string' }
} as const

/** What the fuse-host counts (exported by fuseHostRegistry). */
export class FuseHostCounts {
  spawned = 0
  refused = 0
  failed = 0
  /** Exits of FUSE servers it started: clean (0), error (other code), signal (killed). */
  readonly exits = { clean: 0, error: 0, signal: 0 }
  running = 0
}

/** A client that has not sent its request line by then is dropped. */
const REQUEST_TIMEOUT_MS = 5000
const MAX_REQUEST_BYTES = 16 * 1024
const MAX_CONNECTIONS = 64
const MAX_PATH = 4096

/** Longest grace a stop request may ask for (a writable server flushing to MFS). */
export const MAX_STOP_GRACE_MS = 300_000

export type HostRequest = { op: 'ping' }
| { op: 'spawn', specPath: string, logPath: string }
| { op: 'status', specPath: string }
| { op: 'stop', specPath: string, pid?: number, graceMs: number }

export class RequestError extends Error {}

/** Parses one request line; anything but a well-formed ping/spawn is a RequestError. */
export function parseRequest (line: string): HostRequest {
  let v: unknown
  try { v = JSON.parse(line) } catch { throw new RequestError('request is not JSON') }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new RequestError('request must be a JSON object')
  const r = v as Record<string, unknown>
  if (r.op === 'ping') return { op: 'ping' }
  if (r.op !== 'spawn' && r.op !== 'status' && r.op !== 'stop') throw new RequestError(`unknown op ${JSON.stringify(r.op)}`)
  const str = (k: string): string => {
    const s = r[k]
    if (typeof s !== 'string' || s === '' || s.length > MAX_PATH || s.includes('\0')) throw new RequestError(`${k} must be a non-empty path`)
    if (!path.isAbsolute(s)) throw new RequestError(`${k} must be absolute`)
    // No `..`, `.`, or doubled slashes: the path must already be in its plain form.
    if (path.normalize(s) !== s || s.split('/').includes('..')) throw new RequestError(`${k} must be a normalized path without ".."`)
    return s
  }
  if (r.op === 'spawn') return { op: 'spawn', specPath: str('specPath'), logPath: str('logPath') }
  const specPath = str('specPath')
  if (path.basename(specPath) !== 'spec.json') throw new RequestError('specPath must name a spec.json')
  if (r.op === 'status') return { op: 'status', specPath }
  const { pid, graceMs } = r
  if (pid !== undefined && (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 1)) throw new RequestError('pid must be an integer > 1')
  if (typeof graceMs !== 'number' || !Number.isSafeInteger(graceMs) || graceMs < 0 || graceMs > MAX_STOP_GRACE_MS) throw new RequestError(`graceMs must be an integer from 0 to ${MAX_STOP_GRACE_MS}`)
  return { op: 'stop', specPath, ...(pid !== undefined ? { pid } : {}), graceMs }
}

/**
 * For status and stop: `specPath` must be <stateDir>/volumes/<dir>/spec.json as written (the
 * spec itself may be gone already: a server is found by the path on its command line).
 */
export function checkSpecShape (stateDir: string, specPath: string): void {
  const volumeDir = path.dirname(specPath)
  if (path.dirname(volumeDir) !== path.join(stateDir, 'volumes') || path.basename(specPath) !== 'spec.json') {
    throw new RequestError(`specPath ${specPath} is not <state-dir>/volumes/<dir>/spec.json`)
  }
}

/**
 * Checks that `specPath` resolves (symlinks followed) to <stateDir>/volumes/<dir>/spec.json and
 * that `logPath` is a plain `*.log` file (not a symlink) in that same directory.
 */
export async function checkSpawnPaths (stateDir: string, specPath: string, logPath: string): Promise<void> {
  let volumesDir: string
  try { volumesDir = await realpath(path.join(stateDir, 'volumes')) } catch { throw new RequestError('state dir has no volumes directory') }
  let spec: string
  try { spec = await realpath(specPath) } catch { throw new RequestError(`specPath ${specPath} does not exist`) }
  const volumeDir = path.dirname(spec)
  if (path.basename(spec) !== 'spec.json' || path.dirname(volumeDir) !== volumesDir) {
    throw new RequestError(`specPath ${specPath} is not <state-dir>/volumes/<dir>/spec.json`)
  }
  const specStat = await lstat(spec)
  if (!specStat.isFile()) throw new RequestError('specPath is not a regular file')
  if (!/^[A-Za-z0-9._-]+\.log$/.test(path.basename(logPath))) throw new RequestError('logPath must name a *.log file')
  let logDir: string
  try { logDir = await realpath(path.dirname(logPath)) } catch { throw new RequestError(`logPath directory ${path.dirname(logPath)} does not exist`) }
  if (logDir !== volumeDir) throw new RequestError('logPath must be in the same directory as specPath')
  const logStat = await lstat(logPath).catch(() => undefined)
  if (logStat !== undefined && !logStat.isFile()) throw new RequestError('logPath exists and is not a regular file')
}

export interface FuseHost {
  server: Server
  close: () => Promise<void>
}

/** Serves the launcher socket until closed. `stateDir` must be absolute. */
export async function startFuseHost (opts: { socketPath: string, stateDir: string, log: Logger, counts?: FuseHostCounts, runAs?: RunAs }): Promise<FuseHost> {
  const { socketPath, stateDir, log, runAs } = opts
  const counts = opts.counts ?? new FuseHostCounts()
  await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o700 })
  // A socket left by an earlier run is removed; any other file there is not ours to delete.
  const old = await lstat(socketPath).catch(() => undefined)
  if (old !== undefined) {
    if (!old.isSocket()) throw new Error(`${socketPath} exists and is not a socket`)
    await rm(socketPath, { force: true })
  }
  const server = createServer({ allowHalfOpen: false }, (sock) => handle(sock, stateDir, log, counts, runAs))
  server.maxConnections = MAX_CONNECTIONS
  // umask for the bind, so the socket is never accessible to others, not even briefly.
  const mask = process.umask(0o177)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(socketPath, () => { server.off('error', reject); resolve() })
    })
  } finally {
    process.umask(mask)
  }
  await chmod(socketPath, 0o600)
  server.on('error', (err) => log.error('launcher socket error', { error: err.message }))
  log.info('fuse-host listening', { socket: socketPath, stateDir, ...(runAs !== undefined ? { runAs: `${runAs.uid}:${runAs.gid}`, noNewPrivs: existsSync(SETPRIV) } : {}) })
  if (runAs !== undefined && !existsSync(SETPRIV)) log.warn(`${SETPRIV} not found: FUSE servers drop root but run without no_new_privs`)
  return {
    server,
    close: async () => {
      await new Promise<void>(resolve => server.close(() => resolve()))
      await rm(socketPath, { force: true })
    }
  }
}

function handle (sock: Socket, stateDir: string, log: Logger, counts: FuseHostCounts, runAs: RunAs | undefined): void {
  let buf = ''
  let answered = false
  let gone = false
  sock.setEncoding('utf8')
  sock.once('end', () => { gone = true })
  sock.once('close', () => { gone = true })
  sock.setTimeout(REQUEST_TIMEOUT_MS, () => { log.debug('dropping a client that sent no request'); sock.destroy() })
  sock.on('error', () => {})
  // Still under the timeout after the reply: a client that never closes its side is dropped too.
  const reply = (v: Record<string, unknown>): void => { sock.end(JSON.stringify(v) + '\n') }
  sock.on('data', (chunk: string) => {
    if (answered) return
    buf += chunk
    const nl = buf.indexOf('\n')
    if (nl < 0) {
      if (buf.length > MAX_REQUEST_BYTES) { answered = true; reply({ error: 'request too long' }) }
      return
    }
    answered = true
    // A stop may take its whole grace: no idle timeout while the answer is being worked out.
    sock.setTimeout(0)
    void answer(buf.slice(0, nl), stateDir, log, counts, runAs).then((r) => {
      // The client gave up (its deadline) before hearing the pid: nobody would track this
      // server, so it goes now rather than mounting behind the node service's back.
      if (gone && typeof r.pid === 'number') {
        log.warn('client left before the reply; stopping the server it asked for', { pid: r.pid })
        try { process.kill(r.pid, 'SIGKILL') } catch {}
        return
      }
      sock.setTimeout(REQUEST_TIMEOUT_MS, () => sock.destroy())
      reply(r)
    })
  })
}

async function answer (line: string, stateDir: string, log: Logger, counts: FuseHostCounts, runAs: RunAs | undefined): Promise<Record<string, unknown>> {
  try {
    const req = parseRequest(line)
    if (req.op === 'ping') return { ok: true }
    if (req.op === 'status') {
      checkSpecShape(stateDir, req.specPath)
      return { pids: await findServerPids(req.specPath) }
    }
    if (req.op === 'stop') {
      checkSpecShape(stateDir, req.specPath)
      const pids = req.pid !== undefined ? ((await isFuseServer(req.pid, req.specPath)) ? [req.pid] : []) : await findServerPids(req.specPath)
      await Promise.all(pids.map(async (pid) => await stopFuseServer(pid, req.specPath, req.graceMs)))
      if (pids.length > 0) log.info('stopped FUSE servers', { pids, spec: req.specPath, graceMs: req.graceMs })
      // A server that dropped root could not unmount: the mount goes here, not half-left.
      const detached = await detachStopped(req.specPath, log)
      return { stopped: pids, ...(detached !== undefined ? { detached } : {}) }
    }
    await checkSpawnPaths(stateDir, req.specPath, req.logPath)
    const started = await spawnLocalFuseServer(req.specPath, req.logPath, runAs)
    counts.spawned++
    counts.running++
    log.info('started FUSE server', { pid: started.pid, spec: req.specPath, cgroup: started.cgroup?.dir, noCgroup: started.cgroup?.skipped })
    // node reaps its children (no zombies); the exit is logged for the operator.
    void started.exited.then(({ code, signal }) => {
      counts.running--
      counts.exits[signal !== null ? 'signal' : code === 0 ? 'clean' : 'error']++
      log.info('FUSE server exited', { pid: started.pid, spec: req.specPath, code, signal })
    })
    return { pid: started.pid }
  } catch (err) {
    const message = (err as Error).message
    if (err instanceof RequestError) { counts.refused++; log.warn('refused launcher request', { error: message }) } else { counts.failed++; log.error('launcher request failed', { error: message }) }
    return { error: message }
  }
}

/**
 * After a stop: when no server of the spec is left, lazily unmounts what is left of the volume's
 * FUSE mount at the spec's mountpoint (never another mount). Returns the mountpoint detached, or
 * undefined when there was nothing (no spec any more, no mount of this volume there).
 */
export async function detachStopped (specPath: string, log: Logger): Promise<string | undefined> {
  const target = await specMountOf(specPath)
  if (target === undefined) return undefined
  const { mountpoint, volumeId } = target
  if ((await findServerPids(specPath)).length > 0) return undefined
  const { detached, error } = await detachVolumeMount(mountpoint, volumeId)
  if (error !== undefined) log.warn('cannot detach a stopped server\'s mount', { mountpoint, error })
  if (!detached) return undefined
  log.info('detached the mount of a stopped FUSE server', { mountpoint, volumeId })
  return mountpoint
}

export async function fuseHostCommand (argv: string[]): Promise<number> {
  let values
  try {
    ({ values } = readFlags(argv, FUSE_HOST_FLAGS as unknown as Parameters<typeof readFlags>[1]))
  } catch (err) {
    throw new ConfigError([(err as Error).message])
  }
  const problems: string[] = []
  const socketPath = values.socket as string | undefined
  if (socketPath === undefined || !path.isAbsolute(socketPath)) problems.push('--socket must be an absolute path')
  const stateDir = String(values['state-dir'])
  if (!path.isAbsolute(stateDir)) problems.push('--state-dir must be absolute')
  const logLevel = String(values['log-level'])
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel)) problems.push(`--log-level must be error, warn, info or debug (got ${JSON.stringify(logLevel)})`)
  const metricsListen = parseListen(problems, values['metrics-listen'])
  const runAs = validateRunAs(problems, values['fuse-run-as'])
  if (problems.length > 0) throw new ConfigError(problems)
  const log = createLogger(logLevel, 'fuse-host')
  await mkdir(path.join(stateDir, 'volumes'), { recursive: true, mode: 0o700 })
  const counts = new FuseHostCounts()
  const host = await startFuseHost({ socketPath: socketPath as string, stateDir: path.resolve(stateDir), log, counts, ...(runAs !== undefined ? { runAs } : {}) })
  if (metricsListen !== undefined) {
    const { fuseHostRegistry } = await import('./fuse-host-metrics.js')
    const registry = fuseHostRegistry(counts)
    await startMetricsServer({ listen: metricsListen, log, metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }) })
  }
  return await new Promise<number>((resolve) => {
    const stop = (sig: string): void => {
      // The FUSE servers are detached (own session) and stay up: a fuse-host restart outside
      // Kubernetes keeps every mount. In Kubernetes, stopping this container kills all its
      // processes anyway, which is why it is a separate container that is rarely restarted.
      log.info('fuse-host stopping; FUSE servers keep running', { signal: sig })
      void host.close().finally(() => resolve(0))
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
}
