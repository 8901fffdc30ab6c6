// `ipfs-csi mount <cid>[/path] <dir>`: serves IPFS content at a directory outside Kubernetes,
// in the foreground, until SIGINT/SIGTERM (then it unmounts). The path inside the DAG is walked
// here through the same verified reader the mount uses, so the mount serves a fixed root CID.
import { realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import type { CID } from 'multiformats/cid'
import { DEFAULTS } from '../../driver/constants.js'
import { ConfigError, intOption, readFlags, validateBlocksDir, validateKuboApi, validateRunAs, type RunAs } from '../../driver/config.js'
import { parseContentHandle } from '../../driver/content-ref.js'
import { Code, CsiError, FsError } from '../../driver/errors.js'
import { Kubo } from '../../driver/kubo.js'
import { createLogger, type Logger } from '../../driver/logger.js'
import { BlockFetcher } from '../../content/block-fetcher.js'
import { ContentTree } from '../../content/content-tree.js'
import { resolvePath } from '../../content/resolve-path.js'
import { fuseFsName, fuseSpecOf, type FuseSettings, type FuseSpec } from './fuse-spec.js'
import { startUnmountGuard } from './unmount-guard.js'
import { runUntilSignalled, startFuse } from './fuse-server.js'
import { serveFuseMetrics } from './fuse-metrics.js'
import { parseListen, type ListenAddress } from '../../driver/metrics-server.js'

export const MOUNT_FLAGS = {
  'kubo-api': { type: 'string', default: DEFAULTS.kuboApi },
  'kubo-api-token-file': { type: 'string' },
  'kubo-blocks-dir': { type: 'string' },
  'read-timeout-ms': { type: 'string', default: String(DEFAULTS.readTimeoutMs) },
  'kubo-timeout-ms': { type: 'string', default: String(DEFAULTS.kuboTimeoutMs) },
  'block-cache-bytes': { type: 'string', default: String(DEFAULTS.blockCacheBytes) },
  'read-ahead-blocks': { type: 'string', default: String(DEFAULTS.readAheadBlocks) },
  'log-level': { type: 'string', default: DEFAULTS.logLevel },
  'metrics-listen': { type: 'string' },
  'fuse-run-as': { type: 'string' }
} as const

const USAGE = 'usage: ipfs-csi mount <cid>[/path] <dir> [--kubo-api URL] [--kubo-api-token-file FILE] [--kubo-blocks-dir DIR] [--read-timeout-ms N] [--metrics-listen HOST:PORT] [--fuse-run-as UID:GID] [--log-level L]'

export interface MountArgs extends FuseSettings {
  cid: CID
  path: string[]
  dir: string
  /** Where this mount's metrics are served (unset: nowhere). */
  metricsListen?: ListenAddress
  /** Serve as this uid/gid once mounted (privileges.ts). */
  runAs?: RunAs
}

/** Validates everything before any Kubo call; throws ConfigError listing every problem. */
export function parseMountArgs (argv: string[], env: NodeJS.ProcessEnv = process.env): MountArgs {
  let read
  try {
    read = readFlags(argv, MOUNT_FLAGS, env)
  } catch (err) {
    throw new ConfigError([(err as Error).message, USAGE])
  }
  const v = read.values
  const problems: string[] = []
  if (read.positionals.length !== 2) problems.push(`expected <cid>[/path] and <dir>, got ${read.positionals.length} argument(s)`)
  const [handle = '', dirArg = ''] = read.positionals
  let ref: { cid: CID, path: string[] } | undefined
  try {
    ref = parseContentHandle(handle, 'content')
  } catch (err) {
    problems.push((err as Error).message)
  }
  const kuboApi = validateKuboApi(problems, v['kubo-api'])
  const tokenFile = v['kubo-api-token-file'] as string | undefined
  if (tokenFile !== undefined && !path.isAbsolute(tokenFile)) problems.push('--kubo-api-token-file must be an absolute path')
  const blocksDir = validateBlocksDir(problems, v['kubo-blocks-dir'])
  const readTimeoutMs = intOption(problems, 'read-timeout-ms', v['read-timeout-ms'], 100, 600_000)
  const kuboTimeoutMs = intOption(problems, 'kubo-timeout-ms', v['kubo-timeout-ms'], 100, 600_000)
  const blockCacheBytes = intOption(problems, 'block-cache-bytes', v['block-cache-bytes'], 0, 64 * 1024 ** 3)
  const readAheadBlocks = intOption(problems, 'read-ahead-blocks', v['read-ahead-blocks'], 0, 256)
  const logLevel = String(v['log-level'])
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel)) problems.push(`--log-level must be error, warn, info or debug (got ${JSON.stringify(logLevel)})`)
  const metricsListen = parseListen(problems, v['metrics-listen'])
  const runAs = validateRunAs(problems, v['fuse-run-as'])
  if (runAs !== undefined && process.getuid?.() !== 0) problems.push('--fuse-run-as needs ipfs-csi mount to run as root')
  if (read.positionals.length === 2 && dirArg === '') problems.push('mount directory is empty')
  if (problems.length > 0) throw new ConfigError([...problems, USAGE])
  return {
    cid: (ref as { cid: CID }).cid,
    path: (ref as { path: string[] }).path,
    dir: path.resolve(dirArg),
    kuboApi,
    ...(tokenFile !== undefined ? { kuboApiTokenFile: tokenFile } : {}),
    ...(blocksDir !== undefined ? { kuboBlocksDir: blocksDir } : {}),
    readTimeoutMs,
    kuboTimeoutMs,
    blockCacheBytes,
    readAheadBlocks,
    logLevel,
    ...(metricsListen !== undefined ? { metricsListen } : {}),
    ...(runAs !== undefined ? { runAs } : {})
  }
}

