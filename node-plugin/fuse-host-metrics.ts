// The fuse-host's metrics: FUSE servers started, refused requests, and how its servers ended.
// An exit that is not `clean` is a FUSE server that died under a mount (the node service heals it).
import { client, createRegistry, type Registry } from '../driver/metrics.js'
import type { FuseHostCounts } from './fuse-host.js'

export function fuseHostRegistry (counts: FuseHostCounts): Registry {
  const registry = createRegistry('fuse-host')
  const registers = [registry]
  // eslint-disable-next-line no-new
  new client.Counter({
    name: 'ipfs_csi_fuse_host_spawn_requests_total',
    help: 'Requests to start a FUSE server: started, refused (bad request) or failed (could not spawn).',
    labelNames: ['result'],
    registers,
    collect () { this.reset(); this.inc({ result: 'started' }, counts.spawned); this.inc({ result: 'refused' }, counts.refused); this.inc({ result: 'failed' }, counts.failed) }
  })
  // eslint-disable-next-line no-new
  new client.Counter({
    name: 'ipfs_csi_fuse_host_server_exits_total',
    help: 'FUSE servers started here that ended: clean (exit 0, after an unmount), error (other exit code) or signal (killed).',
    labelNames: ['reason'],
    registers,
    collect () { this.reset(); for (const [reason, n] of Object.entries(counts.exits)) this.inc({ reason }, n) }
  })
  // eslint-disable-next-line no-new
  new client.Gauge({ name: 'ipfs_csi_fuse_host_servers_running', help: 'FUSE servers started here and still running.', registers, collect () { this.set(counts.running) } })
  return registry
}
