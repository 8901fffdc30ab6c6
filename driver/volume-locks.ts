// Per-volume mutual exclusion. The CSI spec asks a plugin to answer ABORTED when an operation
// for the same volume is already in flight, rather than queueing it (the CO retries).
export class VolumeLocks {
  private readonly held = new Set<string>()

  /** Returns a release function, or undefined when the key is busy. */
  tryAcquire (key: string): (() => void) | undefined {
    if (this.held.has(key)) return undefined
    this.held.add(key)
    let released = false
    return () => {
      if (!released) { released = true; this.held.delete(key) }
    }
  }

}
