// Typed configuration for `ipfs-csi serve`, from flags then IPFS_CSI_* environment variables,
// validated once at start-up with every problem reported together.
import { parseArgs } from 'node:util'
import path from 'node:path'
import { DEFAULTS, FUSE_HEAP_MIB } from './constants.js'
import { openFlatfsDir } from './flatfs-dir.js'
import { parseListen, type ListenAddress } from './metrics-server.js'

export type Mode = 'controller' | 'node' | 'all'

export interface ServeConfig {
  mode: Mode
  endpoint: string
  /** Unix socket path taken from endpoint. */
  socketPath: string
  nodeId: string
  kuboApi: string
  /**
   * The node Kubo's RPC as the FUSE servers reach it (written into each content volume's spec).
   * Defaults to kuboApi; differs when the servers run in another pod than the node service (the
   * node data plane, next to the node Kubo: loopback there, a Service from the node service).
   */
  fuseKuboApi: string
  /** File holding the bearer token for Kubo's API.Authorizations; read at start, never logged. */
  kuboApiTokenFile?: string
  /** The node Kubo's flatfs blocks directory, mounted read-only: content reads skip the API for local blocks. */
  kuboBlocksDir?: string
  stateDir: string
  kubeletDir: string
  logLevel: string
  kuboTimeoutMs: number
  readTimeoutMs: number
  defaultCapacityBytes: number
  healIntervalMs: number
  /**
   * Kubo whose MFS holds writable volumes and whose pins hold the controller's records (the
   * storage tier). Defaults to kuboApi; on a node with a node-local Kubo it points at the storage Kubo.
   */
  storageKuboApi: string
  storageKuboApiTokenFile?: string
  /** IPFS Cluster REST API; when set, volumes and snapshots are pinned through the Cluster. */
  clusterApi?: string
  /** File with `user:password` for the Cluster REST API basic auth; never logged. */
  clusterBasicAuthFile?: string
  /** Node mode: when the node Kubo's repo is larger, unpinned content is garbage-collected. */
  nodeCacheMaxBytes?: number
  /**
   * Who starts FUSE servers: `local` (this process, detached) or `unix:///abs/path.sock` (the
   * `ipfs-csi fuse-host` process listening there, so servers outlive this container).
   * Always set by parseServeConfig; absent means `local`.
   */
  fuseLauncher?: string
  /** Heap limit of each FUSE server, in MiB (node mode). */
  fuseMaxHeapMiB: number
  /** Node mode, local launcher: FUSE servers drop to this uid/gid once mounted (fuse-host has its own flag). */
  fuseRunAs?: RunAs
  /** NodeGetInfo's max_volumes_per_node: what the scheduler places on this node (0: no limit). */
  maxVolumesPerNode: number
  /** Writable volumes' spill root on this node; unset: each FUSE server's $TMPDIR/ipfs-csi-spill. */
  spillDir?: string
  /** Bytes all spill files of the node may take together. */
  spillMaxBytes: number
  /** Bytes one volume's spill files may take (at most spillMaxBytes). */
  spillVolumeMaxBytes: number
  /** The inline ephemeral volume policy (node-plugin/inline-policy.ts); unset: inline volumes are refused. */
  inlinePolicyFile?: string
  /**
   * Node mode: kubelet plugin registration served by the driver itself (instead of the
   * node-driver-registrar sidecar). registrationSocket is where the `Registration` service listens
   * (in kubelet's plugins_registry), kubeletRegistrationPath the CSI socket as kubelet sees it.
   */
  registrationSocket?: string
  kubeletRegistrationPath?: string
  /** `--metrics-listen HOST:PORT`: Prometheus metrics of this process (and, in node mode, of its FUSE servers). */
  metricsListen?: ListenAddress
}

