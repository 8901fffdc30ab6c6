// Pins what a node stages, so `repo gc` on the node-local Kubo never removes a block under a
// mounted content volume; unstaging releases it.
//
// The pin is `ipfs-csi/staged/<volume id>`, recursive, of the served root CID. It runs in the
// background and never delays NodeStageVolume: the FUSE read path streams blocks as they are
// needed, and the pin fetches the rest meanwhile. While it runs, Kubo's pin lock holds `repo gc`
// off, and once done every block is pinned. A failed pin is logged (reads still work; only GC
// protection is missing) and retried at the next stage.
//
// Kubo keeps one pin per CID: when the root is already pinned (by a preload, a record, another
// staged volume), `pin add` keeps that pin's name, so unstaging finds no pin of its own name and
// leaves the other owner's pin alone. The cost: that volume is protected by the other pin only.
import type { Kubo } from '../driver/kubo.js'
import type { Logger } from '../driver/logger.js'

export const STAGED_PIN_PREFIX = 'ipfs-csi/staged/'
/** Bound on one background pin (a whole model over the network). */
const PIN_DEADLINE_MS = 6 * 60 * 60_000
/** Unstage waits this long at most for the release: a hung Kubo must not hang NodeUnstageVolume. */
const SHORT_MS = 3000

export const stagedPinName = (volumeId: string): string => `${STAGED_PIN_PREFIX}${volumeId}`

export class StagedPins {
  private readonly running = new Map<string, AbortController>()

  constructor (private readonly kubo: Kubo, private readonly log: Logger) {}

  /** Starts the background pin of `root` for `volumeId`; returns at once. */
  pin (volumeId: string, root: string): void {
    this.running.get(volumeId)?.abort()
    const ac = new AbortController()
    this.running.set(volumeId, ac)
    const started = Date.now()
    const name = stagedPinName(volumeId)
    this.kubo.post('pin/add', { arg: root, recursive: true, name }, ac.signal, PIN_DEADLINE_MS).then(() => {
      this.log.info('staged content pinned', { volumeId, root, pin: name, ms: Date.now() - started })
    }, (err: unknown) => {
      if (ac.signal.aborted) return
      this.log.warn('pinning staged content failed; GC may reclaim its blocks until the next stage', { volumeId, root, error: (err as Error).message })
    }).finally(() => {
      if (this.running.get(volumeId) === ac) this.running.delete(volumeId)
    })
  }

  /** Stops a running pin and removes the pin(s) named after the volume. Failures are logged. */
  async release (volumeId: string): Promise<void> {
    this.running.get(volumeId)?.abort()
    this.running.delete(volumeId)
    const name = stagedPinName(volumeId)
    try {
      const res = await this.kubo.postJson<{ Keys?: Record<string, { Name?: string }> }>('pin/ls', { type: 'recursive', names: true, name }, AbortSignal.timeout(SHORT_MS), SHORT_MS)
      for (const [cid, v] of Object.entries(res?.Keys ?? {})) {
        if (v.Name !== name) continue
        await this.kubo.post('pin/rm', { arg: cid, recursive: true }, AbortSignal.timeout(SHORT_MS), SHORT_MS).catch((err: Error) => {
          if (!/not pinned/i.test(err.message)) throw err
        })
        this.log.info('staged pin released', { volumeId, root: cid })
      }
    } catch (err) {
      this.log.warn('releasing the staged pin failed; it stays until the next unstage', { volumeId, error: (err as Error).message })
    }
  }
}
