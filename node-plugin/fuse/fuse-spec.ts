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

/** The FUSE mount's source name in the mount table: how the node service knows a mount is this volume's. */
export const fuseFsName = (volumeId: string): string => `ipfs-csi:${volumeId}`.slice(0, 100).replace(/[,\s]/g, '_')

/** How a FUSE server reaches Kubo and reads: the same for every volume a node (or `ipfs-csi mount`) serves. */
export interface FuseSettings {
  kuboApi: string
  kuboApiTokenFile?: string
  /** Content volumes only: a writable volume's blocks are not on this node's disk. */
  kuboBlocksDir?: string
  readTimeoutMs: number
  kuboTimeoutMs: number
  blockCacheBytes: number
  readAheadBlocks: number
  logLevel: string
  maxHeapMiB?: number
  /** Writable volumes only: where spill files go and the node budget and volume share they get. */
  spill?: { dir?: string, maxBytes: number, volumeMaxBytes: number }
}

/** What one volume serves: a fixed root CID, or an MFS directory. */
export type FuseVolume =
  | { mode: 'content', volumeId: string, mountpoint: string, rootCid: string }
  | { mode: 'writable', volumeId: string, mountpoint: string, mfsPath: string, capacityBytes: number, readOnly: boolean }

/** The one builder of a FuseSpec (node stage and `ipfs-csi mount`). */
export function fuseSpecOf (settings: FuseSettings, volume: FuseVolume): FuseSpec {
  const { kuboBlocksDir, kuboApiTokenFile, maxHeapMiB, spill, ...common } = settings
  const base = {
    version: 1 as const,
    volumeId: volume.volumeId,
    mountpoint: volume.mountpoint,
    ...common,
    ...(kuboApiTokenFile !== undefined ? { kuboApiTokenFile } : {}),
    ...(maxHeapMiB !== undefined ? { maxHeapMiB } : {})
  }
  if (volume.mode === 'writable') {
    return {
      ...base,
      mode: 'writable',
      mfsPath: volume.mfsPath,
      capacityBytes: volume.capacityBytes,
      readOnly: volume.readOnly,
      ...(spill?.dir !== undefined ? { spillDir: spill.dir } : {}),
      ...(spill !== undefined ? { spillMaxBytes: spill.maxBytes, spillVolumeMaxBytes: spill.volumeMaxBytes } : {})
    }
  }
  // Content is immutable: always read-only.
  return { ...base, ...(kuboBlocksDir !== undefined ? { kuboBlocksDir } : {}), mode: 'content', rootCid: volume.rootCid, readOnly: true }
}
