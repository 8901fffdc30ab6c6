// StorageClass parameters of CreateVolume: what content a volume gets and whether it is writable.
// Pure validation, before any Kubo call.
import type { CID } from 'multiformats/cid'
import { invalid } from '../driver/errors.js'
import { parseCid, parseIpnsName, parsePath } from '../driver/content-ref.js'
import type { VolumeKind } from '../driver/volume-id.js'
import { CLUSTER_PARAMS, parseClusterParams } from './cluster-pinner.js'
import { parseModelRef } from '../driver/model-records.js'

/** Parameters we accept. `kind` picks the volume kind explicitly (default: content when cid/ipns is given). */
export const VOLUME_PARAMS = ['cid', 'path', 'ipns', 'kind', ...CLUSTER_PARAMS] as const

/** The external-provisioner adds these (PVC/PV names, secrets refs); they are not ours to check. */
const PROVISIONER_PREFIX = 'csi.storage.k8s.io/'

export interface VolumeParams {
  kind: VolumeKind
  cid?: CID
  /** `/ipns/<name>`, resolved once at CreateVolume. */
  ipns?: string
  /** `model: name[:tag|version]` without cid/ipns: resolved once at CreateVolume through the model index. */
  model?: { name: string, ref: string }
  /** Path segments inside cid / ipns. */
  path: string[]
  /** Our parameters as given (provisioner ones dropped): stored in the record, compared on a repeated create. */
  stored: Record<string, string>
}

/** Drops the provisioner's `csi.storage.k8s.io/*` keys. */
export function ownParameters (params: Record<string, string> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(params ?? {})) if (!k.startsWith(PROVISIONER_PREFIX)) out[k] = v
  return out
}

export function parseVolumeParams (params: Record<string, string> | null | undefined): VolumeParams {
  const stored = ownParameters(params)
  const unknown = Object.keys(stored).filter(k => !(VOLUME_PARAMS as readonly string[]).includes(k))
  if (unknown.length > 0) throw invalid(`unknown parameter(s) ${unknown.map(k => JSON.stringify(k)).join(', ')}; supported: ${VOLUME_PARAMS.join(', ')}`)
  const { cid: cidStr, ipns: ipnsStr, path: pathStr, kind: kindStr } = stored
  if (cidStr !== undefined && ipnsStr !== undefined) throw invalid('parameters "cid" and "ipns" are mutually exclusive')
  // With cid/ipns, `model` is only a label (pin metadata); alone it names a model of the index.
  const modelRef = cidStr === undefined && ipnsStr === undefined && stored.model !== undefined ? parseModelRef(stored.model) : undefined
  if (pathStr !== undefined && cidStr === undefined && ipnsStr === undefined && modelRef === undefined) throw invalid('parameter "path" needs "cid", "ipns" or "model"')
  if (kindStr !== undefined && kindStr !== 'content' && kindStr !== 'writable') throw invalid(`parameter "kind" must be "content" or "writable" (got ${JSON.stringify(kindStr)})`)
  const out: VolumeParams = {
    kind: (kindStr as VolumeKind | undefined) ?? (cidStr !== undefined || ipnsStr !== undefined || modelRef !== undefined ? 'content' : 'writable'),
    path: parsePath(pathStr, 'parameter "path"'),
    stored
  }
  if (cidStr !== undefined) out.cid = parseCid(cidStr, 'parameter "cid"')
  if (ipnsStr !== undefined) out.ipns = parseIpnsName(ipnsStr)
  if (modelRef !== undefined) out.model = modelRef
  parseClusterParams(stored) // validation only; used by cluster-pinner.ts
  return out
}

/** Same parameters, order-insensitive. */
export function sameParameters (a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort()
  const kb = Object.keys(b).sort()
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k])
}
