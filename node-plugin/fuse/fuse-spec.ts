import { FUSE_HEAP_MIB } from '../../driver/constants.js'

// What the node service hands a FUSE server process (`ipfs-csi fuse-server --spec FILE`).
// The FUSE server is a separate, detached process so it outlives the gRPC server: restarting
// the node service never takes a pod's mount down.
export interface FuseSpec {
  version: 1
  volumeId: string
  /** Where the FUSE filesystem is mounted (the staging path, or a user dir for `ipfs-csi mount`). */
  mountpoint: string
  kuboApi: string
  kuboApiTokenFile?: string
  mode: 'content' | 'writable'
  /** content mode: the root CID served (cid + path resolved at stage time, fixed afterwards). */
  rootCid?: string
  /** writable mode: the MFS directory holding the volume's data. */
  mfsPath?: string
  /** writable mode: statfs reports it and writes past it fail with ENOSPC. */
  capacityBytes?: number
  /** Refuse every write with EROFS. Content mode is always read-only. */
  readOnly: boolean
  /** A read that cannot be served fails with EIO after this long. */
  readTimeoutMs: number
  /** Deadline for metadata calls to Kubo (MFS operations, resolve). */
  kuboTimeoutMs: number
  blockCacheBytes: number
  /**
   * content mode: the node Kubo's flatfs directory (`$IPFS_PATH/blocks`), read-only. Blocks found
   * there are read from disk (and verified) instead of through the API. Unset: API only.
   */
  kuboBlocksDir?: string
  readAheadBlocks: number
  logLevel: string
  /** The server's log file is kept under this (its previous content in `<log>.1`). Default 8 MiB. */
  logMaxBytes?: number
  /** writable mode: the node's spill root (writable/spill-budget.ts). Unset: `$TMPDIR/ipfs-csi-spill`. */
  spillDir?: string
  /** writable mode: bytes all spill files of the node may take together. Unset: DEFAULTS.spillMaxBytes. */
  spillMaxBytes?: number
  /** writable mode: bytes this volume's spill files may take (at most spillMaxBytes). */
  spillVolumeMaxBytes?: number
  /** V8 heap limit (--max-old-space-size), applied by whoever spawns the server. Unset: Node's default. */
  maxHeapMiB?: number
}

export const isHeapMiB = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= FUSE_HEAP_MIB.min && (n as number) <= FUSE_HEAP_MIB.max
