// Maps a FUSE path ('/a/b') to the MFS path inside the volume's directory. The kernel never
// sends '..', but we check every component anyway: a name must never escape spec.mfsPath.
import { Errno, FsError } from '../../../driver/errors.js'

export const NAME_MAX = 255

/** Validates the volume's MFS root: absolute, normalized, not '/' itself. */
export function checkMfsRoot (root: string): string {
  const r = root.replace(/\/+$/, '')
  if (!r.startsWith('/') || r === '' || r.includes('\0')) throw new Error(`mfsPath ${JSON.stringify(root)} must be an absolute MFS path`)
  for (const seg of r.slice(1).split('/')) {
    if (seg === '' || seg === '.' || seg === '..') throw new Error(`mfsPath ${JSON.stringify(root)} is not normalized`)
  }
  return r
}

/** Splits and checks a FUSE path; '/' gives []. Throws EINVAL/ENAMETOOLONG for bad names. */
export function segmentsOf (fusePath: string): string[] {
  if (typeof fusePath !== 'string' || !fusePath.startsWith('/')) throw new FsError(Errno.EINVAL, `path ${JSON.stringify(fusePath)} is not absolute`)
  if (fusePath.includes('\0')) throw new FsError(Errno.EINVAL, 'path contains NUL')
  const segs = fusePath.split('/').filter(s => s !== '')
  for (const s of segs) {
    if (s === '.' || s === '..') throw new FsError(Errno.EINVAL, `path ${JSON.stringify(fusePath)} has a '${s}' component`)
    if (Buffer.byteLength(s) > NAME_MAX) throw new FsError(Errno.ENAMETOOLONG, `name too long in ${JSON.stringify(fusePath)}`)
  }
  return segs
}

/** Normalized FUSE path ('/a/b', '/' for the root) after validation. */
export function normalize (fusePath: string): string {
  return '/' + segmentsOf(fusePath).join('/')
}

/** The MFS path of a FUSE path under `root` (already checked with checkMfsRoot). */
export function toMfs (root: string, fusePath: string): string {
  const segs = segmentsOf(fusePath)
  return segs.length === 0 ? root : `${root}/${segs.join('/')}`
}

/** True when `p` is `dir` or lies below it (both normalized FUSE paths). */
export function isWithin (p: string, dir: string): boolean {
  if (dir === '/') return true
  return p === dir || p.startsWith(dir + '/')
}

/** Rewrites `p` (within `from`) to the same place under `to`. */
export function rebase (p: string, from: string, to: string): string {
  if (p === from) return to
  return (to === '/' ? '' : to) + p.slice(from === '/' ? 0 : from.length)
}
