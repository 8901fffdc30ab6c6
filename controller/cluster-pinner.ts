// Content volumes and snapshots replicated through IPFS Cluster (when --cluster-api is set).
//
// How Cluster pins and the Kubo records relate:
// - The record (driver/volume-records.ts) still lives in the controller's Kubo, pinned there under
//   the object's pin name: it stays the commit point, and ListVolumes/DeleteVolume/snapshots find
//   objects exactly as without a Cluster. The controller's --kubo-api should be one of the
//   Cluster's own Kubos, so the record pin's copy of the content is one of the replicas.
// - The Cluster pins an *anchor*: a tiny dag-cbor block {ipfsCsi: 'anchor', id, content} that
//   links the content. Not the content CID itself, because the Cluster (like Kubo) keeps one pin
//   per CID: two volumes of the same model would share one pin and deleting one would unpin the
//   other's data. Not the record either: a Cluster peer running on the controller's Kubo would
//   then own (and on re-allocation remove) the very pin that is our commit point.
//   The anchor is derived from (id, content), so a retried CreateVolume pins the same CID again
//   (POST /pins is idempotent) and continues waiting where the last attempt stopped.
// - Order: anchor pinned and replicated to replicationMin first, record last. A CreateVolume
//   that runs out of time returns DEADLINE_EXCEEDED with the Cluster pin left in place: the CO's
//   retry finishes it. DeleteVolume removes every Cluster pin named after the volume (also one
//   left by a create that never finished) before the record. `ipfs-csi content ls` shows Cluster
//   pins without a record as such.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Kubo } from '../driver/kubo.js'
import type { Logger } from '../driver/logger.js'
import { CsiError, Code, invalid } from '../driver/errors.js'
import { ClusterClient, type GlobalPinInfo } from '../driver/cluster-client.js'

/** StorageClass parameters for replication and lifecycle. */
export const CLUSTER_PARAMS = ['replicationMin', 'replicationMax', 'expireIn', 'model'] as const

/** Keys the external-provisioner adds with --extra-create-metadata. */
export const PVC_NAME_PARAM = 'csi.storage.k8s.io/pvc/name'
export const PVC_NAMESPACE_PARAM = 'csi.storage.k8s.io/pvc/namespace'

export interface ClusterParams {
  replicationMin?: number
  replicationMax?: number
  expireIn?: string
  model?: string
}

const GO_DURATION = /^(\d+(h|m|s|ms))+$/
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,252}$/

/** Validates the Cluster parameters among a StorageClass's; pure, before any call. */
export function parseClusterParams (params: Record<string, string> | null | undefined): ClusterParams {
  const p = params ?? {}
  const out: ClusterParams = {}
  const int = (k: 'replicationMin' | 'replicationMax'): number | undefined => {
    const raw = p[k]
    if (raw === undefined) return undefined
    if (!/^\d{1,3}$/.test(raw) || Number(raw) < 1) throw invalid(`parameter "${k}" must be a positive integer (got ${JSON.stringify(raw)})`)
    return Number(raw)
  }
  const min = int('replicationMin')
  const max = int('replicationMax')
  if (min !== undefined) out.replicationMin = min
  if (max !== undefined) out.replicationMax = max
  // The Cluster refuses a min above its default max (-1); a min alone means exactly min copies.
  if (min !== undefined && max === undefined) out.replicationMax = min
  if (min !== undefined && max !== undefined && max < min) throw invalid(`parameter "replicationMax" (${max}) is smaller than "replicationMin" (${min})`)
  if (p.expireIn !== undefined) {
    if (!GO_DURATION.test(p.expireIn)) throw invalid(`parameter "expireIn" must be a duration like 720h or 90m (got ${JSON.stringify(p.expireIn)})`)
    out.expireIn = p.expireIn
  }
  if (p.model !== undefined) {
    if (!LABEL.test(p.model)) throw invalid(`parameter "model" must be a label of letters, digits and ._:/- (got ${JSON.stringify(p.model)})`)
    out.model = p.model
  }
  return out
}

/** The block the Cluster pins for one volume or snapshot (see the header). */
export async function anchorBlock (id: string, content: CID): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = dagCbor.encode({ ipfsCsi: 'anchor', v: 1, id, content })
  return { cid: CID.createV1(dagCbor.code, await sha256.digest(bytes)), bytes }
}

/** Peers where the pin is complete. */
export function pinnedPeers (info: GlobalPinInfo | undefined): string[] {
  return Object.entries(info?.peer_map ?? {}).filter(([, s]) => s.status === 'pinned').map(([id]) => id)
}

export interface ReplicateInput {
  /** Volume or snapshot id. */
  id: string
  /** Cluster pin name: the object's pin name, so it carries the id. */
  pinName: string
  kind: 'volume' | 'snapshot'
  content: CID
  sizeBytes: number
  params: ClusterParams
  /** PVC namespace/name when the provisioner passed them. */
  pvc?: { namespace?: string, name?: string }
}

