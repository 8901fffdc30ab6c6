// The storage tier as the controller sees it through the IPFS Cluster REST API: peers that
// answer or report an error, and our pins (named ipfs-csi/...) pinned on fewer peers than their
// replication_factor_min. Polled in the background at most once per interval (a /pins status of
// a large cluster is not something to ask for at every scrape); the gauges say when it was last
// read, so a Cluster that stops answering is visible too.
import { client, type Registry } from '../driver/metrics.js'
import type { Logger } from '../driver/logger.js'
import { deadline } from '../driver/deadline.js'
import type { ClusterClient } from '../driver/cluster-client.js'
import { pinnedPeers } from './cluster-pinner.js'

const POLL_MS = 30_000

export interface ClusterHealth {
  peers: { ok: number, error: number }
  pins: { ok: number, underReplicated: number }
  /** Unix seconds of the last successful poll. */
  readAt: number
}

/** Counts peers and our pins' replication from one poll of the Cluster. */
export async function readClusterHealth (cluster: ClusterClient, signal?: AbortSignal): Promise<ClusterHealth> {
  const [peers, pins, status] = await Promise.all([cluster.peers(signal), cluster.pins(signal), cluster.statusAll(signal)])
  const pinnedOn = new Map(status.map(s => [s.cid, pinnedPeers(s).length]))
  const peerCount = peers.length
  let ok = 0
  let under = 0
  for (const p of pins) {
    if (!(p.name ?? '').startsWith('ipfs-csi/')) continue
    // -1 (or 0) is "every peer", as the Cluster allocates it.
    const min = (p.replication_factor_min ?? -1) > 0 ? p.replication_factor_min as number : peerCount
    if ((pinnedOn.get(p.cid) ?? 0) < min) under++
    else ok++
  }
  const bad = peers.filter(p => p.error !== undefined && p.error !== '').length
  return { peers: { ok: peerCount - bad, error: bad }, pins: { ok, underReplicated: under }, readAt: Date.now() / 1000 }
}

export function registerClusterMetrics (registry: Registry, cluster: ClusterClient, log: Logger): { stop: () => void } {
  let health: ClusterHealth | undefined
  let failures = 0
  const ac = new AbortController()
  const poll = (): void => {
    const limit = deadline(20_000, ac.signal)
    readClusterHealth(cluster, limit.signal).then((h) => { health = h }, (err: Error) => {
      failures++
      log.warn('cannot read the Cluster\'s peers and pin status for metrics', { error: err.message })
    }).finally(limit.clear)
  }
  poll()
  const timer = setInterval(poll, POLL_MS)
  timer.unref()
  const registers = [registry]
  // eslint-disable-next-line no-new
  new client.Gauge({ name: 'ipfs_csi_cluster_peers', help: 'IPFS Cluster peers at the last poll: ok, or reporting an error (down, unreachable).', labelNames: ['state'], registers, collect () { if (health !== undefined) { this.set({ state: 'ok' }, health.peers.ok); this.set({ state: 'error' }, health.peers.error) } } })
  // eslint-disable-next-line no-new
  new client.Gauge({ name: 'ipfs_csi_cluster_pins', help: 'The driver\'s Cluster pins (volumes, snapshots) at the last poll: ok, or pinned on fewer peers than their replication_factor_min.', labelNames: ['state'], registers, collect () { if (health !== undefined) { this.set({ state: 'ok' }, health.pins.ok); this.set({ state: 'under_replicated' }, health.pins.underReplicated) } } })
  // eslint-disable-next-line no-new
  new client.Gauge({ name: 'ipfs_csi_cluster_last_poll_timestamp_seconds', help: 'When the Cluster last answered the controller\'s status poll (Unix time).', registers, collect () { if (health !== undefined) this.set(health.readAt) } })
  // eslint-disable-next-line no-new
  new client.Counter({ name: 'ipfs_csi_cluster_poll_failures_total', help: 'Status polls of the Cluster that failed.', registers, collect () { this.reset(); this.inc(failures) } })
  return { stop: () => { clearInterval(timer); ac.abort() } }
}
