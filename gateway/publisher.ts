// Publishing for the public gateway. The gateway tier is a set of offline Kubos (NoFetch, no
// swarm) that hold nothing but published DAGs, so a visitor can only ever get what was published,
// and a compromised gateway pod reaches no tenant data. Publishing copies a DAG out of the storage
// tier (dag/export, a read-only token) into every gateway Kubo (dag/import pins the root);
// unpublishing unpins it there and runs GC, so its blocks are gone at once (blocks another
// published DAG shares stay). The published set is the gateway Kubos' recursive pins; `reconcile`
// makes every gateway hold exactly a desired set (a replaced replica, a missed unpublish).
import type { CID } from 'multiformats/cid'
import { CsiError, Code, toCsiError } from '../driver/errors.js'
import { parseCid } from '../driver/content-ref.js'
import type { Kubo } from '../driver/kubo.js'
import { deadline } from '../driver/deadline.js'

/** The empty UnixFS directory `ipfs init` pins in every repo: not a published DAG. */
const EMPTY_DIR = 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn'

export interface PublisherInit {
  /** The storage tier's Kubo (token: dag/export). */
  storage: Kubo
  /** Every gateway-tier Kubo (token: dag/import, pin/ls, pin/rm, repo/gc). */
  gateways: Kubo[]
  /** Deadline for copying one DAG to one gateway (large models take a while). */
  copyTimeoutMs: number
}

export interface GatewayFailure { gateway: string, error: CsiError }

/** A publish or unpublish that did not reach every gateway: the caller retries (both are idempotent). */
export class PartialFailure extends CsiError {
  readonly failures: GatewayFailure[]
  constructor (what: string, failures: GatewayFailure[], total: number) {
    const worst = failures.every(f => f.error.code === Code.NOT_FOUND) ? Code.NOT_FOUND : Code.UNAVAILABLE
    super(worst, `${what} failed on ${failures.length} of ${total} gateway(s): ${failures.map(f => `${f.gateway}: ${f.error.message}`).join('; ')}`)
    this.name = 'PartialFailure'
    this.failures = failures
  }
}

export class GatewayPublisher {
  private readonly init: PublisherInit

  constructor (init: PublisherInit) {
    if (init.gateways.length === 0) throw new CsiError(Code.INVALID_ARGUMENT, 'at least one gateway Kubo is required')
    this.init = init
  }

  /** Copies the DAG under `cid` from the storage tier into every gateway and pins it there. */
  async publish (cid: CID, signal: AbortSignal): Promise<void> {
    await this.onEvery(`publish ${cid.toString()}`, async gw => { await this.copy(cid, gw, signal) })
  }

  /** Unpins `cid` on every gateway and collects garbage there, so its blocks stop being served. */
  async unpublish (cid: CID, signal: AbortSignal): Promise<void> {
    await this.onEvery(`unpublish ${cid.toString()}`, async gw => {
      await this.unpin(cid, gw, signal)
      await collectGarbage(gw, signal)
    })
  }

