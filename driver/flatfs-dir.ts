// The layout of Kubo's flatfs blockstore directory (`$IPFS_PATH/blocks`): its SHARDING file names
// the shard function that picks a block's subdirectory. Checked here once, both when the config
// names the directory (`--kubo-blocks-dir`) and when a FUSE server opens it (content/local-blockstore.ts).
import { readFileSync, statSync } from 'node:fs'
import path from 'node:path'

export type ShardFn = (key: string) => string

/**
 * Parses flatfs's shard function id (`/repo/flatfs/shard/v1/<fn>/<n>`): prefix/n, suffix/n and
 * next-to-last/n, padded with `_` as flatfs does for keys shorter than n.
 */
export function parseShardFn (id: string): ShardFn {
  const m = /^\/repo\/flatfs\/shard\/v1\/(prefix|suffix|next-to-last)\/(\d{1,2})$/.exec(id.trim())
  if (m === null) throw new Error(`unsupported flatfs shard function ${JSON.stringify(id.trim().slice(0, 100))}`)
  const n = Number(m[2])
  if (n < 1) throw new Error(`flatfs shard length must be at least 1 (got ${n})`)
  switch (m[1]) {
    case 'prefix': return (k) => (k + '_'.repeat(n)).slice(0, n)
    case 'suffix': return (k) => ('_'.repeat(n) + k).slice(-n)
    default: return (k) => {
      const offset = k.length - n - 1
      return offset < 0 ? ('_'.repeat(n + 1) + k).slice(-(n + 1), -1) : k.slice(offset, offset + n)
    }
  }
}

/** Checks `dir` is a flatfs directory we can read and returns its shard function; throws with a clear reason otherwise. */
export function openFlatfsDir (dir: string): ShardFn {
  if (!path.isAbsolute(dir)) throw new Error(`blockstore directory must be absolute (got ${JSON.stringify(dir)})`)
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`)
  let id: string
  try {
    id = readFileSync(path.join(dir, 'SHARDING'), 'utf8')
  } catch (err) {
    throw new Error(`${dir} is not a Kubo flatfs blocks directory (no readable SHARDING file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  return parseShardFn(id)
}