export interface ClusterPinnerOptions {
  /** Between two status polls while waiting for replicationMin. */
  pollMs?: number
  /** Longest wait for replicationMin when the call's own deadline is later (or absent). */
  maxWaitMs?: number
}

export class ClusterPinner {
  readonly client: ClusterClient
  private readonly pollMs: number
  private readonly maxWaitMs: number

  constructor (client: ClusterClient, private readonly kubo: Kubo, private readonly log: Logger, o: ClusterPinnerOptions = {}) {
    this.client = client
    this.pollMs = o.pollMs ?? 500
    this.maxWaitMs = o.maxWaitMs ?? 10 * 60_000
  }

  /**
   * Pins the content through the Cluster and waits until `replicationMin` peers (1 when unset)
   * hold all of it. Running out of time → DEADLINE_EXCEEDED (retryable; the pin stays and the
   * retry continues it).
   */
  async replicate (input: ReplicateInput, signal: AbortSignal): Promise<CID> {
    const { cid, bytes } = await anchorBlock(input.id, input.content)
    // The anchor must be fetchable by the Cluster's peers: put it in the controller's Kubo.
    const put = await this.kubo.post('block/put', { 'cid-codec': 'dag-cbor', mhtype: 'sha2-256', pin: false }, signal, undefined, { data: bytes, name: 'anchor' })
    const key = JSON.parse(new TextDecoder().decode(put)).Key as string
    if (key !== cid.toString()) throw new CsiError(Code.INTERNAL, `Kubo stored the anchor as ${key}, expected ${cid.toString()}`)
    const metadata: Record<string, string> = { 'ipfs-csi-kind': input.kind, 'ipfs-csi-id': input.id, content: input.content.toString(), size: String(input.sizeBytes) }
    if (input.params.model !== undefined) metadata.model = input.params.model
    if (input.pvc?.namespace !== undefined) metadata['pvc-namespace'] = input.pvc.namespace
    if (input.pvc?.name !== undefined) metadata['pvc-name'] = input.pvc.name
    await this.client.pin(cid.toString(), {
      name: input.pinName,
      ...(input.params.replicationMin !== undefined ? { replicationMin: input.params.replicationMin } : {}),
      ...(input.params.replicationMax !== undefined ? { replicationMax: input.params.replicationMax } : {}),
      ...(input.params.expireIn !== undefined ? { expireIn: input.params.expireIn } : {}),
      metadata
    }, signal)
    const want = input.params.replicationMin ?? 1
    const started = Date.now()
    let have: string[] = []
    for (;;) {
      have = pinnedPeers(await this.client.status(cid.toString(), signal))
      if (have.length >= want) break
      const left = this.maxWaitMs - (Date.now() - started)
      if (signal.aborted || left <= 0) {
        throw new CsiError(Code.DEADLINE_EXCEEDED, `${input.pinName}: content ${input.content.toString()} is pinned on ${have.length} of the ${want} Cluster peers needed so far; retry to keep waiting`)
      }
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, Math.min(this.pollMs, left))
        signal.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
      })
    }
    this.log.info('replicated through IPFS Cluster', { id: input.id, anchor: cid.toString(), content: input.content.toString(), peers: have.length, replicationMin: want, ms: Date.now() - started })
    return cid
  }

  /** Removes every Cluster pin named `pinName` (normally one). */
  async release (pinName: string, signal: AbortSignal): Promise<void> {
    for (const p of await this.client.pins(signal)) {
      if (p.name !== pinName) continue
      await this.client.unpin(p.cid, signal)
      this.log.info('Cluster pin removed', { pinName, anchor: p.cid })
    }
  }

  /**
   * Free space for a new volume that needs `replicas` copies: the replicas-th largest free space
   * among the peers (the biggest volume that still reaches its minimum replication; the Cluster
   * allocates to the peers with the most free space). Unset → every peer must hold a copy (the
   * Cluster's default factor is "everywhere"), so the smallest.
   */
  async availableCapacity (replicas: number | undefined, signal: AbortSignal): Promise<number> {
    const free = (await this.client.metrics('freespace', signal))
      .filter(m => m.valid !== false)
      .map(m => Number(m.value))
      .filter(n => Number.isFinite(n) && n >= 0)
      .sort((a, b) => b - a)
    if (free.length === 0) return 0
    const k = replicas === undefined ? free.length : replicas
    return k > free.length ? 0 : free[k - 1] as number
  }
}

/** The pinner for a configuration with --cluster-api, else undefined (plain Kubo pins). */
export function clusterPinnerFor (config: { clusterApi?: string, clusterBasicAuthFile?: string, kuboTimeoutMs: number }, kubo: Kubo, log: Logger): ClusterPinner | undefined {
  if (config.clusterApi === undefined) return undefined
  const client = new ClusterClient({ url: config.clusterApi, timeoutMs: config.kuboTimeoutMs, ...(config.clusterBasicAuthFile !== undefined ? { basicAuthFile: config.clusterBasicAuthFile } : {}) })
  return new ClusterPinner(client, kubo, log)
}