  /** The published CIDs (recursive pins) of each gateway, by gateway URL. */
  async list (signal: AbortSignal): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>()
    for (const gw of this.init.gateways) out.set(gw.url, await this.pins(gw, signal))
    return out
  }

  /**
   * Makes every gateway hold exactly `desired`: copies what it lacks, unpins and collects what is
   * no longer published. Returns what changed, per gateway.
   */
  async reconcile (desired: CID[], signal: AbortSignal): Promise<Array<{ gateway: string, added: string[], removed: string[] }>> {
    const want = new Map(desired.map(c => [c.toV1().toString(), c]))
    const report: Array<{ gateway: string, added: string[], removed: string[] }> = []
    await this.onEvery('reconcile', async gw => {
      const have = new Set([...await this.pins(gw, signal)].map(c => parseCid(c).toV1().toString()))
      const added: string[] = []
      const removed: string[] = []
      for (const [key, cid] of want) if (!have.has(key)) { await this.copy(cid, gw, signal); added.push(key) }
      for (const key of have) if (!want.has(key)) { await this.unpin(parseCid(key), gw, signal); removed.push(key) }
      if (removed.length > 0) await collectGarbage(gw, signal)
      report.push({ gateway: gw.url, added, removed })
    })
    return report
  }

  /** Runs `fn` on every gateway in parallel; any failure is reported with the gateway it hit. */
  private async onEvery (what: string, fn: (gw: Kubo) => Promise<void>): Promise<void> {
    const results = await Promise.allSettled(this.init.gateways.map(fn))
    const failures: GatewayFailure[] = []
    results.forEach((r, i) => { if (r.status === 'rejected') failures.push({ gateway: this.init.gateways[i].url, error: toCsiError(r.reason) }) })
    if (failures.length > 0) throw new PartialFailure(what, failures, this.init.gateways.length)
  }

  private async pins (gw: Kubo, signal: AbortSignal): Promise<Set<string>> {
    const res = await gw.postJson<{ Keys?: Record<string, unknown> }>('pin/ls', { type: 'recursive' }, signal)
    return new Set(Object.keys(res?.Keys ?? {}).filter(c => c !== EMPTY_DIR))
  }

  private async unpin (cid: CID, gw: Kubo, signal: AbortSignal): Promise<void> {
    try {
      await gw.post('pin/rm', { arg: cid.toString(), recursive: true }, signal)
    } catch (err) {
      // Already unpublished there: nothing to do (unpublish is idempotent).
      if (err instanceof CsiError && err.reason === 'not-pinned') return
      throw err
    }
  }

  /**
   * Streams `dag/export` from the storage tier into `dag/import` of one gateway (no copy of the
   * DAG in this process's memory). An export that ends early leaves an incomplete CAR: the
   * gateway, being offline, cannot pin its root and the import fails; the pin is checked after.
   */
  private async copy (cid: CID, gw: Kubo, signal: AbortSignal): Promise<void> {
    const limit = deadline(this.init.copyTimeoutMs, signal)
    try {
      await this.copyWithin(cid, gw, signal, limit.signal)
    } finally {
      limit.clear()
    }
  }

  /** `copy` with `s`, the signal that also carries the copy's deadline. */
  private async copyWithin (cid: CID, gw: Kubo, signal: AbortSignal, s: AbortSignal): Promise<void> {
    const storage = this.init.storage
    let car: ReadableStream<Uint8Array>
    try {
      car = await storage.postStreamed('dag/export', { arg: cid.toString(), progress: false }, s)
    } catch (err) {
      throw copyError(err, `storage dag/export ${cid.toString()}`, [Code.PERMISSION_DENIED, Code.NOT_FOUND])
    }
    let text: string
    try {
      text = await gw.postStreamBody('dag/import', { 'pin-roots': true, stats: false }, { data: car, name: 'dag.car', type: 'application/vnd.ipld.car' }, s)
    } catch (err) {
      throw copyError(err, `gateway dag/import ${cid.toString()}`, [Code.PERMISSION_DENIED])
    }
    for (const line of text.split('\n').filter(l => l.trim() !== '')) {
      const r = JSON.parse(line) as { Root?: { PinErrorMsg?: string }, Message?: string, Type?: string }
      if (r.Type === 'error') throw new CsiError(Code.UNAVAILABLE, `gateway dag/import ${cid.toString()}: ${r.Message ?? 'error'}`)
      if (r.Root?.PinErrorMsg !== undefined && r.Root.PinErrorMsg !== '') throw new CsiError(Code.DATA_LOSS, `gateway dag/import ${cid.toString()}: the DAG is incomplete: ${r.Root.PinErrorMsg}`)
    }
    const pinned = await gw.postJson<{ Keys?: Record<string, unknown> }>('pin/ls', { arg: cid.toString(), type: 'recursive' }, signal).catch(() => null)
    if (pinned?.Keys === undefined || Object.keys(pinned.Keys).length === 0) throw new CsiError(Code.DATA_LOSS, `gateway dag/import ${cid.toString()}: the root is not pinned after the import`)
  }
}

/**
 * A failed step of a copy: a refused token (and, for the export, unknown content) and a deadline
 * keep their code; anything else Kubo or the network did is UNAVAILABLE (try again later).
 */
function copyError (err: unknown, what: string, kept: Code[]): CsiError {
  const e = toCsiError(err)
  const code = kept.includes(e.code) || e.code === Code.DEADLINE_EXCEEDED ? e.code : Code.UNAVAILABLE
  return new CsiError(code, `${what}: ${e.message}`, { cause: err })
}

/** repo/gc reports errors inside a 200 stream ({"Error": ...} lines): any of them fails the call. */
async function collectGarbage (gw: Kubo, signal: AbortSignal): Promise<void> {
  const text = new TextDecoder().decode(await gw.post('repo/gc', { quiet: true, 'stream-errors': true }, signal))
  const errors = text.split('\n').filter(l => l.trim() !== '').map(l => (JSON.parse(l) as { Error?: string }).Error).filter(e => e !== undefined && e !== '')
  if (errors.length > 0) throw new CsiError(Code.UNAVAILABLE, `repo/gc: ${errors.slice(0, 3).join('; ')}`)
}
