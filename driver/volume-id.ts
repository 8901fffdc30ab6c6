// Volume and snapshot ids. The controller keeps no state, so an id says what it is:
//   c-<hash>          content volume made by CreateVolume (CID in its Kubo record and volume context)
//   w-<hash>          writable volume, data in MFS at /ipfs-csi/volumes/w-<hash>
//   s-<hash>-<cid>    snapshot: the CID it names is the snapshot's content
//   <cid>[/path], /ipfs/<cid>[/path]   static PV handle, content given by the handle itself
// <hash> is derived from the CO's request name, which makes CreateVolume idempotent.
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { MFS_VOLUMES_DIR, PIN_PREFIX } from './constants.js'

export type VolumeKind = 'content' | 'writable'

export function nameHash (name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 24)
}

export const contentVolumeId = (name: string): string => `c-${nameHash(name)}`
export const writableVolumeId = (name: string): string => `w-${nameHash(name)}`
export const snapshotId = (name: string, cid: CID): string => `s-${nameHash(name)}-${cid.toString()}`

const MADE_ID = /^([cw])-[0-9a-f]{24}$/
const SNAP_ID = /^s-[0-9a-f]{24}-([A-Za-z0-9]{10,200})$/

/** Kind of a controller-made volume id, or undefined when the id is not one of ours. */
export function madeVolumeKind (id: string): VolumeKind | undefined {
  const m = MADE_ID.exec(id)
  if (m == null) return undefined
  return m[1] === 'c' ? 'content' : 'writable'
}

export const isSnapshotId = (id: string): boolean => SNAP_ID.test(id ?? '')

export const mfsPathOf = (volumeId: string): string => `${MFS_VOLUMES_DIR}/${volumeId}`
export const volumePinName = (volumeId: string): string => `${PIN_PREFIX.volume}${volumeId}`
export const snapshotPinName = (snapId: string): string => `${PIN_PREFIX.snapshot}${snapId}`
