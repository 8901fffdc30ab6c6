// Pins what a node stages, so `repo gc` on the node-local Kubo never removes a block under a
// mounted content volume; unstaging releases it.
//
// The pin is `ipfs-csi/staged/<volume id>`, recursive, of the served root CID. It runs in the
// background and never delays NodeStageVolume: the FUSE read path streams blocks as they are
// needed, and the pin fetches the rest meanwhile. While it runs, Kubo's pin lock holds `repo gc`
// off, and once done every block is pinned. A failed pin is logged (reads still work; only GC
// protection is missing) and retried at the next stage.
//
// Kubo keeps one pin per CID, and `pin add --name` on a pinned CID renames that pin. So a root
// that is already pinned (a preload, another staged volume) is left as it is: it is protected, and
// unstaging must not remove someone else's pin. When a staged volume is unstaged while another
// staged volume on this node serves the same root, the pin is handed over (renamed) to it rather
// than removed. Left open: a preload pinning the same root while our pin is still running gets
// its pin renamed to ours (Kubo's last name wins), and a node plugin restart does not resume an
// unfinished background pin (the next stage of that volume does).
import { readFile } from 'node:fs/promises'
import { CsiError } from '../driver/errors.js'
import type { Kubo } from '../driver/kubo.js'
import type { Logger } from '../driver/logger.js'
import type { VolumeStateStore } from './volume-state.js'

export const STAGED_PIN_PREFIX = 'ipfs-csi/staged/'
/** Bound on one background pin (a whole model over the network). */
const PIN_DEADLINE_MS = 6 * 60 * 60_000
/** Unstage waits this long at most for the release: a hung Kubo must not hang NodeUnstageVolume. */
const SHORT_MS = 3000

export const stagedPinName = (volumeId: string): string => `${STAGED_PIN_PREFIX}${volumeId}`

/** Another volume staged on this node with the same root, if any (the caller's state store). */
export type OtherUser = (root: string, exceptVolumeId: string) => Promise<string | undefined>

/** OtherUser from the node's state dir: the staged content volumes and the roots their specs serve. */
export function otherUserFrom (store: VolumeStateStore): OtherUser {
  return async (root, exceptVolumeId) => {
    for (const s of (await store.list()).states) {
      if (s.volumeId === exceptVolumeId || s.kind !== 'content') continue
      const spec = await readFile(store.specPath(s.volumeId), 'utf8').then(t => JSON.parse(t) as { rootCid?: string }, () => undefined)
      if (spec?.rootCid === root) return s.volumeId
    }
    return undefined
  }
}

export class StagedPins {
  private readonly running = new Map<string, AbortController>()

  constructor (private readonly kubo: Kubo, private readonly log: Logger, private readonly otherUser: OtherUser = async () => undefined) {}

  /** Name of the recursive pin on `root`, or undefined when it is not pinned recursively. */
  private async pinNameOf (root: string, signal: AbortSignal): Promise<string | undefined> {
    try {
      const res = await this.kubo.postJson<{ Keys?: Record<string, { Name?: string }> }>('pin/ls', { arg: root, type: 'recursive', names: true }, signal, SHORT_MS)
      const v = Object.values(res?.Keys ?? {})[0]
      return v === undefined ? undefined : v.Name ?? ''
    } catch (err) {
      if (err instanceof CsiError && err.reason === 'not-pinned') return undefined
      throw err
    }
  }

  /** Starts the background pin of `root` for `volumeId`; returns at once. */
  pin (volumeId: string, root: string): void {
    this.running.get(volumeId)?.abort()
    const ac = new AbortController()
    this.running.set(volumeId, ac)
    const started = Date.now()
    const name = stagedPinName(volumeId)
    const run = async (): Promise<void> => {
      const owner = await this.pinNameOf(root, ac.signal)
      if (owner !== undefined) {
        this.log.info('staged content already pinned; left to its owner', { volumeId, root, pin: owner })
        return
      }
      await this.kubo.post('pin/add', { arg: root, recursive: true, name }, ac.signal, PIN_DEADLINE_MS)
      this.log.info('staged content pinned', { volumeId, root, pin: name, ms: Date.now() - started })
    }
    run().catch((err: unknown) => {
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
        const other = await this.otherUser(cid, volumeId)
        if (other !== undefined) {
          // Still mounted for another volume here: hand the pin over instead of removing it.
          await this.kubo.post('pin/add', { arg: cid, recursive: true, name: stagedPinName(other) }, AbortSignal.timeout(SHORT_MS), SHORT_MS)
          this.log.info('staged pin handed over', { volumeId, to: other, root: cid })
          continue
        }
        await this.kubo.post('pin/rm', { arg: cid, recursive: true }, AbortSignal.timeout(SHORT_MS), SHORT_MS).catch((err: unknown) => {
          if (!(err instanceof CsiError && err.reason === 'not-pinned')) throw err
        })
        this.log.info('staged pin released', { volumeId, root: cid })
      }
    } catch (err) {
      this.log.warn('releasing the staged pin failed; it stays until the next unstage', { volumeId, error: (err as Error).message })
    }
  }
}
