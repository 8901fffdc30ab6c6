// A FUSE server's metrics, built from the plain counters of its hot path (op-stats.ts, the
// block fetcher's stats) only when scraped. prom-client is loaded on the first scrape, not at
// start-up: FUSE server start-up is NodeStageVolume's latency.
//
// Where they go: `ipfs-csi mount --metrics-listen` serves them over TCP; a FUSE server started
// by the node service serves them on the unix socket <volume dir>/metrics.sock, which the node
// service reads at each of its own scrapes and re-exports with a `volume` label (see
// node-plugin/fuse-metrics-collector.ts). /metrics.json is prom-client's JSON form for that.
import type { Logger } from '../../driver/logger.js'
import type { Registry } from '../../driver/metrics.js'
import { startMetricsServer, type ListenAddress, type MetricsServer } from '../../driver/metrics-server.js'
import { EIO_CAUSES, type FuseOpStats, type LatencyHistogram } from './op-stats.js'

/** What a content filesystem reports at scrape time (see content-fs.ts). */
export interface ContentReadStats {
  openHandles: number
  /** Sum of the open files' current read-ahead windows. */
  readAheadWindowBytes: number
  readAheadBytes: number
  /** Blocks served from the in-memory block cache, or brought in from disk, Kubo-after-bitswap, or the API. */
  blocks: { cache: number, disk: number, bitswap: number, api: number }
  cacheMisses: number
  verificationFailures: { disk: number, api: number }
  cacheBytes: number
  cacheMaxBytes: number
}

export interface FuseMetricsSource {
  mode: 'content' | 'writable'
  ops: FuseOpStats
  content?: () => ContentReadStats
}

/** The FUSE metric family names: the node service re-exports exactly these. */
export const FUSE_METRIC_PREFIX = 'ipfs_csi_fuse_'

const startTime = Date.now() / 1000

export async function fuseRegistry (src: FuseMetricsSource): Promise<Registry> {
  const { client } = await import('../../driver/metrics.js')
  const registry = new client.Registry()
  const registers = [registry]
  const counter = (name: string, help: string, value: () => number): void => {
    // eslint-disable-next-line no-new
    new client.Counter({ name, help, registers, collect () { this.reset(); this.inc(value()) } })
  }
  const gauge = (name: string, help: string, value: () => number): void => {
    // eslint-disable-next-line no-new
    new client.Gauge({ name, help, registers, collect () { this.set(value()) } })
  }
  const labelled = <L extends string>(kind: 'counter' | 'gauge', name: string, help: string, label: L, values: () => Record<string, number>): void => {
    if (kind === 'counter') {
      // eslint-disable-next-line no-new
      new client.Counter({ name, help, labelNames: [label], registers, collect () { this.reset(); for (const [k, v] of Object.entries(values())) this.inc({ [label]: k } as Record<L, string>, v) } })
    } else {
      // eslint-disable-next-line no-new
      new client.Gauge({ name, help, labelNames: [label], registers, collect () { for (const [k, v] of Object.entries(values())) this.set({ [label]: k } as Record<L, string>, v) } })
    }
  }
  const ops = src.ops
  counter('ipfs_csi_fuse_reads_total', 'FUSE read requests answered with data (or EOF).', () => ops.reads)
  counter('ipfs_csi_fuse_read_bytes_total', 'Bytes served to FUSE reads.', () => ops.readBytes)
  registry.registerMetric(histogramOf('ipfs_csi_fuse_read_duration_seconds', 'Time from a FUSE read request to its answer (cached reads are microseconds).', ops.readLatency) as never)
  if (src.mode === 'writable') {
    counter('ipfs_csi_fuse_writes_total', 'FUSE write requests accepted.', () => ops.writes)
    counter('ipfs_csi_fuse_write_bytes_total', 'Bytes accepted from FUSE writes.', () => ops.writeBytes)
  }
  labelled('counter', 'ipfs_csi_fuse_eio_total', 'FUSE operations answered EIO, by cause: timeout (the op backstop), deadline (Kubo did not answer in time), unavailable (Kubo unreachable or refusing), verification (a block did not match its CID), internal.', 'cause', () => Object.fromEntries(EIO_CAUSES.map(c => [c, ops.eio[c]])))
  counter('ipfs_csi_fuse_refused_ops_total', 'FUSE operations refused with an errno other than EIO (ENOENT, EROFS...).', () => ops.otherErrors)
  const content = src.content
  if (content !== undefined) {
    labelled('counter', 'ipfs_csi_fuse_blocks_total', 'Blocks by source: cache (read from the in-memory block cache), disk (the node Kubo\'s blocks directory), bitswap (Kubo fetched it from the network first), api (through the Kubo HTTP API).', 'source', () => content().blocks)
    labelled('counter', 'ipfs_csi_fuse_block_cache_requests_total', 'Block asks by reads and read-ahead: hit (in the block cache) or miss (fetched, or joined a fetch).', 'result', () => { const c = content(); return { hit: c.blocks.cache, miss: c.cacheMisses } })
    labelled('counter', 'ipfs_csi_fuse_verification_failures_total', 'Blocks whose bytes did not hash to their CID (never served), by where they came from.', 'source', () => content().verificationFailures)
    gauge('ipfs_csi_fuse_open_handles', 'Files open on the mount.', () => content().openHandles)
    gauge('ipfs_csi_fuse_read_ahead_window_bytes', 'Current read-ahead windows of the open files, summed.', () => content().readAheadWindowBytes)
    counter('ipfs_csi_fuse_read_ahead_bytes_total', 'Bytes read-ahead asked for.', () => content().readAheadBytes)
    gauge('ipfs_csi_fuse_block_cache_bytes', 'Bytes held in the block cache.', () => content().cacheBytes)
    gauge('ipfs_csi_fuse_block_cache_max_bytes', 'Bound of the block cache.', () => content().cacheMaxBytes)
  }
  gauge('ipfs_csi_fuse_resident_memory_bytes', 'Resident memory of the FUSE server process.', () => process.memoryUsage.rss())
  counter('ipfs_csi_fuse_cpu_seconds_total', 'CPU time (user + system) of the FUSE server process.', () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 })
  gauge('ipfs_csi_fuse_start_time_seconds', 'When the FUSE server process started (Unix time): a change means it was restarted.', () => startTime)
  registry.setDefaultLabels({ mode: src.mode })
  return registry
}

