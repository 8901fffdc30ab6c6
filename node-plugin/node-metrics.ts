// The node service's own metrics (volumes, heals, the node cache) and its scrape, which carries
// the FUSE servers' metrics too (fuse-metrics-collector.ts). Everything is read at scrape time
// from state the service keeps anyway: nothing on the RPC or read paths.
import { client, type Registry } from '../driver/metrics.js'
import type { Rendered } from '../driver/metrics-server.js'
import { FuseMetricsCollector } from './fuse-metrics-collector.js'
import type { NodeService } from './node-service.js'

export class NodeMetrics {
  readonly fuse: FuseMetricsCollector

  constructor (registry: Registry, node: NodeService) {
    const registers = [registry]
    this.fuse = new FuseMetricsCollector({ store: node.volumes.store, log: node.log })
    // eslint-disable-next-line no-new
    new client.Gauge({
      name: 'ipfs_csi_node_volumes_staged',
      help: 'Volumes staged on this node (a FUSE server each), by kind.',
      labelNames: ['kind'],
      registers,
      async collect () {
        const { states } = await node.volumes.store.list()
        for (const kind of ['content', 'writable'] as const) this.set({ kind }, states.filter(s => s.kind === kind).length)
      }
    })
    // eslint-disable-next-line no-new
    new client.Gauge({
      name: 'ipfs_csi_node_volumes_published',
      help: 'Pod targets published (bind-mounted) on this node, by kind.',
      labelNames: ['kind'],
      registers,
      async collect () {
        const { states } = await node.volumes.store.list()
        for (const kind of ['content', 'writable'] as const) this.set({ kind }, states.filter(s => s.kind === kind).reduce((n, s) => n + Object.keys(s.targets).length, 0))
      }
    })
    const healer = node.healer
    // eslint-disable-next-line no-new
    new client.Counter({
      name: 'ipfs_csi_node_heals_total',
      help: 'Volumes whose FUSE server was found gone and remounted (healed), or whose heal failed.',
      labelNames: ['result'],
      registers,
      collect () { this.reset(); this.inc({ result: 'healed' }, healer.counts.healed); this.inc({ result: 'failed' }, healer.counts.failed) }
    })
    const fuse = this.fuse
    // eslint-disable-next-line no-new
    new client.Gauge({
      name: 'ipfs_csi_node_fuse_servers',
      help: 'FUSE servers of staged volumes at the last scrape: answering their metrics socket, or silent (hung, dead, or starting).',
      labelNames: ['state'],
      registers,
      collect () { this.set({ state: 'answering' }, fuse.servers.answering); this.set({ state: 'silent' }, fuse.servers.silent) }
    })
    // eslint-disable-next-line no-new
    new client.Gauge({
      name: 'ipfs_csi_node_cache_bytes',
      help: 'Size of the node Kubo\'s repo at the last check (only with --node-cache-max-bytes).',
      registers,
      collect () { const b = node.cache?.lastRepoBytes; if (b !== undefined) this.set(b) }
    })
    // eslint-disable-next-line no-new
    new client.Gauge({
      name: 'ipfs_csi_node_cache_max_bytes',
      help: 'The node cache bound (--node-cache-max-bytes).',
      registers,
      collect () { const m = node.cache?.maxBytes; if (m !== undefined) this.set(m) }
    })
    // eslint-disable-next-line no-new
    new client.Counter({
      name: 'ipfs_csi_node_cache_gc_runs_total',
      help: 'Garbage collections of the node Kubo\'s repo because it was over the node cache bound.',
      registers,
      collect () { this.reset(); this.inc(node.cache?.gcRuns ?? 0) }
    })
  }

  /** The node service's scrape: its registry followed by the FUSE servers' families. */
  async render (own: Registry): Promise<Rendered> {
    const [mine, fuse] = await Promise.all([own.metrics(), this.fuse.collect().then(async r => await r.metrics())])
    return { contentType: own.contentType, body: `${mine}\n${fuse}` }
  }
}
