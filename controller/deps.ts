// What the controller's domain code needs: Kubo, the configuration, a logger and the record store.
import type { Kubo } from '../driver/kubo.js'
import type { ServeConfig } from '../driver/config.js'
import type { Logger } from '../driver/logger.js'
import type { RecordStore } from '../driver/record-store.js'
import type { ClusterPinner } from './cluster-pinner.js'

export interface ControllerDeps {
  kubo: Kubo
  config: Pick<ServeConfig, 'defaultCapacityBytes'>
  log: Logger
  store: RecordStore
  /** Set with --cluster-api: content volumes and snapshots are replicated through IPFS Cluster. */
  cluster?: ClusterPinner
}
