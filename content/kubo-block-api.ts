// The Kubo API as a block source: `block/get` (a block's bytes, unverified), `block/stat` (Kubo
// fetches the block, over bitswap if need be, and answers with a few bytes) and, for read-ahead,
// a run of consecutive leaves through one `cat` (cat-run.ts).
import type { CID } from 'multiformats/cid'
import { CsiError, Code, toCsiError } from '../driver/errors.js'
import type { Kubo } from '../driver/kubo.js'
import type { BlockSource } from './block-source.js'
import type { RunLeaf } from './block-reader.js'
import { streamCatRun, type CatRunSink } from './cat-run.js'

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

/**
 * Kubo's API as the last block source. It never answers "not here": Kubo fetches what it lacks,
 * and when it cannot, that is an error (see kuboBlock).
 */
export class KuboBlockApi implements BlockSource {
  readonly name = 'api'
  readonly verified = false
  readonly pooled = false

  constructor (private readonly kubo: Kubo) {}

  async get (cid: CID, deadline: number): Promise<Uint8Array> {
    return await this.call('block/get', cid, deadline)
  }

  /** Has Kubo fetch the block into its blockstore (over bitswap if need be) without sending it. */
  async stat (cid: CID, deadline: number): Promise<void> {
    await this.call('block/stat', cid, deadline)
  }

  /** Streams a run of consecutive leaves of `parent` through one `cat` (see cat-run.ts). */
  catRun (parent: CID, run: RunLeaf[], timeoutMs: number, sink: CatRunSink): void {
    streamCatRun(this.kubo, parent, run, timeoutMs, sink)
  }

  private async call (endpoint: 'block/get' | 'block/stat', cid: CID, deadline: number): Promise<Uint8Array> {
    return await kuboBlock(this.kubo, endpoint, cid.toString(), deadline)
  }
}
