// `ipfs-csi preload serve|status`. serve runs the per-node preloader (a DaemonSet pod, or a test
// process: both start it the same way); status prints a running preloader's progress.
import path from 'node:path'
import { ConfigError, intOption, readFlags, validateKuboApi } from '../driver/config.js'
import { DEFAULTS } from '../driver/constants.js'
import { Kubo } from '../driver/kubo.js'
import { createLogger } from '../driver/logger.js'
import { parseDesired, parseLabels } from './desired-state.js'
import { DesiredWatcher } from './desired-watcher.js'
import { Preloader, type EntryStatus } from './preloader.js'
import { startStatusServer } from './status-server.js'
import { preloadRegistry } from './preload-metrics.js'
import { registerKuboUp, renderRegistry } from '../driver/metrics.js'
import { parseListen, startMetricsServer, type ListenAddress } from '../driver/metrics-server.js'
import { cachedCheck } from './cached-check.js'

/** /healthz asks the node Kubo at most this often (the kubelet probes every 20 s). */
const HEALTH_CHECK_MAX_AGE_MS = 10_000

export const PRELOAD_SERVE_FLAGS = {
  desired: { type: 'string' },
  'kubo-api': { type: 'string', default: DEFAULTS.kuboApi },
  'kubo-api-token-file': { type: 'string' },
  'node-name': { type: 'string' },
  'node-labels': { type: 'string', default: '' },
  listen: { type: 'string', default: '127.0.0.1:9464' },
  concurrency: { type: 'string', default: '32' },
  'kubo-timeout-ms': { type: 'string', default: String(DEFAULTS.kuboTimeoutMs) },
  'poll-interval-ms': { type: 'string', default: '2000' },
  'log-level': { type: 'string', default: DEFAULTS.logLevel },
  'metrics-listen': { type: 'string' }
} as const

const SERVE_USAGE = 'usage: ipfs-csi preload serve --desired FILE --kubo-api URL --node-name NAME [--node-labels k=v,...] [--listen HOST:PORT] [--metrics-listen HOST:PORT] [--kubo-api-token-file FILE] [--concurrency N] [--log-level L]'
const STATUS_USAGE = 'usage: ipfs-csi preload status [--url http://HOST:PORT] [--watch [--interval-ms N]] [--json]'

export interface PreloadServeConfig {
  desired: string
  kuboApi: string
  kuboApiTokenFile?: string
  nodeName: string
  labels: Record<string, string>
  host: string
  port: number
  concurrency: number
  kuboTimeoutMs: number
  pollIntervalMs: number
  logLevel: string
  /** A second endpoint for /metrics alone (the status endpoint serves /metrics too). */
  metricsListen?: ListenAddress
}

/** Validates every flag (from argv, then IPFS_CSI_* env) and reports all problems at once. */
export function parsePreloadServe (argv: string[], env: NodeJS.ProcessEnv = process.env): PreloadServeConfig {
  let read
  try {
    read = readFlags(argv, PRELOAD_SERVE_FLAGS, env)
  } catch (err) {
    throw new ConfigError([(err as Error).message, SERVE_USAGE])
  }
  const v = read.values
  const problems: string[] = []
  if (read.positionals.length > 0) problems.push(`unexpected arguments: ${read.positionals.join(' ')}`)
  const desired = (v.desired as string | undefined) ?? ''
  if (desired === '') problems.push('--desired FILE is required')
  else if (!path.isAbsolute(desired)) problems.push(`--desired must be an absolute path (got ${JSON.stringify(desired)})`)
  const kuboApi = validateKuboApi(problems, v['kubo-api'])
  const tokenFile = v['kubo-api-token-file'] as string | undefined
  if (tokenFile !== undefined && !path.isAbsolute(tokenFile)) problems.push('--kubo-api-token-file must be an absolute path')
  const nodeName = (v['node-name'] as string | undefined) ?? env.NODE_NAME ?? ''
  if (nodeName === '') problems.push('--node-name (or NODE_NAME) is required')
  else if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(nodeName)) problems.push(`--node-name must be a DNS-like name (got ${JSON.stringify(nodeName)})`)
  const labels = parseLabels(String(v['node-labels'] ?? ''), problems)
  const { host, port } = parseListen(problems, String(v.listen), 'listen') ?? { host: '', port: 0 }
  const metricsListen = parseListen(problems, v['metrics-listen'])
  const concurrency = intOption(problems, 'concurrency', v.concurrency, 1, 1024)
  const kuboTimeoutMs = intOption(problems, 'kubo-timeout-ms', v['kubo-timeout-ms'], 100, 600_000)
  const pollIntervalMs = intOption(problems, 'poll-interval-ms', v['poll-interval-ms'], 100, 3_600_000)
  const logLevel = String(v['log-level'])
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel)) problems.push(`--log-level must be error, warn, info or debug (got ${JSON.stringify(logLevel)})`)
  if (problems.length > 0) throw new ConfigError([...problems, SERVE_USAGE])
  return { desired, kuboApi, ...(tokenFile !== undefined ? { kuboApiTokenFile: tokenFile } : {}), nodeName, labels, host, port, concurrency, kuboTimeoutMs, pollIntervalMs, logLevel, ...(metricsListen !== undefined ? { metricsListen } : {}) }
}

