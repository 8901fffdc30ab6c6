// The shapes of the paths kubelet hands a CSI node plugin, so NodeUnpublish/NodeUnstage act only
// on paths kubelet itself makes (or that this driver recorded): a request naming any other path
// under the kubelet dir (another pod's volume, kubelet's own files) is refused. The shapes are
// kubelet's (pkg/volume/csi, v1.37):
//   publish: <kubelet>/pods/<pod uid>/volumes/kubernetes.io~csi/<volume name>/mount
//   stage:   <kubelet>/plugins/kubernetes.io/csi/<driver>/<sha256 hex of the volume handle>/globalmount
//            <kubelet>/plugins/kubernetes.io/csi/pv/<pv name>/globalmount (before kubelet 1.22,
//            still found on nodes staged by an older kubelet)
import { createHash } from 'node:crypto'
import { lstat } from 'node:fs/promises'
import path from 'node:path'
import { invalid } from '../driver/errors.js'

export type KubeletPath =
  | { kind: 'publish', podUid: string, volumeName: string }
  | { kind: 'stage', driver: string, volumeHash: string }
  | { kind: 'stage-legacy', pvName: string }

/** One path segment kubelet could have written: no separator, not `.`/`..`, printable, bounded. */
const SEGMENT = /^(?!\.{1,2}$)[A-Za-z0-9._~:@+-]{1,253}$/
const HEX64 = /^[0-9a-f]{64}$/

/**
 * Parses `p` (absolute, normalized) as one of kubelet's CSI paths under `kubeletDir`;
 * undefined when it is none of them.
 */
export function parseKubeletPath (kubeletDir: string, p: string): KubeletPath | undefined {
  const rel = path.relative(path.normalize(kubeletDir), path.normalize(p))
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || path.normalize(p) !== p.replace(/(.)\/+$/, '$1')) return undefined
  const s = rel.split('/')
  if (!s.every(x => SEGMENT.test(x))) return undefined
  if (s.length === 6 && s[0] === 'pods' && s[2] === 'volumes' && s[3] === 'kubernetes.io~csi' && s[5] === 'mount') {
    return { kind: 'publish', podUid: s[1] as string, volumeName: s[4] as string }
  }
  if (s.length === 6 && s[0] === 'plugins' && s[1] === 'kubernetes.io' && s[2] === 'csi' && s[5] === 'globalmount') {
    if (s[3] === 'pv') return { kind: 'stage-legacy', pvName: s[4] as string }
    if (HEX64.test(s[4] as string)) return { kind: 'stage', driver: s[3] as string, volumeHash: s[4] as string }
  }
  return undefined
}

/** kubelet names a staging dir by the SHA-256 of the volume handle. */
export const volumeHandleHash = (volumeId: string): string => createHash('sha256').update(volumeId).digest('hex')

/** A pod target path of kubelet's shape. */
export const isKubeletTarget = (kubeletDir: string, p: string): boolean => parseKubeletPath(kubeletDir, p)?.kind === 'publish'

/**
 * A staging path kubelet would use for this driver and volume: the hashed form must name this
 * driver and this volume's handle; the legacy form (named by the PV) cannot be tied to either.
 */
export function isKubeletStagingPath (kubeletDir: string, p: string, driver: string, volumeId: string): boolean {
  const k = parseKubeletPath(kubeletDir, p)
  if (k?.kind === 'stage') return k.driver === driver && k.volumeHash === volumeHandleHash(volumeId)
  return k?.kind === 'stage-legacy'
}

/**
 * Whether NodeUnpublish/NodeUnstage may act on `p`: a path this driver recorded, or one of
 * kubelet's shapes (`kubeletShape`). Any other path is answered OK when nothing is there (a
 * repeated call), and refused otherwise: the call names something that was never ours.
 */
export async function mayTearDown (p: string, what: string, recorded: boolean, kubeletShape: boolean): Promise<boolean> {
  if (recorded || kubeletShape) return true
  try {
    await lstat(p)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
  throw invalid(`${what} ${JSON.stringify(p)} is neither a path kubelet gives a CSI driver nor one this driver mounted; it is left alone`)
}
