// The preloader's metrics, read from its status at each scrape. Per-entry series carry node,
// entry and cid labels: entries come from the operator's desired-state file, a bounded list.
import { client, createRegistry, type Registry } from '../driver/metrics.js'
import type { Preloader } from './preloader.js'

const STATES = ['pending', 'fetching', 'ready', 'failed'] as const

export function preloadRegistry (p: Preloader): Registry {
  const registry = createRegistry('preloader')
  const registers = [registry]
  const entryLabels = ['node', 'entry', 'cid'] as const
  const perEntry = (name: string, help: string, value: (e: ReturnType<Preloader['status']>['entries'][number]) => number | undefined): void => {
    // eslint-disable-next-line no-new
    new client.Gauge({
      name,
      help,
      labelNames: entryLabels,
      registers,
      collect () {
        const st = p.status()
        this.reset()
        for (const e of st.entries) {
          const v = value(e)
          if (v !== undefined) this.set({ node: st.node, entry: e.name, cid: e.cid }, v)
        }
      }
    })
  }
  // eslint-disable-next-line no-new
  new client.Gauge({
    name: 'ipfs_csi_preload_entry_state',
    help: 'Entry state (1 for the current state).',
    labelNames: [...entryLabels, 'state'],
    registers,
    collect () {
      const st = p.status()
      this.reset()
      for (const e of st.entries) for (const s of STATES) this.set({ node: st.node, entry: e.name, cid: e.cid, state: s }, e.state === s ? 1 : 0)
    }
  })
  perEntry('ipfs_csi_preload_bytes_fetched', 'Bytes of the entry DAG present on the node.', e => e.bytesFetched)
  perEntry('ipfs_csi_preload_bytes_total', 'Bytes of the entry DAG (exact once ready).', e => e.bytesTotal)
  perEntry('ipfs_csi_preload_blocks_fetched', 'Blocks of the entry DAG present on the node.', e => e.blocksFetched)
  perEntry('ipfs_csi_preload_blocks_total', 'Blocks of the entry DAG (exact once ready).', e => e.blocksTotal)
  perEntry('ipfs_csi_preload_entry_last_block_timestamp_seconds', 'When the entry last got a block (Unix time); absent before its first.', e => e.lastBlockAt !== null ? e.lastBlockAt / 1000 : undefined)
  const c = p.counters
  const nodeCounter = (name: string, help: string, value: () => number): void => {
    // eslint-disable-next-line no-new
    new client.Counter({ name, help, labelNames: ['node'], registers, collect () { this.reset(); this.inc({ node: p.status().node }, value()) } })
  }
  const nodeGauge = (name: string, help: string, value: () => number): void => {
    // eslint-disable-next-line no-new
    new client.Gauge({ name, help, labelNames: ['node'], registers, collect () { this.reset(); this.set({ node: p.status().node }, value()) } })
  }
  nodeCounter('ipfs_csi_preload_blocks_downloaded_total', 'Blocks fetched over the network by this process.', () => c.blocksDownloaded)
  nodeCounter('ipfs_csi_preload_bytes_downloaded_total', 'Bytes fetched over the network by this process.', () => c.bytesDownloaded)
  nodeCounter('ipfs_csi_preload_blocks_local_total', 'Blocks found already local (not refetched).', () => c.blocksLocal)
  nodeCounter('ipfs_csi_preload_retries_total', 'Block fetch retries.', () => c.retries)
  nodeCounter('ipfs_csi_preload_failures_total', 'Entries that failed.', () => c.failures)
  nodeCounter('ipfs_csi_preload_unpinned_total', 'Preload pins removed.', () => c.unpinned)
  nodeGauge('ipfs_csi_preload_invalid_entries', 'Desired entries left out as invalid.', () => p.status().problems.length)
  nodeGauge('ipfs_csi_preload_desired_file_error', '1 when the desired-state file cannot be read or parsed.', () => p.status().desiredError === null ? 0 : 1)
  nodeGauge('ipfs_csi_preload_queue_size', 'Block tasks waiting in the fetch queue.', () => p.queue.size)
  return registry
}
