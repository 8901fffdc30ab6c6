// Reuses the buffers that file leaves are read into from the node's blockstore. Streaming a file
// otherwise allocates one fresh leaf-sized buffer per block (1 GiB = 1,024 buffers of 1 MiB), and
// V8 answers that much external memory with a full collection every few dozen MiB: in a profile
// of a 512 MiB cold read those collections and the allocations cost about a fifth of the FUSE
// server's CPU.
//
// A buffer may only be reused once nothing can still read it. The block cache lets go of a leaf
// (eviction, or a sequential reader that passed it), but a FUSE read that started earlier may
// still hold a view of it while it waits for its other blocks. So every such read registers a
// use, a released buffer waits in quarantine until every use that began before its release has
// ended, and only then is handed out again. Only leaf blocks are ever released: a directory, a
// shard or a file root is decoded into long-lived nodes whose CIDs and data are views of the
// block's bytes, and those must never change under them.

/** Leaf-sized buffers only: smaller ones are cheap to allocate and not worth keeping. */
export const MIN_POOLED_BYTES = 64 * 1024

export interface BlockBufferPoolInit {
  /** Bytes of free buffers kept for reuse, and separately of quarantined ones (beyond, they are left to the garbage collector). */
  maxIdleBytes: number
}

interface Quarantined { buf: ArrayBuffer, releasedAt: number }

export class BlockBufferPool {
  private readonly maxIdleBytes: number
  /** Buffers this pool handed out and that nobody released yet. */
  private readonly owned = new WeakSet<ArrayBuffer>()
  /** Uses (reads that may hold block views across awaits) still running; insertion order = age. */
  private readonly active = new Set<number>()
  private seq = 0
  private readonly quarantine: Quarantined[] = []
  private quarantineBytes = 0
  private readonly free = new Map<number, ArrayBuffer[]>()
  private idleBytes = 0
  /** Counters for tests and debug logs. */
  readonly stats = { allocated: 0, reused: 0, released: 0, dropped: 0 }

  constructor (init: BlockBufferPoolInit) {
    this.maxIdleBytes = init.maxIdleBytes
  }

  /** Starts a use: buffers released from now on are not reused before `endUse(token)`. */
  beginUse (): number {
    const token = ++this.seq
    this.active.add(token)
    return token
  }

  endUse (token: number): void {
    this.active.delete(token)
  }

  /** A buffer of exactly `size` bytes (contents undefined): a reused one when one is free. */
  acquire (size: number): Buffer {
    if (size < MIN_POOLED_BYTES) return Buffer.allocUnsafeSlow(size)
    this.drain()
    const buf = this.free.get(size)?.pop()
    if (buf !== undefined) {
      this.idleBytes -= size
      this.stats.reused++
      this.owned.add(buf)
      return Buffer.from(buf)
    }
    this.stats.allocated++
    const b = Buffer.allocUnsafeSlow(size)
    this.owned.add(b.buffer)
    return b
  }

  /**
   * Takes back a buffer from `acquire` that was never shown to anyone (the block did not fit,
   * or was copied out): it is free at once.
   */
  giveBack (buf: Buffer): void {
    const ab = buf.buffer as ArrayBuffer
    if (!this.owned.delete(ab)) return
    this.addFree(ab)
  }

  /**
   * The cache let go of a leaf whose bytes live in one of this pool's buffers: the buffer is
   * reused once every use that began before now has ended. Anything else is ignored.
   */
  release (bytes: Uint8Array): void {
    if (!this.owned.delete(bytes.buffer as ArrayBuffer)) return
    this.stats.released++
    this.quarantine.push({ buf: bytes.buffer as ArrayBuffer, releasedAt: this.seq })
    this.quarantineBytes += bytes.buffer.byteLength
    // A long use (reads have deadlines, so none is endless) must not pin memory without bound:
    // past the limit the oldest quarantined buffers are left to the garbage collector.
    while (this.quarantineBytes > this.maxIdleBytes) { this.unquarantine(); this.stats.dropped++ }
  }

  /** Idle bytes (free and quarantined), for tests. */
  get heldBytes (): number {
    return this.idleBytes + this.quarantineBytes
  }

  private unquarantine (): ArrayBuffer {
    const q = this.quarantine.shift() as Quarantined
    this.quarantineBytes -= q.buf.byteLength
    return q.buf
  }

  /** Moves to the free lists every quarantined buffer that no running use can still see. */
  private drain (): void {
    const oldest = this.active.values().next()
    const oldestActive = oldest.done === true ? Infinity : oldest.value
    while (this.quarantine.length > 0 && (this.quarantine[0] as Quarantined).releasedAt < oldestActive) {
      this.addFree(this.unquarantine())
    }
  }

  private addFree (buf: ArrayBuffer): void {
    if (this.idleBytes + buf.byteLength > this.maxIdleBytes) { this.stats.dropped++; return }
    let list = this.free.get(buf.byteLength)
    if (list === undefined) { list = []; this.free.set(buf.byteLength, list) }
    list.push(buf)
    this.idleBytes += buf.byteLength
  }
}
