// Which volume capabilities each kind of volume supports. Content volumes are immutable and can
// be read anywhere; writable volumes live in one Kubo's MFS and take one writer node.
import type { VolumeKind } from '../driver/volume-id.js'
import { invalid } from '../driver/errors.js'

export const READER_MODES = ['SINGLE_NODE_READER_ONLY', 'MULTI_NODE_READER_ONLY'] as const
export const SINGLE_NODE_WRITER_MODES = ['SINGLE_NODE_WRITER', 'SINGLE_NODE_SINGLE_WRITER', 'SINGLE_NODE_MULTI_WRITER'] as const

export interface CapabilityLike {
  mount?: { fs_type?: string, mount_flags?: string[] } | null
  block?: unknown
  access_mode?: { mode?: string | number } | null
  access_type?: string
}

/** Access mode name (proto-loader gives strings; tolerate numbers from other clients). */
function modeName (cap: CapabilityLike): string {
  const m = cap.access_mode?.mode
  const names = ['UNKNOWN', 'SINGLE_NODE_WRITER', 'SINGLE_NODE_READER_ONLY', 'MULTI_NODE_READER_ONLY', 'MULTI_NODE_SINGLE_WRITER', 'MULTI_NODE_MULTI_WRITER', 'SINGLE_NODE_SINGLE_WRITER', 'SINGLE_NODE_MULTI_WRITER']
  return typeof m === 'number' ? (names[m] ?? 'UNKNOWN') : (m ?? 'UNKNOWN')
}

/** Why one capability is not supported for this kind of volume, or undefined when it is. */
export function unsupportedReason (cap: CapabilityLike, kind: VolumeKind): string | undefined {
  const isBlock = cap.access_type === 'block' || (cap.block != null && cap.mount == null)
  if (isBlock) return 'block access type is not supported (mount only)'
  if (cap.mount == null && cap.access_type !== 'mount') return 'access type must be mount'
  // fs_type is ignored: the filesystem is always FUSE, and provisioners may send a default like ext4.
  const mode = modeName(cap)
  if (mode === 'UNKNOWN') return 'access mode is missing'
  if ((READER_MODES as readonly string[]).includes(mode)) return undefined
  if (kind === 'content') return `access mode ${mode} is not supported by a read-only content volume (use ${READER_MODES.join(' or ')})`
  if ((SINGLE_NODE_WRITER_MODES as readonly string[]).includes(mode)) return undefined
  return `access mode ${mode} is not supported: a writable volume takes writers on one node only`
}

/** CreateVolume check: capabilities present and all supported, else INVALID_ARGUMENT. */
export function requireSupported (caps: CapabilityLike[] | null | undefined, kind: VolumeKind): void {
  if (caps == null || caps.length === 0) throw invalid('volume_capabilities are required')
  for (const cap of caps) {
    const why = unsupportedReason(cap, kind)
    if (why !== undefined) throw invalid(why)
  }
}

/** ValidateVolumeCapabilities check: the first reason a capability is not confirmed. */
export function firstUnsupported (caps: CapabilityLike[], kind: VolumeKind): string | undefined {
  for (const cap of caps) {
    const why = unsupportedReason(cap, kind)
    if (why !== undefined) return why
  }
  return undefined
}
