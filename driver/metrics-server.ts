// The HTTP endpoint every long-running command serves its metrics on (`--metrics-listen
// HOST:PORT`), or on a unix socket (a FUSE server's, read by the node service). GET /metrics is
// the Prometheus text format; `routes` adds more read-only paths (the FUSE server's JSON).
// Read-only and answering nothing secret, like every metrics endpoint of this driver.
import http from 'node:http'
import { listenOn, type Listening, type ListenOn } from './http-listen.js'
import type { Logger } from './logger.js'

export interface ListenAddress { host: string, port: number }

/**
 * `HOST:PORT` (`[v6]:PORT`, `:PORT` = all interfaces, port 0 = any free port). Pushes a problem
 * and returns undefined when malformed; undefined without a problem when unset.
 */
export function parseListen (problems: string[], raw: unknown, flag = 'metrics-listen'): ListenAddress | undefined {
  if (raw === undefined || raw === '') return undefined
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})$/.exec(String(raw))
  if (m === null || Number(m[2]) > 65535) {
    problems.push(`--${flag} must be HOST:PORT (got ${JSON.stringify(raw)})`)
    return undefined
  }
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '')
  return { host: host === '' ? '0.0.0.0' : host, port: Number(m[2]) }
}

export interface Rendered { contentType: string, body: string }

export interface MetricsServerInit {
  /** TCP address, or a unix socket path. */
  listen: ListenOn
  log: Logger
  /** Renders /metrics at each scrape. */
  metrics: () => Promise<Rendered>
  /** More GET paths (e.g. `/metrics.json`). */
  routes?: Record<string, () => Promise<Rendered>>
}

export type MetricsServer = Listening

/** A scrape that takes longer than this is answered 503 (Prometheus' own timeout is 10 s). */
const RENDER_TIMEOUT_MS = 8000

export async function startMetricsServer (init: MetricsServerInit): Promise<MetricsServer> {
  const routes: Record<string, () => Promise<Rendered>> = { '/metrics': init.metrics, ...(init.routes ?? {}) }
  const server = http.createServer((req, res) => {
    const reply = (code: number, type: string, body: string): void => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' })
      res.end(req.method === 'HEAD' ? undefined : body)
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') { reply(405, 'text/plain', 'method not allowed\n'); return }
    const route = routes[new URL(req.url ?? '/', 'http://localhost').pathname]
    if (route === undefined) { reply(404, 'text/plain', `not found: try ${Object.keys(routes).join(', ')}\n`); return }
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error('rendering the metrics took too long')), RENDER_TIMEOUT_MS) })
    Promise.race([route(), timeout]).then((r) => reply(200, r.contentType, r.body), (err: Error) => {
      init.log.warn('metrics scrape failed', { error: err.message })
      reply(503, 'text/plain', `metrics unavailable: ${err.message}\n`)
    }).finally(() => clearTimeout(timer))
  })
  server.on('clientError', (_err, socket) => { socket.destroy() })
  const listening = await listenOn(server, init.listen)
  // Keep-alive sockets from Prometheus must not keep the process alive at shutdown.
  server.unref()
  init.log.info('metrics endpoint listening', { url: listening.url })
  return listening
}