/**
 * A histogram whose buckets were counted elsewhere (LatencyHistogram), in the JSON shape
 * prom-client's registry and aggregator read from its own metrics (`get()`).
 */
function histogramOf (name: string, help: string, h: LatencyHistogram): { name: string, help: string, type: 'histogram', aggregator: 'sum', get: () => Promise<unknown>, reset: () => void } {
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset: () => {},
    get: async () => {
      const values: Array<{ labels: Record<string, string | number>, value: number, metricName: string }> = []
      let acc = 0
      h.bounds.forEach((le, i) => {
        acc += h.counts[i] as number
        values.push({ labels: { le }, value: acc, metricName: `${name}_bucket` })
      })
      values.push({ labels: { le: '+Inf' }, value: h.count, metricName: `${name}_bucket` })
      values.push({ labels: {}, value: h.sum, metricName: `${name}_sum` })
      values.push({ labels: {}, value: h.count, metricName: `${name}_count` })
      return { name, help, type: 'histogram', values, aggregator: 'sum' }
    }
  }
}

/**
 * Serves the metrics at `listen` (TCP for `ipfs-csi mount`, a unix socket for node-service
 * FUSE servers). The registry is built on the first request.
 */
export async function serveFuseMetrics (src: FuseMetricsSource, listen: ListenAddress | { path: string }, log: Logger, extra: Record<string, unknown> = {}): Promise<MetricsServer> {
  let registry: Promise<Registry> | undefined
  const reg = async (): Promise<Registry> => await (registry ??= fuseRegistry(src))
  return await startMetricsServer({
    listen,
    log,
    metrics: async () => { const r = await reg(); return { contentType: r.contentType, body: await r.metrics() } },
    routes: {
      '/metrics.json': async () => ({ contentType: 'application/json', body: JSON.stringify({ ...extra, pid: process.pid, metrics: await (await reg()).getMetricsAsJSON() }) })
    }
  })
}
