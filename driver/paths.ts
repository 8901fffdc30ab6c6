// Staging and target paths must lie under the kubelet directory and must not be reached
// through a symlink: a request cannot make us mount over /etc or follow a planted link.
import { lstat, realpath } from 'node:fs/promises'
import path from 'node:path'
import { invalid } from './errors.js'

/**
 * Validates `p` (as given by the CO) lies under `root`. Existing components must not be
 * symlinks (the root's own ancestors may be). Returns the normalized absolute path.
 */
export async function checkPathUnder (root: string, p: string | undefined, what: string): Promise<string> {
  if (p === undefined || p === '') throw invalid(`${what} is required`)
  if (!path.isAbsolute(p)) throw invalid(`${what} ${JSON.stringify(p)} must be absolute`)
  if (p.includes('\0') || p.includes(',') || p.length > 4096) throw invalid(`${what} ${JSON.stringify(p)} contains characters that are not allowed`)
  const norm = path.normalize(p)
  if (norm !== p.replace(/\/+$/, '') && norm !== p) throw invalid(`${what} ${JSON.stringify(p)} is not a normalized path`)
  const rootReal = await realpath(root).catch(() => path.resolve(root))
  const rel = path.relative(root, norm)
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw invalid(`${what} ${JSON.stringify(p)} is outside the kubelet directory ${root}`)
  // Walk each existing component below the root and refuse symlinks.
  let cur = rootReal
  for (const seg of rel.split(path.sep)) {
    cur = path.join(cur, seg)
    let st
    try { st = await lstat(cur) } catch { break }
    if (st.isSymbolicLink()) throw invalid(`${what} ${JSON.stringify(p)} goes through a symlink (${cur})`)
  }
  return path.join(rootReal, rel)
}
