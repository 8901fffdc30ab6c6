// Every default lives here, so a reader finds each tunable in one place.
export const DRIVER_NAME = 'ipfs.csi.dev'
export const DRIVER_VERSION = '0.1.0'

export const DEFAULTS = {
  endpoint: 'unix:///csi/csi.sock',
  kuboApi: 'http://127.0.0.1:5001',
  stateDir: '/var/lib/ipfs-csi',
  kubeletDir: '/var/lib/kubelet',
  logLevel: 'info',
  /** Deadline for a control-plane Kubo call (pin, resolve, stat). */
  kuboTimeoutMs: 30_000,
  /** A FUSE read that cannot be served fails with EIO after this long. */
  readTimeoutMs: 10_000,
  /** Capacity of a writable volume created without a capacity range. */
  defaultCapacityBytes: 1024 ** 3,
  /** Largest capacity a writable volume may ask for (the honest limit is the Kubo repo). */
  maxCapacityBytes: 1024 ** 4,
  /** In-memory verified block cache per FUSE server. */
  blockCacheBytes: 256 * 1024 ** 2,
  /**
   * V8 old-space limit of each FUSE server (--max-old-space-size): one volume's server running out
   * of heap dies alone (and is healed) instead of growing until the cgroup OOM-kills its neighbours.
   */
  fuseMaxHeapMiB: 512,
  /**
   * Writable volumes: what the spill files of all FUSE servers of a node may take together
   * (files open for writing are kept whole in them until saved), and where they go.
   */
  spillMaxBytes: 8 * 1024 ** 3,
  /** Leaf blocks fetched ahead of a sequential reader. */
  readAheadBlocks: 8,
  /** How often the node service checks mounts and remounts dead FUSE servers. */
  healIntervalMs: 10_000
} as const

/** Bounds of a FUSE server's heap limit: below 64 MiB a large directory listing cannot fit. */
export const FUSE_HEAP_MIB = { min: 64, max: 65_536 } as const

/** Kubo pin names carry the volume id so ListVolumes and DeleteVolume need no other state. */
export const PIN_PREFIX = {
  volume: 'ipfs-csi/volume/',
  snapshot: 'ipfs-csi/snapshot/'
} as const

/** MFS directory holding the data of writable volumes. */
export const MFS_VOLUMES_DIR = '/ipfs-csi/volumes'

/** Keys of the volume context the controller returns and the node reads. */
export const CTX = {
  kind: 'ipfs.csi.dev/kind', // 'content' | 'writable'
  cid: 'cid',
  path: 'path',
  ipns: 'ipns',
  /** `name[:tag|version]` of the API's model index (inline volumes, static PVs), resolved at stage. */
  model: 'model',
  capacity: 'ipfs.csi.dev/capacity',
  ephemeral: 'csi.storage.k8s.io/ephemeral',
  /** Set by kubelet on NodePublish (CSIDriver podInfoOnMount); the inline volume policy reads it. */
  podNamespace: 'csi.storage.k8s.io/pod.namespace'
} as const