export class ConfigError extends Error {
  readonly problems: string[]
  constructor (problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/** Flag name → environment variable: `kubo-api` → `IPFS_CSI_KUBO_API`. */
export const envName = (flag: string): string => 'IPFS_CSI_' + flag.toUpperCase().replace(/-/g, '_')

export const SERVE_FLAGS = {
  mode: { type: 'string', default: 'all' },
  endpoint: { type: 'string', default: DEFAULTS.endpoint },
  'node-id': { type: 'string' },
  'kubo-api': { type: 'string', default: DEFAULTS.kuboApi },
  'kubo-api-token-file': { type: 'string' },
  'fuse-kubo-api': { type: 'string' },
  'kubo-blocks-dir': { type: 'string' },
  'state-dir': { type: 'string', default: DEFAULTS.stateDir },
  'kubelet-dir': { type: 'string', default: DEFAULTS.kubeletDir },
  'log-level': { type: 'string', default: DEFAULTS.logLevel },
  'kubo-timeout-ms': { type: 'string', default: String(DEFAULTS.kuboTimeoutMs) },
  'read-timeout-ms': { type: 'string', default: String(DEFAULTS.readTimeoutMs) },
  'default-capacity-bytes': { type: 'string', default: String(DEFAULTS.defaultCapacityBytes) },
  'heal-interval-ms': { type: 'string', default: String(DEFAULTS.healIntervalMs) },
  'storage-kubo-api': { type: 'string' },
  'storage-kubo-api-token-file': { type: 'string' },
  'cluster-api': { type: 'string' },
  'cluster-basic-auth-file': { type: 'string' },
  'node-cache-max-bytes': { type: 'string' },
  'fuse-launcher': { type: 'string', default: 'local' },
  'fuse-max-heap-mib': { type: 'string', default: String(DEFAULTS.fuseMaxHeapMiB) },
  'fuse-run-as': { type: 'string' },
  'max-volumes-per-node': { type: 'string', default: '0' },
  'spill-dir': { type: 'string' },
  'spill-max-bytes': { type: 'string', default: String(DEFAULTS.spillMaxBytes) },
  'spill-volume-max-bytes': { type: 'string' },
  'inline-policy-file': { type: 'string' },
  'registration-socket': { type: 'string' },
  'kubelet-registration-path': { type: 'string' },
  'metrics-listen': { type: 'string' }
} as const

type FlagSpec = Record<string, { type: 'string' | 'boolean', default?: string | boolean, multiple?: boolean, short?: string }>

/** Parses flags, falling back to IPFS_CSI_* then defaults. Unknown flags are an error. */
export function readFlags (argv: string[], flags: FlagSpec, env: NodeJS.ProcessEnv = process.env): { values: Record<string, string | boolean | undefined>, positionals: string[] } {
  const noDefaults: FlagSpec = {}
  for (const [k, v] of Object.entries(flags)) noDefaults[k] = { type: v.type, ...(v.short != null ? { short: v.short } : {}) }
  const parsed = parseArgs({ args: argv, options: noDefaults, allowPositionals: true, strict: true })
  const values: Record<string, string | boolean | undefined> = {}
  for (const [k, spec] of Object.entries(flags)) {
    const fromFlag = (parsed.values as Record<string, string | boolean | undefined>)[k]
    const fromEnv = env[envName(k)]
    values[k] = fromFlag ?? (fromEnv !== undefined ? (spec.type === 'boolean' ? fromEnv === 'true' || fromEnv === '1' : fromEnv) : spec.default)
  }
  return { values, positionals: parsed.positionals }
}

export function intOption (problems: string[], name: string, raw: unknown, min: number, max: number): number {
  const n = Number(raw)
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
    problems.push(`--${name} must be an integer between ${min} and ${max} (got ${JSON.stringify(raw)})`)
    return min
  }
  return n
}

/**
 * `--kubo-blocks-dir`: optional; when given it must be an absolute path to a flatfs directory
 * (the node Kubo's `$IPFS_PATH/blocks`, which holds a SHARDING file), checked now rather than at
 * the first mount. Returns the path, or undefined when unset.
 */
export function validateBlocksDir (problems: string[], raw: unknown, flag = 'kubo-blocks-dir'): string | undefined {
  if (raw === undefined || raw === '') return undefined
  const dir = String(raw)
  if (!path.isAbsolute(dir)) { problems.push(`--${flag} must be an absolute path (got ${JSON.stringify(dir)})`); return undefined }
  try {
    // The same check the FUSE servers make when they open it (they may run in another container).
    openFlatfsDir(path.resolve(dir))
  } catch (err) {
    problems.push(`--${flag} ${(err as Error).message}`)
    return undefined
  }
  return path.resolve(dir)
}

export function validateKuboApi (problems: string[], raw: unknown, flag = 'kubo-api'): string {
  try {
    const u = new URL(String(raw))
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme')
    return u.toString().replace(/\/$/, '')
  } catch {
    problems.push(`--${flag} must be an http(s) URL (got ${JSON.stringify(raw)})`)
    return ''
  }
}

/**
 * `--registration-socket` and `--kubelet-registration-path` go together (both absolute socket
 * paths), and only in node or all mode: kubelet registers node plugins only.
 */
function validateRegistration (problems: string[], socketRaw: unknown, kubeletPathRaw: unknown, mode: string): { registrationSocket?: string, kubeletRegistrationPath?: string } {
  const socket = socketRaw === undefined || socketRaw === '' ? undefined : String(socketRaw)
  const kubeletPath = kubeletPathRaw === undefined || kubeletPathRaw === '' ? undefined : String(kubeletPathRaw)
  if (socket === undefined && kubeletPath === undefined) return {}
  const before = problems.length
  if (socket === undefined || kubeletPath === undefined) problems.push('--registration-socket and --kubelet-registration-path must be set together')
  if (mode === 'controller') problems.push('--registration-socket is for node or all mode (kubelet registers node plugins)')
  for (const [flag, p] of [['registration-socket', socket], ['kubelet-registration-path', kubeletPath]] as const) {
    if (p !== undefined && (!path.isAbsolute(p) || !p.endsWith('.sock'))) problems.push(`--${flag} must be an absolute path to a .sock file (got ${JSON.stringify(p)})`)
  }
  if (problems.length > before || socket === undefined || kubeletPath === undefined) return {}
  return { registrationSocket: path.resolve(socket), kubeletRegistrationPath: path.resolve(kubeletPath) }
}

/** An unprivileged uid and gid a FUSE server drops to once its mount is up. */
export interface RunAs { uid: number, gid: number }

/** Highest id taken: 2^32-1 is (uid_t)-1, "no change", to setuid and chown. */
const MAX_ID = 4294967294

/**
 * `--fuse-run-as UID:GID` (numbers, neither 0: root would keep every capability). Unset or empty:
 * undefined, servers stay root.
 */
export function validateRunAs (problems: string[], raw: unknown, flag = 'fuse-run-as'): RunAs | undefined {
  if (raw === undefined || raw === '') return undefined
  const m = /^(\d{1,10}):(\d{1,10})$/.exec(String(raw))
  const uid = Number(m?.[1])
  const gid = Number(m?.[2])
  if (m === null || uid < 1 || gid < 1 || uid > MAX_ID || gid > MAX_ID) {
    problems.push(`--${flag} must be UID:GID, two numbers from 1 to ${MAX_ID} (got ${JSON.stringify(String(raw))})`)
    return undefined
  }
  return { uid, gid }
}

function optionalAbsolute (problems: string[], flag: string, raw: unknown): string | undefined {
  if (raw === undefined || raw === '') return undefined
  const p = String(raw)
  if (!path.isAbsolute(p)) { problems.push(`--${flag} must be an absolute path (got ${JSON.stringify(p)})`); return undefined }
  return path.resolve(p)
}

const MIN_SPILL_BYTES = 1024 * 1024

/** `--spill-*`: an absolute dir (optional), a node budget, a per-volume share no larger than it. */
function validateSpill (problems: string[], dirRaw: unknown, maxRaw: unknown, volumeRaw: unknown): Pick<ServeConfig, 'spillDir' | 'spillMaxBytes' | 'spillVolumeMaxBytes'> {
  const spillDir = optionalAbsolute(problems, 'spill-dir', dirRaw)
  const spillMaxBytes = intOption(problems, 'spill-max-bytes', maxRaw, MIN_SPILL_BYTES, Number.MAX_SAFE_INTEGER)
  let spillVolumeMaxBytes = Math.max(MIN_SPILL_BYTES, Math.floor(spillMaxBytes / 2))
  if (volumeRaw !== undefined && volumeRaw !== '') {
    spillVolumeMaxBytes = intOption(problems, 'spill-volume-max-bytes', volumeRaw, MIN_SPILL_BYTES, Number.MAX_SAFE_INTEGER)
    if (spillVolumeMaxBytes > spillMaxBytes) problems.push(`--spill-volume-max-bytes (${spillVolumeMaxBytes}) must not exceed --spill-max-bytes (${spillMaxBytes})`)
  }
  return { ...(spillDir !== undefined ? { spillDir } : {}), spillMaxBytes, spillVolumeMaxBytes }
}

export function parseServeConfig (argv: string[], env: NodeJS.ProcessEnv = process.env): ServeConfig {
  let read
  try {
    read = readFlags(argv, SERVE_FLAGS as unknown as FlagSpec, env)
  } catch (err) {
    throw new ConfigError([(err as Error).message])
  }
  const v = read.values
  const problems: string[] = []
  if (read.positionals.length > 0) problems.push(`unexpected arguments: ${read.positionals.join(' ')}`)
  const mode = String(v.mode)
  if (!['controller', 'node', 'all'].includes(mode)) problems.push(`--mode must be controller, node or all (got ${JSON.stringify(mode)})`)
  const endpoint = String(v.endpoint)
  let socketPath = ''
  if (!endpoint.startsWith('unix://')) problems.push(`--endpoint must be unix:///path/to/csi.sock (got ${JSON.stringify(endpoint)})`)
  else {
    socketPath = endpoint.slice('unix://'.length)
    if (!path.isAbsolute(socketPath)) problems.push(`--endpoint socket path must be absolute (got ${JSON.stringify(socketPath)})`)
  }
  const nodeId = (v['node-id'] as string | undefined) ?? env.NODE_NAME ?? ''
  if (mode !== 'controller' && nodeId === '') problems.push('--node-id (or NODE_NAME) is required in node and all modes')
  if (nodeId !== '' && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(nodeId)) problems.push(`--node-id must be a DNS-like name (got ${JSON.stringify(nodeId)})`)
  const kuboApi = validateKuboApi(problems, v['kubo-api'])
  const fuseKuboRaw = v['fuse-kubo-api'] as string | undefined
  const fuseKuboApi = fuseKuboRaw !== undefined && fuseKuboRaw !== '' ? validateKuboApi(problems, fuseKuboRaw, 'fuse-kubo-api') : kuboApi
  const stateDir = String(v['state-dir'])
  const kubeletDir = String(v['kubelet-dir'])
  if (!path.isAbsolute(stateDir)) problems.push(`--state-dir must be absolute (got ${JSON.stringify(stateDir)})`)
  if (!path.isAbsolute(kubeletDir)) problems.push(`--kubelet-dir must be absolute (got ${JSON.stringify(kubeletDir)})`)
  const logLevel = String(v['log-level'])
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel)) problems.push(`--log-level must be error, warn, info or debug (got ${JSON.stringify(logLevel)})`)
  const kuboTimeoutMs = intOption(problems, 'kubo-timeout-ms', v['kubo-timeout-ms'], 100, 600_000)
  const readTimeoutMs = intOption(problems, 'read-timeout-ms', v['read-timeout-ms'], 100, 600_000)
  const defaultCapacityBytes = intOption(problems, 'default-capacity-bytes', v['default-capacity-bytes'], 1024 * 1024, DEFAULTS.maxCapacityBytes)
  const healIntervalMs = intOption(problems, 'heal-interval-ms', v['heal-interval-ms'], 0, 3_600_000)
  const tokenFile = v['kubo-api-token-file'] as string | undefined
  if (tokenFile !== undefined && !path.isAbsolute(tokenFile)) problems.push('--kubo-api-token-file must be an absolute path')
  const kuboBlocksDir = validateBlocksDir(problems, v['kubo-blocks-dir'])
  const clusterApiRaw = v['cluster-api'] as string | undefined
  const clusterApi = clusterApiRaw !== undefined && clusterApiRaw !== '' ? validateKuboApi(problems, clusterApiRaw, 'cluster-api') : undefined
  const clusterAuth = v['cluster-basic-auth-file'] as string | undefined
  if (clusterAuth !== undefined && !path.isAbsolute(clusterAuth)) problems.push('--cluster-basic-auth-file must be an absolute path')
  const storageRaw = v['storage-kubo-api'] as string | undefined
  const storageKuboApi = storageRaw !== undefined && storageRaw !== '' ? validateKuboApi(problems, storageRaw, 'storage-kubo-api') : kuboApi
  const storageToken = (v['storage-kubo-api-token-file'] as string | undefined) ?? (storageRaw === undefined || storageRaw === '' ? tokenFile : undefined)
  if (storageToken !== undefined && !path.isAbsolute(storageToken)) problems.push('--storage-kubo-api-token-file must be an absolute path')
  const cacheRaw = v['node-cache-max-bytes'] as string | undefined
  const nodeCacheMaxBytes = cacheRaw !== undefined && cacheRaw !== '' ? intOption(problems, 'node-cache-max-bytes', cacheRaw, 1, Number.MAX_SAFE_INTEGER) : undefined
  const fuseLauncher = String(v['fuse-launcher'])
  if (fuseLauncher !== 'local' && !(fuseLauncher.startsWith('unix://') && path.isAbsolute(fuseLauncher.slice('unix://'.length)))) {
    problems.push(`--fuse-launcher must be local or unix:///abs/path.sock (got ${JSON.stringify(fuseLauncher)})`)
  }
  const fuseRunAs = validateRunAs(problems, v['fuse-run-as'])
  if (fuseRunAs !== undefined && fuseLauncher !== 'local') problems.push('--fuse-run-as applies to servers this process starts (--fuse-launcher local); with a unix launcher set it on ipfs-csi fuse-host')
  const registration = validateRegistration(problems, v['registration-socket'], v['kubelet-registration-path'], mode)
  const metricsListen = parseListen(problems, v['metrics-listen'])
  const fuseMaxHeapMiB = intOption(problems, 'fuse-max-heap-mib', v['fuse-max-heap-mib'], FUSE_HEAP_MIB.min, FUSE_HEAP_MIB.max)
  const maxVolumesPerNode = intOption(problems, 'max-volumes-per-node', v['max-volumes-per-node'], 0, 100_000)
  const spill = validateSpill(problems, v['spill-dir'], v['spill-max-bytes'], v['spill-volume-max-bytes'])
  const inlinePolicyFile = optionalAbsolute(problems, 'inline-policy-file', v['inline-policy-file'])
  if (problems.length > 0) throw new ConfigError(problems)
  return {
    ...spill,
    ...(inlinePolicyFile !== undefined ? { inlinePolicyFile } : {}),
    fuseLauncher,
    fuseMaxHeapMiB,
    ...(fuseRunAs !== undefined ? { fuseRunAs } : {}),
    maxVolumesPerNode,
    ...registration,
    ...(metricsListen !== undefined ? { metricsListen } : {}),
    ...(nodeCacheMaxBytes !== undefined ? { nodeCacheMaxBytes } : {}),
    storageKuboApi,
    ...(storageToken !== undefined ? { storageKuboApiTokenFile: storageToken } : {}),
    ...(clusterApi !== undefined ? { clusterApi } : {}),
    ...(clusterAuth !== undefined ? { clusterBasicAuthFile: clusterAuth } : {}),
    mode: mode as Mode,
    endpoint,
    socketPath,
    nodeId,
    kuboApi,
    fuseKuboApi,
    ...(tokenFile !== undefined ? { kuboApiTokenFile: tokenFile } : {}),
    ...(kuboBlocksDir !== undefined ? { kuboBlocksDir } : {}),
    stateDir: path.resolve(stateDir),
    kubeletDir: path.resolve(kubeletDir),
    logLevel,
    kuboTimeoutMs,
    readTimeoutMs,
    defaultCapacityBytes,
    healIntervalMs
  }
}
