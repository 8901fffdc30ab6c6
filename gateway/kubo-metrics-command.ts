// `ipfs-csi gateway kubo-metrics`: a sidecar in the gateway Kubo pod that serves Kubo's own
// /debug/metrics/prometheus (read from Kubo on the pod's loopback) on a port of its own. Kubo
// serves that path only on its RPC port, which must never be open to Prometheus' namespace; this
// relays the one read-only path and nothing else.
import { ConfigError, readFlags, validateKuboApi } from '../driver/config.js'
import { deadline } from '../driver/deadline.js'
import { createLogger } from '../driver/logger.js'
import { parseListen, startMetricsServer, type ListenAddress, type Rendered } from '../driver/metrics-server.js'

export const KUBO_METRICS_FLAGS = {
  'kubo-api': { type: 'string', default: 'http://127.0.0.1:5001' },
  'metrics-listen': { type: 'string', default: ':9468' },
  'log-level': { type: 'string', default: 'info' },
  help: { type: 'boolean', short: 'h' }
} as const

export const KUBO_METRICS_USAGE = `usage: ipfs-csi gateway kubo-metrics [flags]

Serves Kubo's /debug/metrics/prometheus on a port of its own (a sidecar in the Kubo pod), so
Prometheus never needs Kubo's RPC port. Every flag can also be set as IPFS_CSI_<FLAG>.

  --kubo-api URL                    the Kubo in this pod (default http://127.0.0.1:5001)
  --metrics-listen HOST:PORT        serve its metrics at http://HOST:PORT/metrics (default :9468)
  --log-level L                     error, warn, info (default) or debug; JSON lines on stderr
  --help                            this text`

const FETCH_TIMEOUT_MS = 8000
const MAX_BYTES = 32 * 1024 * 1024

export function parseKuboMetricsConfig (argv: string[], env: NodeJS.ProcessEnv = process.env): { kuboApi: string, metricsListen: ListenAddress, logLevel: string } | 'help' {
  let read
  try {
    read = readFlags(argv, KUBO_METRICS_FLAGS, env)
  } catch (err) {
    throw new ConfigError([(err as Error).message, KUBO_METRICS_USAGE])
  }
  const v = read.values
  if (v.help === true) return 'help'
  const problems: string[] = []
  if (read.positionals.length > 0) problems.push(`unexpected arguments: ${read.positionals.join(' ')}`)
  const kuboApi = validateKuboApi(problems, v['kubo-api'])
  const metricsListen = parseListen(problems, v['metrics-listen'])
  const logLevel = String(v['log-level'])
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel)) problems.push(`--log-level must be error, warn, info or debug (got ${JSON.stringify(logLevel)})`)
  if (problems.length > 0 || metricsListen === undefined) throw new ConfigError([...problems, KUBO_METRICS_USAGE])
  return { kuboApi, metricsListen, logLevel }
}

/** Kubo's metrics page, bounded in time and size; a failure becomes the scrape's 503. */
export async function readKuboMetrics (kuboApi: string): Promise<Rendered> {
  const d = deadline(FETCH_TIMEOUT_MS)
  try {
    const res = await fetch(`${kuboApi}/debug/metrics/prometheus`, { signal: d.signal })
    if (!res.ok) throw new Error(`Kubo answered HTTP ${res.status}`)
    const body = await res.text()
    if (body.length > MAX_BYTES) throw new Error(`Kubo's metrics page is over ${MAX_BYTES} bytes`)
    return { contentType: res.headers.get('content-type') ?? 'text/plain; version=0.0.4', body }
  } finally {
    d.clear()
  }
}

export async function kuboMetricsCommand (argv: string[]): Promise<number> {
  const cfg = parseKuboMetricsConfig(argv)
  if (cfg === 'help') { console.log(KUBO_METRICS_USAGE); return 0 }
  const log = createLogger(cfg.logLevel, 'kubo-metrics')
  const server = await startMetricsServer({ listen: cfg.metricsListen, log, metrics: async () => await readKuboMetrics(cfg.kuboApi) })
  // The metrics server does not hold the process open (it is unref'd for the services that
  // embed it): this command has nothing else to do, so it waits on a timer until a signal.
  const hold = setInterval(() => {}, 1 << 30)
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string): void => { clearInterval(hold); log.info('stopping', { signal }); resolve() }
    process.once('SIGTERM', () => onSignal('SIGTERM'))
    process.once('SIGINT', () => onSignal('SIGINT'))
  })
  await server.close()
  return 0
}
