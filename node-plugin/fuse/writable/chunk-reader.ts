// Reads of files not open for writing fetch the file's current CID (`cat`, so no MFS read can
// race a mutation). Each call costs a round trip, so instead of the kernel's 128 KiB (which it
// sends several at a time, out of order) we fetch aligned 1 MiB chunks, share them between
// handles through a small LRU, and fetch the next chunks ahead once a file is read
// sequentially. Chunks are keyed by CID: content-addressed, they can never be stale.
import { LRUCache } from 'lru-cache'

export const CHUNK = 1024 * 1024
const AHEAD = 2

type Fetch = (start: number, count: number) => Promise<Uint8Array>

export class ChunkReader {
  private readonly cache: LRUCache<string, Uint8Array>
  private readonly inflight = new Map<string, Promise<Uint8Array>>()

  constructor (budgetBytes = 32 * CHUNK) {
    this.cache = new LRUCache<string, Uint8Array>({ maxSize: budgetBytes, sizeCalculation: (v) => Math.max(1, v.length) })
  }

  /** Bytes [pos, min(pos+len, size)) of the file with CID `cid`. */
  async read (cid: string, pos: number, len: number, size: number, fetch: Fetch): Promise<Uint8Array> {
    const end = Math.min(pos + len, size)
    if (end <= pos) return new Uint8Array(0)
    const first = Math.floor(pos / CHUNK)
    const last = Math.floor((end - 1) / CHUNK)
    const key = (i: number): string => `${cid}/${i}`
    const get = async (i: number): Promise<Uint8Array> => {
      const k = key(i)
      const hit = this.cache.get(k)
      if (hit !== undefined) return hit
      let p = this.inflight.get(k)
      if (p === undefined) {
        p = fetch(i * CHUNK, Math.min(CHUNK, size - i * CHUNK))
        this.inflight.set(k, p)
        p.then((data) => { this.cache.set(k, data) }, () => {}).finally(() => this.inflight.delete(k)).catch(() => {})
      }
      return await p
    }
    // Sequential reading (the chunk before was wanted too): start on the next ones now.
    if (first > 0 && (this.cache.has(key(first - 1)) || this.inflight.has(key(first - 1)))) {
      for (let i = last + 1; i <= last + AHEAD && i * CHUNK < size; i++) void get(i).catch(() => {})
    }
    const chunks = await Promise.all(Array.from({ length: last - first + 1 }, async (_, j) => await get(first + j)))
    if (chunks.length === 1) {
      const c = chunks[0] as Uint8Array
      return c.subarray(pos - first * CHUNK, end - first * CHUNK)
    }
    const out = new Uint8Array(end - pos)
    let off = 0
    for (let j = 0; j < chunks.length; j++) {
      const c = chunks[j] as Uint8Array
      const from = j === 0 ? pos - first * CHUNK : 0
      const to = Math.min(c.length, end - (first + j) * CHUNK)
      if (to <= from) break // the file was shorter than its stat said
      out.set(c.subarray(from, to), off)
      off += to - from
    }
    return out.subarray(0, off)
  }
}