export async function mountCommand (argv: string[]): Promise<number> {
  let args: MountArgs
  try {
    args = parseMountArgs(argv)
  } catch (err) {
    console.error(`ipfs-csi mount: ${(err as Error).message}`)
    return 2
  }
  const log = createLogger(args.logLevel, 'mount')
  const st = await stat(args.dir).catch(() => undefined)
  if (st === undefined || !st.isDirectory()) {
    console.error(`ipfs-csi mount: mount directory ${args.dir} does not exist or is not a directory`)
    return 2
  }
  let kubo: Kubo
  try {
    kubo = new Kubo({ url: args.kuboApi, ...(args.kuboApiTokenFile !== undefined ? { tokenFile: args.kuboApiTokenFile } : {}), timeoutMs: args.kuboTimeoutMs })
  } catch (err) {
    console.error(`ipfs-csi mount: ${(err as Error).message}`)
    return 2
  }
  // A signal before the mount is up must not kill us half-way through mounting: note it and
  // stop right after (runUntilSignalled takes over once the mount is live).
  let interrupted = false
  const onEarlySignal = (): void => { interrupted = true }
  process.on('SIGINT', onEarlySignal)
  process.on('SIGTERM', onEarlySignal)
  let running
  try {
    const rootCid = await resolveRoot(args, kubo, log)
    if (typeof rootCid === 'number') return rootCid
    if (interrupted) return 1
    running = await startFuse(buildSpec(args, rootCid), log)
    if (args.metricsListen !== undefined) {
      // The mount is up: a port that cannot be bound is reported, and the mount stays.
      await serveFuseMetrics(running.metrics, args.metricsListen, log).catch((err: Error) => {
        console.error(`ipfs-csi mount: cannot serve metrics on ${args.metricsListen?.host ?? ''}:${args.metricsListen?.port ?? ''}: ${err.message}`)
      })
    }
    if (args.runAs !== undefined) {
      // Unmounted by a root helper once we exit, however we exit: after the drop we cannot.
      running.setDetacher(startUnmountGuard(await realpath(running.spec.mountpoint), fuseFsName(running.spec.volumeId)))
      try {
        const creds = running.dropPrivileges(args.runAs)
        log.info('privileges dropped', { uid: args.runAs.uid, gid: args.runAs.gid, noNewPrivs: creds.noNewPrivs })
      } catch (err) {
        console.error(`ipfs-csi mount: cannot drop privileges: ${(err as Error).message}`)
        await running.unmount()
        return exitNow(args, 1)
      }
    }
    console.error(`ipfs-csi mount: ${[args.cid.toString(), ...args.path].join('/')} (${rootCid.toString()}) mounted at ${args.dir}; Ctrl-C to unmount`)
  } finally {
    process.off('SIGINT', onEarlySignal)
    process.off('SIGTERM', onEarlySignal)
  }
  if (interrupted) {
    await running.unmount()
    return exitNow(args, 0)
  }
  await runUntilSignalled(running, log)
  return exitNow(args, 0)
}

/** After a drop fuse-native's handle keeps the loop alive (its unmount never ran): exit here. */
function exitNow (args: MountArgs, code: number): number {
  if (args.runAs !== undefined) process.exit(code)
  return code
}

function buildSpec (args: MountArgs, rootCid: CID): FuseSpec {
  const { cid: _cid, path: _path, dir, metricsListen: _metrics, runAs: _runAs, ...settings } = args
  return fuseSpecOf(settings, { mode: 'content', volumeId: rootCid.toString(), mountpoint: dir, rootCid: rootCid.toString() })
}

/** The CID to serve, or an exit code: 2 for content that does not exist as given, 1 for Kubo trouble. */
async function resolveRoot (args: MountArgs, kubo: Kubo, log: Logger): Promise<CID | number> {
  const fetcher = new BlockFetcher({ kubo, timeoutMs: args.readTimeoutMs, cacheBytes: 16 * 1024 * 1024, log })
  try {
    return (await resolvePath(new ContentTree({ fetcher, log }), args.cid, args.path)).cid
  } catch (err) {
    const invalid = err instanceof FsError || (err instanceof CsiError && (err.code === Code.INVALID_ARGUMENT || err.code === Code.NOT_FOUND))
    console.error(`ipfs-csi mount: ${invalid ? '' : 'cannot read the content: '}${(err as Error).message}`)
    return invalid ? 2 : 1
  } finally {
    fetcher.close()
  }
}
