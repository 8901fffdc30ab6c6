// The SHA-256 of a file in a DAG, its bytes streamed through the verified reader: what a
// SHA256SUMS manifest and a model's manifest record.
import { createHash } from 'node:crypto'
import type { ContentTree } from './content-tree.js'
import type { UnixfsNode } from './unixfs-node.js'

/** Bytes read per step: one buffer per file hashed, whatever its size. */
const CHUNK = 1024 * 1024

/** SHA-256 (hex) of a file's bytes, streamed through the verified reader (the preloader's SHA256SUMS check, the model index's manifest). */
export async function sha256Of (tree: ContentTree, node: UnixfsNode, signal: AbortSignal): Promise<string> {
  if (node.kind !== 'file') throw new Error('not a regular file')
  const h = createHash('sha256')
  const buf = Buffer.alloc(CHUNK)
  for (let pos = 0; pos < node.size;) {
    const n = await tree.read(node, pos, Math.min(CHUNK, node.size - pos), buf, signal)
    if (n === 0) throw new Error('file ended early')
    h.update(buf.subarray(0, n))
    pos += n
  }
  return h.digest('hex')
}
