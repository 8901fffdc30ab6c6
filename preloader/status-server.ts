// The preloader's HTTP endpoint: `/status` (JSON), `/metrics` (Prometheus text format 0.0.4)
// and `/healthz`. Read-only, no secrets in any answer.
import http from 'node:http'
import { listenOn, type Listening } from '../driver/http-listen.js'
import type { Logger } from '../driver/logger.js'
import type { Registry } from '../driver/metrics.js'
import type { Preloader } from './preloader.js'
import { preloadRegistry } from './preload-metrics.js'

export interface StatusServerInit {
  host: string
  port: number
  preloader: Preloader
  /** Rendered at /metrics (default: preload-metrics.ts's registry of this preloader). */
  registry?: Registry
  log: Logger
  /** True while the node Kubo answers; checked by /healthz. */
  kuboReachable: () => Promise<boolean>
}

export async function startStatusServer (init: StatusServerInit): Promise<Listening> {
  const registry = init.registry ?? preloadRegistry(init.preloader)
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (req.method !== 'GET' && req.method !== 'HEAD') { send(res, 405, 'text/plain', 'method not allowed\n'); return }
    switch (url.pathname) {
      case '/status':
        send(res, 200, 'application/json', JSON.stringify(init.preloader.status(), null, 1) + '\n')
        return
      case '/metrics':
        registry.metrics().then((text) => send(res, 200, registry.contentType, text), (err: Error) => send(res, 503, 'text/plain', `metrics unavailable: ${err.message}\n`))
        return
      case '/healthz':
        init.kuboReachable().then((ok) => {
          send(res, ok ? 200 : 503, 'text/plain', ok ? 'ok\n' : 'node Kubo is not answering\n')
        }, () => { send(res, 503, 'text/plain', 'health check failed\n') })
        return
      default:
        send(res, 404, 'text/plain', 'not found: try /status, /metrics or /healthz\n')
    }
  })
  server.on('clientError', (_err, socket) => { socket.destroy() })
  const listening = await listenOn(server, { host: init.host, port: init.port })
  init.log.info('status endpoint listening', { url: listening.url })
  return listening
}

function send (res: http.ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' })
  res.end(body)
}
