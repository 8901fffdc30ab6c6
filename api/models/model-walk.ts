// The manifest of a model: every regular file under its root CID with its size, CID and SHA-256,
// found with the same verified UnixFS reader the node's FUSE servers and the preloader use
// (content/), bounded in files and depth so a hostile DAG cannot make the walk endless.
import type { CID } from 'multiformats/cid'
import { CsiError, Code } from '../../driver/errors.js'
import { entryCid, type ContentTree } from '../../content/content-tree.js'
import { sha256Of } from '../../content/file-hash.js'

export interface ManifestFile { path: string, size: number, cid: CID, sha256: string }
export interface Manifest { totalSize: number, files: ManifestFile[] }

export interface WalkLimits { maxFiles: number, maxDepth: number }
export const DEFAULT_WALK_LIMITS: WalkLimits = { maxFiles: 4096, maxDepth: 32 }

/** Walks `root` (a directory, or a single file whose path is ""), in name order. */
export async function walkManifest (tree: ContentTree, root: CID, signal: AbortSignal, limits: WalkLimits = DEFAULT_WALK_LIMITS): Promise<Manifest> {
  const files: ManifestFile[] = []
  let totalSize = 0
  const visit = async (cid: CID, path: string, depth: number): Promise<void> => {
    if (signal.aborted) throw new CsiError(Code.DEADLINE_EXCEEDED, 'indexing the model took too long')
    if (depth > limits.maxDepth) throw new CsiError(Code.INVALID_ARGUMENT, `the model is nested deeper than ${limits.maxDepth} directories`)
    const node = await tree.node(cid, signal)
    if (node.kind === 'file') {
      if (files.length >= limits.maxFiles) throw new CsiError(Code.INVALID_ARGUMENT, `the model has more than ${limits.maxFiles} files`)
      files.push({ path, size: node.size, cid, sha256: await sha256Of(tree, node, signal) })
      totalSize += node.size
      return
    }
    if (node.kind === 'symlink') return // not content: a mount shows it, the manifest lists files
    const listing = await tree.list(node, cid, signal)
    for (const name of [...listing.names].sort()) {
      await visit(entryCid(listing, name) as CID, path === '' ? name : `${path}/${name}`, depth + 1)
    }
  }
  await visit(root, '', 0)
  return { totalSize, files }
}
