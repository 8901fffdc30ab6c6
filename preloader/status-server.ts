// The preloader's HTTP endpoint: `/status` (JSON), `/metrics` (Prometheus text format 0.0.4)
// and `/healthz`. Read-only, no secrets in any answer.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from '../driver/logger.js'
import type { Preloader, EntryStatus } from './preloader.js'

export interface StatusServerInit {
  host: string
  port: number
  preloader: Preloader
  log: Logger
  /** True while the node Kubo answers; checked by /healthz. */
  kuboReachable: () => Promise<boolean>
}

const STATES = ['pending', 'fetching', 'ready', 'failed'] as const

export async function startStatusServer (init: StatusServerInit): Promise<{ server: http.Server, url: string, close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (req.method !== 'GET' && req.method !== 'HEAD') { send(res, 405, 'text/plain', 'method not allowed\n'); return }
    switch (url.pathname) {
      case '/status':
        send(res, 200, 'application/json', JSON.stringify(init.preloader.status(), null, 1) + '\n')
        return
      case '/metrics':
        send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', metricsText(init.preloader))
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port, init.host, () => { server.off('error', reject); resolve() })
  })
  const addr = server.address() as AddressInfo
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  const url = `http://${host}:${addr.port}`
  init.log.info('status endpoint listening', { url })
  return {
    server,
    url,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}

function send (res: http.ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' })
  res.end(body)
}

const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')

export function metricsText (p: Preloader): string {
  const st = p.status()
  const lines: string[] = []
  const gauge = (name: string, help: string, type: 'gauge' | 'counter', rows: Array<[string, number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, v] of rows) lines.push(`${name}${labels} ${v}`)
  }
  const lbl = (e: EntryStatus, extra = ''): string => `{node="${esc(st.node)}",entry="${esc(e.name)}",cid="${esc(e.cid)}"${extra}}`
  gauge('ipfs_csi_preload_entry_state', 'Entry state (1 for the current state).', 'gauge', st.entries.flatMap(e => STATES.map(s => [lbl(e, `,state="${s}"`), e.state === s ? 1 : 0] as [string, number])))
  gauge('ipfs_csi_preload_bytes_fetched', 'Bytes of the entry DAG present on the node.', 'gauge', st.entries.map(e => [lbl(e), e.bytesFetched]))
  gauge('ipfs_csi_preload_bytes_total', 'Bytes of the entry DAG (exact once ready).', 'gauge', st.entries.map(e => [lbl(e), e.bytesTotal]))
  gauge('ipfs_csi_preload_blocks_fetched', 'Blocks of the entry DAG present on the node.', 'gauge', st.entries.map(e => [lbl(e), e.blocksFetched]))
  gauge('ipfs_csi_preload_blocks_total', 'Blocks of the entry DAG (exact once ready).', 'gauge', st.entries.map(e => [lbl(e), e.blocksTotal]))
  const c = p.counters
  const node = `{node="${esc(st.node)}"}`
  gauge('ipfs_csi_preload_blocks_downloaded_total', 'Blocks fetched over the network by this process.', 'counter', [[node, c.blocksDownloaded]])
  gauge('ipfs_csi_preload_bytes_downloaded_total', 'Bytes fetched over the network by this process.', 'counter', [[node, c.bytesDownloaded]])
  gauge('ipfs_csi_preload_blocks_local_total', 'Blocks found already local (not refetched).', 'counter', [[node, c.blocksLocal]])
  gauge('ipfs_csi_preload_retries_total', 'Block fetch retries.', 'counter', [[node, c.retries]])
  gauge('ipfs_csi_preload_failures_total', 'Entries that failed.', 'counter', [[node, c.failures]])
  gauge('ipfs_csi_preload_unpinned_total', 'Preload pins removed.', 'counter', [[node, c.unpinned]])
  gauge('ipfs_csi_preload_invalid_entries', 'Desired entries left out as invalid.', 'gauge', [[node, st.problems.length]])
  gauge('ipfs_csi_preload_desired_file_error', '1 when the desired-state file cannot be read or parsed.', 'gauge', [[node, st.desiredError === null ? 0 : 1]])
  gauge('ipfs_csi_preload_queue_size', 'Block tasks waiting in the fetch queue.', 'gauge', [[node, p.queue.size]])
  return lines.join('\n') + '\n'
}
