// files/stat answers for a short time. The kernel already caches attributes for 1 s; this
// absorbs the bursts of getattr/lookup one `ls -l` or `open` causes. Our own mutations clear
// it entirely (cheap, and never wrong); changes made elsewhere show up after the TTL.
import { Errno, FsError } from '../../../driver/errors.js'
import type { MfsStat } from './mfs-client.js'

interface Entry { at: number, value?: MfsStat, missing?: FsError }

export class StatCache {
  private readonly entries = new Map<string, Entry>()
  private generation = 0

  constructor (private readonly ttlMs: number, private readonly maxEntries = 10_000) {}

  async get (key: string, load: () => Promise<MfsStat>): Promise<MfsStat> {
    const e = this.entries.get(key)
    if (e !== undefined && Date.now() - e.at < this.ttlMs) {
      if (e.missing !== undefined) throw e.missing
      if (e.value !== undefined) return e.value
    }
    const gen = this.generation
    try {
      const value = await load()
      this.put(gen, key, { at: Date.now(), value })
      return value
    } catch (err) {
      // Only "does not exist" is worth remembering; Kubo trouble must be retried next time.
      if (err instanceof FsError && err.errno === Errno.ENOENT) this.put(gen, key, { at: Date.now(), missing: err })
      throw err
    }
  }

  /** Forgets everything, including answers still in flight (they were read before the change). */
  clear (): void {
    this.generation++
    this.entries.clear()
  }

  private put (gen: number, key: string, e: Entry): void {
    if (gen !== this.generation) return
    if (this.entries.size >= this.maxEntries) this.entries.clear()
    this.entries.set(key, e)
  }
}