export async function preloadCommand (argv: string[]): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === 'serve') return await serveCommand(rest)
  if (sub === 'status') return await statusCommand(rest)
  console.error(`unknown preload command ${JSON.stringify(sub ?? '')}\n${SERVE_USAGE}\n${STATUS_USAGE}`)
  return 2
}

async function serveCommand (argv: string[]): Promise<number> {
  const config = parsePreloadServe(argv)
  const log = createLogger(config.logLevel, 'preloader')
  const kubo = new Kubo({ url: config.kuboApi, ...(config.kuboApiTokenFile !== undefined ? { tokenFile: config.kuboApiTokenFile } : {}), timeoutMs: config.kuboTimeoutMs, maxSockets: config.concurrency })
  const preloader = new Preloader({ kubo, nodeName: config.nodeName, labels: config.labels, concurrency: config.concurrency, log, kuboTimeoutMs: config.kuboTimeoutMs })
  const registry = preloadRegistry(preloader)
  registerKuboUp(registry, kubo)
  const server = await startStatusServer({ host: config.host, port: config.port, preloader, registry, log, kuboReachable: cachedCheck(async () => await kubo.reachable(), HEALTH_CHECK_MAX_AGE_MS) })
  const metricsServer = config.metricsListen !== undefined ? await startMetricsServer({ listen: config.metricsListen, log, metrics: async () => await renderRegistry(registry) }) : undefined
  const watcher = new DesiredWatcher({
    file: config.desired,
    pollMs: config.pollIntervalMs,
    log,
    onText: (text) => {
      try {
        preloader.apply(parseDesired(text))
      } catch (err) {
        preloader.fileProblem((err as Error).message)
      }
    },
    onError: (msg) => preloader.fileProblem(msg)
  })
  log.info('preloader starting', { node: config.nodeName, labels: config.labels, desired: config.desired, kuboApi: config.kuboApi, concurrency: config.concurrency })
  await watcher.start()
  const ticker = setInterval(() => preloader.tick(), config.pollIntervalMs)
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string): void => { log.info('stopping', { signal: sig }); resolve() }
    process.once('SIGTERM', () => onSignal('SIGTERM'))
    process.once('SIGINT', () => onSignal('SIGINT'))
  })
  clearInterval(ticker)
  watcher.stop()
  await preloader.stop()
  await server.close()
  await metricsServer?.close()
  return 0
}

export const PRELOAD_STATUS_FLAGS = {
  url: { type: 'string', default: 'http://127.0.0.1:9464' },
  json: { type: 'boolean', default: false },
  watch: { type: 'boolean', default: false },
  'interval-ms': { type: 'string', default: '2000' }
} as const

type StatusBody = { node: string, entries: EntryStatus[], problems?: string[], desiredError?: string | null }

