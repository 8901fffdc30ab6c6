// Kubo 0.43's MFS can silently lose a mutation that races a read of its parent (files/ls,
// files/stat, files/flush). The gate lets MFS reads run together but never alongside a
// mutation; mutations are additionally queued one at a time (p-queue, concurrency 1), so a
// mutation waits for in-flight reads and blocks new ones (writer preference: no starvation).
import PQueue from 'p-queue'

export class RwGate {
  private readers = 0
  private writing = false
  private readonly waitingReaders: Array<() => void> = []
  private readonly waitingWriters: Array<() => void> = []
  private readonly queue = new PQueue({ concurrency: 1 })

  /** Runs an MFS read (ls, stat, read): concurrent with other reads, never with a mutation. */
  async shared<T> (fn: () => Promise<T>): Promise<T> {
    // The waker counts us in before resolving, so nobody can slip in between.
    if (this.writing || this.waitingWriters.length > 0) {
      await new Promise<void>((resolve) => this.waitingReaders.push(resolve))
    } else {
      this.readers++
    }
    try {
      return await fn()
    } finally {
      this.readers--
      this.wake()
    }
  }

  /** Runs an MFS mutation: queued behind earlier mutations, alone while it runs. */
  async exclusive<T> (fn: () => Promise<T>): Promise<T> {
    return await this.queue.add(async () => {
      if (this.writing || this.readers > 0) {
        await new Promise<void>((resolve) => this.waitingWriters.push(resolve))
      } else {
        this.writing = true
      }
      try {
        return await fn()
      } finally {
        this.writing = false
        this.wake()
      }
    })
  }

  /** Resolves when no mutation is queued or running. */
  async idle (): Promise<void> { await this.queue.onIdle() }

  get pendingMutations (): number { return this.queue.size + this.queue.pending }

  private wake (): void {
    if (this.writing) return
    if (this.waitingWriters.length > 0) {
      if (this.readers === 0) {
        this.writing = true
        ;(this.waitingWriters.shift() as () => void)()
      }
      return
    }
    while (this.waitingReaders.length > 0) {
      this.readers++
      ;(this.waitingReaders.shift() as () => void)()
    }
  }
}
