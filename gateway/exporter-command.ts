// `ipfs-csi gateway exporter`: the sidecar beside the gateway's nginx that turns its access-log
// lines (syslog over UDP on the pod's loopback) and its stub_status page into Prometheus metrics
// (nginx-exporter.ts). Flags validated once, all problems reported at once.
import { ConfigError, readFlags } from '../driver/config.js'
import { createLogger } from '../driver/logger.js'
import { renderRegistry } from '../driver/metrics.js'
import { parseListen, startMetricsServer, type ListenAddress } from '../driver/metrics-server.js'
import { NginxExporter } from './nginx-exporter.js'

export const EXPORTER_FLAGS = {
  'log-listen': { type: 'string', default: '127.0.0.1:5140' },
  'stub-status-url': { type: 'string', default: 'http://127.0.0.1:8081/stub_status' },
  'metrics-listen': { type: 'string', default: ':9467' },
  'log-level': { type: 'string', default: 'info' },
  help: { type: 'boolean', short: 'h' }
} as const

export const EXPORTER_USAGE = `usage: ipfs-csi gateway exporter [flags]

The gateway's nginx as Prometheus metrics (a sidecar in the gateway pod): requests by status
code and cache outcome, latency, bytes (from the access-log lines nginx sends over syslog, log_format
gw_metrics of nginx-gateway.conf.template) and connections (from nginx's stub_status).
Every flag can also be set as IPFS_CSI_<FLAG>.

  --log-listen HOST:PORT            UDP address of nginx's access_log syslog:server= (default 127.0.0.1:5140)
  --stub-status-url URL             nginx's stub_status page (default http://127.0.0.1:8081/stub_status)
  --metrics-listen HOST:PORT        serve Prometheus metrics at http://HOST:PORT/metrics (default :9467)
  --log-level L                     error, warn, info (default) or debug; JSON lines on stderr
  --help                            this text`

export interface ExporterConfig { logListen: ListenAddress, stubStatusUrl: string, metricsListen: ListenAddress, logLevel: string }

export function parseExporterConfig (argv: string[], env: NodeJS.ProcessEnv = process.env): ExporterConfig | 'help' {
  let read
  try {
    read = readFlags(argv, EXPORTER_FLAGS, env)
  } catch (err) {
    throw new ConfigError([(err as Error).message, EXPORTER_USAGE])
  }
  const v = read.values
  if (v.help === true) return 'help'
  const problems: string[] = []
  if (read.positionals.length > 0) problems.push(`unexpected arguments: ${read.positionals.join(' ')}`)
  const logListen = parseListen(problems, v['log-listen'], 'log-listen')
  const metricsListen = parseListen(problems, v['metrics-listen'])
  let stubStatusUrl = ''
  try {
    const u = new URL(String(v['stub-status-url']))
    if (u.protocol !== 'http:') throw new Error('scheme')
    stubStatusUrl = u.toString()
  } catch {
    problems.push(`--stub-status-url must be an http URL (got ${JSON.stringify(v['stub-status-url'])})`)
  }
  const logLevel = String(v['log-level'])
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel)) problems.push(`--log-level must be error, warn, info or debug (got ${JSON.stringify(logLevel)})`)
  if (problems.length > 0 || logListen === undefined || metricsListen === undefined) throw new ConfigError([...problems, EXPORTER_USAGE])
  return { logListen, stubStatusUrl, metricsListen, logLevel }
}

export async function exporterCommand (argv: string[]): Promise<number> {
  const cfg = parseExporterConfig(argv)
  if (cfg === 'help') { console.log(EXPORTER_USAGE); return 0 }
  const log = createLogger(cfg.logLevel, 'gateway-exporter')
  const exporter = await NginxExporter.start({ logListen: cfg.logListen, stubStatusUrl: cfg.stubStatusUrl, log })
  const server = await startMetricsServer({ listen: cfg.metricsListen, log, metrics: async () => await renderRegistry(exporter.registry) })
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string): void => { log.info('stopping', { signal }); resolve() }
    process.once('SIGTERM', () => onSignal('SIGTERM'))
    process.once('SIGINT', () => onSignal('SIGINT'))
  })
  await server.close()
  await exporter.close()
  return 0
}