async function statusCommand (argv: string[]): Promise<number> {
  let read
  try {
    read = readFlags(argv, PRELOAD_STATUS_FLAGS)
  } catch (err) {
    throw new ConfigError([(err as Error).message, STATUS_USAGE])
  }
  const problems: string[] = []
  if (read.positionals.length > 0) problems.push(`unexpected arguments: ${read.positionals.join(' ')}`)
  const base = validateKuboApi(problems, read.values.url, 'url')
  const intervalMs = intOption(problems, 'interval-ms', read.values['interval-ms'], 200, 3_600_000)
  if (problems.length > 0) throw new ConfigError([...problems, STATUS_USAGE])
  const fetchStatus = async (): Promise<StatusBody> => {
    const res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(10_000) })
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    return await res.json() as StatusBody
  }
  if (read.values.watch === true) return await watchStatus(fetchStatus, base, intervalMs, process.stdout)
  let body: StatusBody
  try {
    body = await fetchStatus()
  } catch (err) {
    console.error(`cannot read preloader status from ${base}/status: ${(err as Error).message}`)
    return 1
  }
  if (read.values.json === true) { console.log(JSON.stringify(body, null, 2)); return 0 }
  console.log(formatStatus(body))
  return body.entries.some(e => e.state === 'failed') ? 1 : 0
}

const settled = (e: EntryStatus): boolean => e.state === 'ready' || e.state === 'failed'

/**
 * `preload status --watch`: on a terminal the table is redrawn in place; piped, a plain line is
 * printed for an entry when its state changes or its progress passes another 10 %. Ends when every
 * entry is ready or failed (exit 1 if one failed); a status endpoint that stops answering is
 * retried and reported, never fatal.
 */
export async function watchStatus (fetchStatus: () => Promise<StatusBody>, base: string, intervalMs: number, out: NodeJS.WriteStream): Promise<number> {
  const tty = out.isTTY === true
  let drawnLines = 0
  const seen = new Map<string, string>()
  let stop = false
  const onSigint = (): void => { stop = true }
  process.once('SIGINT', onSigint)
  try {
    for (;;) {
      let body: StatusBody | undefined
      try {
        body = await fetchStatus()
      } catch (err) {
        const msg = `cannot read preloader status from ${base}/status: ${(err as Error).message}; retrying`
        if (tty) { out.write(`\x1b[${drawnLines}A\x1b[J${msg}\n`); drawnLines = 1 } else out.write(msg + '\n')
      }
      if (body !== undefined) {
        if (tty) {
          const text = formatStatus(body)
          out.write(`${drawnLines > 0 ? `\x1b[${drawnLines}A\x1b[J` : ''}${text}\n`)
          drawnLines = text.split('\n').length
        } else {
          for (const e of body.entries) {
            const pct = e.bytesTotal > 0 ? Math.floor(Math.min(1, e.bytesFetched / e.bytesTotal) * 10) * 10 : 0
            const key = `${e.state}/${pct}`
            if (seen.get(e.name) === key) continue
            seen.set(e.name, key)
            out.write(`${new Date().toISOString()} ${e.name} ${e.state} ${pct}% ${human(e.bytesFetched)}/${human(e.bytesTotal)} ${e.blocksFetched}/${e.blocksTotal} blocks${e.error != null ? ` error: ${e.error}` : ''}\n`)
          }
        }
        if (body.entries.every(settled)) return body.entries.some(e => e.state === 'failed') ? 1 : 0
      }
      if (stop) return 130
      await new Promise(resolve => setTimeout(resolve, intervalMs))
      if (stop) return 130
    }
  } finally {
    process.off('SIGINT', onSigint)
  }
}

const BAR = 30

export function progressBar (done: number, total: number): string {
  const frac = total > 0 ? Math.min(1, done / total) : 0
  const filled = Math.round(frac * BAR)
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${(frac * 100).toFixed(1).padStart(5)}%`
}

function human (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i] ?? 'B'}`
}

export function formatStatus (body: { node: string, entries: EntryStatus[], problems?: string[], desiredError?: string | null }): string {
  const out = [`node ${body.node}: ${body.entries.length} entr${body.entries.length === 1 ? 'y' : 'ies'}`]
  const width = Math.max(4, ...body.entries.map(e => e.name.length))
  for (const e of body.entries) {
    out.push(`${e.name.padEnd(width)} ${e.state.padEnd(8)} ${progressBar(e.bytesFetched, e.bytesTotal)} ${human(e.bytesFetched)}/${human(e.bytesTotal)} ${e.blocksFetched}/${e.blocksTotal} blocks  ${e.cid}`)
    if (e.error !== null && e.error !== undefined) out.push(`${' '.repeat(width)} error: ${e.error}`)
  }
  if (body.desiredError != null) out.push(`desired state: ${body.desiredError}`)
  for (const p of body.problems ?? []) out.push(`invalid entry: ${p}`)
  return out.join('\n')
}
