// Prometheus metrics (prom-client). Each process has its own Registry, made here and passed
// down (no global default registry): tests run several services in one process, and the
// node service merges its FUSE servers' metrics into its own scrape.
// Names: ipfs_csi_<part>_<what>[_unit][_total]; label values are always bounded sets (method,
// code, source, cause, state) except `volume`, which only the node service's FUSE-server
// aggregation adds, capped per node (see node-plugin/fuse-metrics-collector.ts).
import client from 'prom-client'
import { Code } from './errors.js'
import type { Rendered } from './metrics-server.js'
import { DRIVER_VERSION } from './constants.js'

export { client }
export type Registry = client.Registry

/** Seconds: RPCs range from a cached NodeGetCapabilities (<1 ms) to a stage that fetches a root (seconds). */
export const RPC_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** A registry with the process metrics (CPU, RSS, heap, event loop lag, GC) and build info. */
export function createRegistry (component: string, defaults = true): Registry {
  const registry = new client.Registry()
  if (defaults) client.collectDefaultMetrics({ register: registry })
  const info = new client.Gauge({ name: 'ipfs_csi_build_info', help: 'Always 1: the running ipfs-csi version and which command this process runs.', labelNames: ['version', 'component'], registers: [registry] })
  info.set({ version: DRIVER_VERSION, component }, 1)
  return registry
}

export async function renderRegistry (registry: Registry): Promise<Rendered> {
  return { contentType: registry.contentType, body: await registry.metrics() }
}

const CODE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Code).map(([name, n]) => [n, name]))

/** gRPC status code → its name (`NOT_FOUND`), the label value and log field used everywhere. */
export const codeName = (code: number): string => CODE_NAMES[code] ?? String(code)

/** Count and latency of every gRPC call, by method and status code (see driver/rpc-wrapper.ts). */
export class RpcMetrics {
  private readonly requests: client.Counter<'method' | 'code'>
  private readonly duration: client.Histogram<'method' | 'code'>
  private readonly inflight: client.Gauge<'method'>

  constructor (registry: Registry) {
    this.requests = new client.Counter({ name: 'ipfs_csi_grpc_requests_total', help: 'CSI gRPC calls completed, by method and gRPC status code.', labelNames: ['method', 'code'], registers: [registry] })
    this.duration = new client.Histogram({ name: 'ipfs_csi_grpc_request_duration_seconds', help: 'Time from a CSI gRPC call\'s arrival to its reply, by method and code.', labelNames: ['method', 'code'], buckets: RPC_BUCKETS, registers: [registry] })
    this.inflight = new client.Gauge({ name: 'ipfs_csi_grpc_requests_in_flight', help: 'CSI gRPC calls being handled now, by method.', labelNames: ['method'], registers: [registry] })
  }

  started (method: string): void { this.inflight.inc({ method }) }

  done (method: string, code: number, seconds: number): void {
    const labels = { method, code: codeName(code) }
    this.inflight.dec({ method })
    this.requests.inc(labels)
    this.duration.observe(labels, seconds)
  }
}

/** `ipfs_csi_kubo_up`: 1 when the process' Kubo answers `id` within 2 s, asked at each scrape. */
export function registerKuboUp (registry: Registry, kubo: { reachable: (signal?: AbortSignal, timeoutMs?: number) => Promise<boolean> }): void {
  // eslint-disable-next-line no-new
  new client.Gauge({
    name: 'ipfs_csi_kubo_up',
    help: '1 when this process\'s Kubo (--kubo-api) answered at the scrape, else 0.',
    registers: [registry],
    async collect () { this.set(await kubo.reachable(undefined, 2000) ? 1 : 0) }
  })
}

/**
 * Requests of an HTTP server (the API, the gateway's helpers), by route template and status
 * code: `server` names it in the ipfs_csi_http_* series the IpfsCsiApiErrors and
 * IpfsCsiApiRateLimited alerts read. Route must be a template (`/pins/:id`), never a raw path.
 */
export class HttpMetrics {
  private readonly requests: client.Counter<'server' | 'route' | 'method' | 'code'>
  private readonly duration: client.Histogram<'server' | 'route' | 'method'>

  constructor (registry: Registry, private readonly server: string) {
    this.requests = new client.Counter({ name: 'ipfs_csi_http_requests_total', help: 'HTTP requests answered, by server, route template, method and status code.', labelNames: ['server', 'route', 'method', 'code'], registers: [registry] })
    this.duration = new client.Histogram({ name: 'ipfs_csi_http_request_duration_seconds', help: 'Time to answer an HTTP request, by server, route template and method.', labelNames: ['server', 'route', 'method'], buckets: RPC_BUCKETS, registers: [registry] })
  }

  observe (route: string, method: string, code: number, seconds: number): void {
    this.requests.inc({ server: this.server, route, method, code: String(code) })
    this.duration.observe({ server: this.server, route, method }, seconds)
  }
}
