// The one walk from a root CID down a path inside its DAG, through verified blocks. The mount
// command resolves `<cid>/<path>` with it before mounting; the verifier finds manifest entries.
import type { CID } from 'multiformats/cid'
import { CsiError, Code } from '../driver/errors.js'
import type { ContentTree } from './content-tree.js'
import type { UnixfsNode } from './unixfs-node.js'

export interface ResolvedPath {
  cid: CID
  node: UnixfsNode
}

/**
 * Walks `segs` (already split, no empty or `.` parts) from `root`. A missing entry is NOT_FOUND;
 * passing through a file or a symlink is INVALID_ARGUMENT (symlinks are not followed: a target
 * outside the DAG means nothing here). The last node is fetched and verified too.
 */
export async function resolvePath (tree: ContentTree, root: CID, segs: string[], signal?: AbortSignal): Promise<ResolvedPath> {
  let cid = root
  let node = await tree.node(cid, signal)
  for (let i = 0; i < segs.length; i++) {
    const here = [root.toString(), ...segs.slice(0, i)].join('/')
    if (node.kind === 'symlink') throw new CsiError(Code.INVALID_ARGUMENT, `${here} is a symlink; give the path of its target instead`)
    if (node.kind !== 'directory' && node.kind !== 'hamt') throw new CsiError(Code.INVALID_ARGUMENT, `${here} is not a directory`)
    const next = await tree.lookup(node, cid, segs[i] as string, signal)
    if (next === undefined) throw new CsiError(Code.NOT_FOUND, `${here} has no entry ${JSON.stringify(segs[i])}`)
    cid = next
    node = await tree.node(cid, signal)
  }
  return { cid, node }
}
