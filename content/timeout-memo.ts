// Blocks whose fetch just hit its deadline: asking for one again fails at once for a moment.
// The kernel retries a failed read-ahead page with a second read of the same range at once;
// without this memo one read(2) against a frozen Kubo would take twice the deadline.
export class TimeoutMemo {
  private readonly until = new Map<string, number>()

  constructor (private readonly forMs: number) {}

  remember (key: string): void {
    if (this.until.size > 10_000) this.until.clear() // bounded: forgetting only costs a retry
    this.until.set(key, Date.now() + this.forMs)
  }

  /** True while `key` timed out moments ago. */
  has (key: string): boolean {
    const t = this.until.get(key)
    if (t === undefined) return false
    if (Date.now() < t) return true
    this.until.delete(key)
    return false
  }
}
