// What a node request names: which content (or which writable MFS directory) a volume id and
// its volume context stand for. Pure validation, no I/O: bad input is refused before anything
// is mounted or created.
import { CTX, DEFAULTS } from '../driver/constants.js'
import { invalid } from '../driver/errors.js'
import { formatContentRef, looksLikeContentHandle, parseContentHandle, parseCid, parseIpnsName, parsePath, type ContentRef } from '../driver/content-ref.js'
import { madeVolumeKind, mfsPathOf } from '../driver/volume-id.js'
import { parseModelRef } from '../driver/model-records.js'

export type VolumeSource =
  | { kind: 'content', ref: ContentRef, ipns?: undefined, model?: undefined }
  /** An IPNS name not yet resolved (static PV attributes); resolved at stage time. */
  | { kind: 'content', ipns: string, path: string[], ref?: undefined, model?: undefined }
  /** A model of the API's index (`name[:tag|version]`), resolved at stage/publish time. */
  | { kind: 'content', model: { name: string, ref: string }, path: string[], ref?: undefined, ipns?: undefined }
  | { kind: 'writable', mfsPath: string, capacityBytes: number }

// Generous but safe: ids appear in state files, logs and FUSE fsnames, never in a shell.
const GENERIC_ID = /^[A-Za-z0-9][A-Za-z0-9._~:@+=/-]{0,1023}$/

export function checkVolumeId (id: string | undefined): string {
  if (id === undefined || id === '') throw invalid('volume_id is required')
  if (id.length > 1024) throw invalid('volume_id is longer than 1024 characters')
  if (id.includes('..') || id.includes(',') || id.includes('\0')) throw invalid(`volume_id ${JSON.stringify(id)} must not contain "..", "," or NUL`)
  if (looksLikeContentHandle(id)) return id // parseContentHandle checks it fully
  if (!GENERIC_ID.test(id)) throw invalid(`volume_id ${JSON.stringify(id)} has characters that are not allowed`)
  return id
}

export const isEphemeral = (ctx: Record<string, string> | undefined): boolean => ctx?.[CTX.ephemeral] === 'true'

function capacityOf (raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1 || n > DEFAULTS.maxCapacityBytes) throw invalid(`volume context ${CTX.capacity} must be a byte count up to ${DEFAULTS.maxCapacityBytes} (got ${JSON.stringify(raw)})`)
  return n
}

/**
 * Derives the volume's source from its id and volume context:
 *  - context `cid` (+`path`) from the controller, a StorageClass or PV attributes, or `ipns`;
 *  - kind `writable` (or a w- id): MFS data at mfsPathOf(id);
 *  - otherwise the id itself as a static handle `<cid>[/path]` or `/ipfs/<cid>[/path]`.
 */
export function volumeSourceOf (volumeId: string, ctx: Record<string, string> | undefined, defaultCapacityBytes: number): VolumeSource {
  const id = checkVolumeId(volumeId)
  const c = ctx ?? {}
  const kind = c[CTX.kind]
  if (kind !== undefined && kind !== '' && kind !== 'content' && kind !== 'writable') throw invalid(`volume context ${CTX.kind} must be content or writable (got ${JSON.stringify(kind)})`)
  if (kind === 'writable' || (kind !== 'content' && madeVolumeKind(id) === 'writable')) {
    if (isEphemeral(c)) throw invalid('inline ephemeral volumes are content only')
    if (madeVolumeKind(id) !== 'writable') throw invalid(`writable volume id ${JSON.stringify(id)} is not one made by the controller (w-<hash>)`)
    return { kind: 'writable', mfsPath: mfsPathOf(id), capacityBytes: capacityOf(c[CTX.capacity], defaultCapacityBytes) }
  }
  const cidStr = c[CTX.cid]
  const pathStr = c[CTX.path]
  if (cidStr !== undefined && cidStr !== '') {
    const raw = cidStr.startsWith('/ipfs/') ? cidStr.slice('/ipfs/'.length) : cidStr
    return { kind: 'content', ref: { cid: parseCid(raw, 'volume context cid'), path: parsePath(pathStr, 'volume context path') } }
  }
  const ipns = c[CTX.ipns]
  if (ipns !== undefined && ipns !== '') return { kind: 'content', ipns: parseIpnsName(ipns), path: parsePath(pathStr, 'volume context path') }
  const model = c[CTX.model]
  if (model !== undefined && model !== '') return { kind: 'content', model: parseModelRef(model), path: parsePath(pathStr, 'volume context path') }
  if (pathStr !== undefined && pathStr !== '') throw invalid('volume context path is given without a cid')
  if (looksLikeContentHandle(id) || id.startsWith('/')) return { kind: 'content', ref: parseContentHandle(id) }
  if (isEphemeral(c)) throw invalid(`inline ephemeral volume needs a ${CTX.cid} (or ${CTX.ipns} or ${CTX.model}) volume attribute`)
  throw invalid(`volume ${JSON.stringify(id)} is neither a content handle (<cid>[/path], /ipfs/<cid>[/path]) nor has a ${CTX.cid} in its volume context`)
}

/** A stable string naming the source, stored in state to detect a conflicting re-stage. */
export function describeSource (s: VolumeSource): string {
  if (s.kind === 'writable') return `mfs:${s.mfsPath}`
  if (s.ref !== undefined) return `/ipfs/${formatContentRef(s.ref)}`
  if (s.model !== undefined) return [`model:${s.model.name}:${s.model.ref}`, ...s.path].join('/')
  return [s.ipns, ...s.path].join('/')
}

export const READER_ONLY_MODES = new Set(['SINGLE_NODE_READER_ONLY', 'MULTI_NODE_READER_ONLY'])
const KNOWN_MODES = new Set(['SINGLE_NODE_WRITER', 'SINGLE_NODE_READER_ONLY', 'MULTI_NODE_READER_ONLY', 'MULTI_NODE_SINGLE_WRITER', 'MULTI_NODE_MULTI_WRITER', 'SINGLE_NODE_SINGLE_WRITER', 'SINGLE_NODE_MULTI_WRITER'])

export interface CapabilityLike {
  block?: unknown
  mount?: unknown
  access_mode?: { mode?: string | number } | null
  access_type?: string
}

/** Validates a volume capability: mount access only, a known access mode. Returns the mode. */
export function checkCapability (cap: CapabilityLike | null | undefined): string {
  if (cap == null) throw invalid('volume_capability is required')
  if (cap.access_type === 'block' || cap.block != null) throw invalid('block access is not supported: ipfs-csi volumes are filesystems (use a mount volume)')
  if (cap.mount == null && cap.access_type !== 'mount') throw invalid('volume_capability must be a mount volume')
  const mode = String(cap.access_mode?.mode ?? '')
  if (!KNOWN_MODES.has(mode)) throw invalid(`volume_capability access mode ${JSON.stringify(mode)} is not supported`)
  return mode
}
