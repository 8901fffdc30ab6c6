// The Kubo API as a block source: `block/get` (a block's bytes, unverified) and `block/stat`
// (Kubo fetches the block, over bitswap if need be, and answers with a few bytes).
import { CsiError, Code, toCsiError } from '../driver/errors.js'
import type { Kubo } from '../driver/kubo.js'

/** Kubo refuses blocks over 2 MiB on the network; anything much larger is not a block. */
const MAX_BLOCK_BYTES = 4 * 1024 * 1024

/**
 * To a reader, any failure but a deadline, a refused token or a broken answer is "Kubo cannot
 * give us the block now": UNAVAILABLE (EIO), even when Kubo says "not found" (ENOENT would
 * claim the file is gone).
 */
export async function kuboBlock (kubo: Kubo, endpoint: 'block/get' | 'block/stat', key: string, deadline: number): Promise<Uint8Array> {
  try {
    return await kubo.small(endpoint, key, deadline, MAX_BLOCK_BYTES)
  } catch (err) {
    const e = toCsiError(err)
    if (e.code === Code.DEADLINE_EXCEEDED || e.code === Code.PERMISSION_DENIED || e.code === Code.DATA_LOSS) throw e
    throw new CsiError(Code.UNAVAILABLE, e.message, { cause: err })
  }
}
