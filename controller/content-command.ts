// `ipfs-csi content ls`: what the storage tier holds for the driver. Volumes and snapshots (pins
// named `ipfs-csi/...`, from the records in the controller's Kubo and the Cluster's pins) and
// preloads (`preload:...`), with their content, size, replication status per Cluster peer and
// which node-local Kubos hold (pin) the content.
import { parseArgs } from 'node:util'
import { CID } from 'multiformats/cid'
import { Kubo } from '../driver/kubo.js'
import { ConfigError, validateKuboApi } from '../driver/config.js'
import { PIN_PREFIX } from '../driver/constants.js'
import { ClusterClient, type ClusterPin, type GlobalPinInfo } from '../driver/cluster-client.js'
import { Progress } from '../driver/progress.js'
import { RecordStore } from '../driver/record-store.js'

const USAGE = `usage: ipfs-csi content ls --kubo-api URL [--cluster-api URL] [--cluster-basic-auth-file FILE]
                          [--node-kubo-api URL ...] [--json]`

const PRELOAD_PREFIX = 'preload:'
const CALL_MS = 30_000

export interface ContentPeerStatus { peer: string, peername: string, status: string, error?: string }
export interface ContentNodeHold { kuboApi: string, pinned: boolean, pinName?: string, unreachable?: boolean }

export interface ContentEntry {
  kind: 'volume' | 'snapshot' | 'preload' | 'staged' | 'other'
  /** Pin name (carries the volume/snapshot id). */
  name: string
  id?: string
  /** The content served (for Cluster pins: the anchor's content, from its metadata). */
  content?: string
  sizeBytes?: number
  /** A record pinned in the controller's Kubo: false for a Cluster pin whose create never finished. */
  record: boolean
  cluster?: {
    pin: string
    replicationMin?: number
    replicationMax?: number
    pinnedPeers: number
    peers: ContentPeerStatus[]
    metadata: Record<string, string>
    expireAt?: string
  }
  nodes: ContentNodeHold[]
}

function kindOf (name: string): ContentEntry['kind'] {
  if (name.startsWith(PIN_PREFIX.volume)) return 'volume'
  if (name.startsWith(PIN_PREFIX.snapshot)) return 'snapshot'
  if (name.startsWith(PRELOAD_PREFIX)) return 'preload'
  if (name.startsWith('ipfs-csi/staged/')) return 'staged'
  return 'other'
}

const ours = (name: string | undefined): name is string => name !== undefined && (name.startsWith('ipfs-csi/') || name.startsWith(PRELOAD_PREFIX))
const idOf = (name: string): string | undefined => {
  for (const prefix of [PIN_PREFIX.volume, PIN_PREFIX.snapshot, 'ipfs-csi/staged/']) if (name.startsWith(prefix)) return name.slice(prefix.length)
  return undefined
}

/** Named recursive pins of one Kubo: CID → name. */
async function namedPins (kubo: Kubo, signal: AbortSignal): Promise<Map<string, string>> {
  const res = await kubo.postJson<{ Keys?: Record<string, { Name?: string }> }>('pin/ls', { type: 'recursive', names: true }, signal, CALL_MS)
  const out = new Map<string, string>()
  for (const [cid, v] of Object.entries(res?.Keys ?? {})) out.set(normalize(cid), v.Name ?? '')
  return out
}

/** CIDs compared as v1 strings (Kubo lists v0 CIDs as v0). */
function normalize (cid: string): string {
  try { return CID.parse(cid).toV1().toString() } catch { return cid }
}

export interface ContentLsOptions {
  kuboApi: string
  clusterApi?: string
  clusterBasicAuthFile?: string
  nodeKuboApis: string[]
  /** Told what is being read: a stage name, and records read of how many (the slow part with many pins). */
  onProgress?: (stage: string, done?: number, total?: number) => void
}

export async function contentLs (o: ContentLsOptions, signal: AbortSignal): Promise<ContentEntry[]> {
  const kubo = new Kubo({ url: o.kuboApi, timeoutMs: CALL_MS })
  const store = new RecordStore(kubo)
  const entries = new Map<string, ContentEntry>()
  const entry = (name: string): ContentEntry => {
    let e = entries.get(name)
    if (e === undefined) {
      const id = idOf(name)
      e = { kind: kindOf(name), name, ...(id !== undefined ? { id } : {}), record: false, nodes: [] }
      entries.set(name, e)
    }
    return e
  }

  // Records (and preloads) in the controller's Kubo.
  o.onProgress?.('listing pins of the storage Kubo')
  const recordPins = [...await namedPins(kubo, signal)].filter(([, name]) => ours(name))
  let read = 0
  for (const [cid, name] of recordPins) {
    o.onProgress?.('reading records', read++, recordPins.length)
    const e = entry(name)
    if (e.kind === 'volume' || e.kind === 'snapshot') {
      e.record = true
      try {
        const rec = await store.read(CID.parse(cid), signal)
        const content = rec.type === 'snapshot' ? rec.content : rec.content ?? rec.seed
        if (content !== undefined) e.content = content.toString()
        e.sizeBytes = rec.sizeBytes
      } catch (err) {
        if (signal.aborted) throw err
      }
    } else {
      e.content = cid
    }
  }

  // Cluster pins and their status on every peer.
  if (o.clusterApi !== undefined) {
    o.onProgress?.('reading Cluster pins and their status')
    const cluster = new ClusterClient({ url: o.clusterApi, timeoutMs: CALL_MS, ...(o.clusterBasicAuthFile !== undefined ? { basicAuthFile: o.clusterBasicAuthFile } : {}) })
    const pins = new Map<string, ClusterPin>((await cluster.pins(signal)).map(p => [p.cid, p]))
    const status = new Map<string, GlobalPinInfo>((await cluster.statusAll(signal)).map(s => [s.cid, s]))
    for (const [cid, pin] of pins) {
      const name = pin.name ?? status.get(cid)?.name
      if (!ours(name)) continue
      const e = entry(name)
      const meta = pin.metadata ?? {}
      if (e.content === undefined) e.content = meta.content ?? cid
      if (e.sizeBytes === undefined && meta.size !== undefined && /^\d+$/.test(meta.size)) e.sizeBytes = Number(meta.size)
      const peers: ContentPeerStatus[] = Object.entries(status.get(cid)?.peer_map ?? {}).map(([peer, s]) => ({
        peer, peername: s.peername ?? '', status: s.status, ...(s.error !== undefined && s.error !== '' ? { error: s.error } : {})
      })).sort((a, b) => a.peername.localeCompare(b.peername))
      e.cluster = {
        pin: cid,
        ...(pin.replication_factor_min !== undefined ? { replicationMin: pin.replication_factor_min } : {}),
        ...(pin.replication_factor_max !== undefined ? { replicationMax: pin.replication_factor_max } : {}),
        pinnedPeers: peers.filter(p => p.status === 'pinned').length,
        peers,
        metadata: meta,
        ...(pin.expire_at !== undefined && !pin.expire_at.startsWith('0001-') ? { expireAt: pin.expire_at } : {})
      }
    }
  }

  // Which node-local Kubos pin the content (staged or preloaded there); preloads live there too.
  const nodePins: Array<Map<string, string> | undefined> = []
  for (const [i, api] of o.nodeKuboApis.entries()) {
    o.onProgress?.('asking node Kubos what they pin', i, o.nodeKuboApis.length)
    try { nodePins.push(await namedPins(new Kubo({ url: api, timeoutMs: CALL_MS }), signal)) } catch (err) {
      if (signal.aborted) throw err
      nodePins.push(undefined)
    }
  }
  for (const pins of nodePins) {
    for (const [cid, name] of pins ?? []) if (name.startsWith(PRELOAD_PREFIX) && !entries.has(name)) entry(name).content = cid
  }
  o.nodeKuboApis.forEach((api, i) => {
    const pins = nodePins[i]
    for (const e of entries.values()) {
      const name = e.content !== undefined ? pins?.get(normalize(e.content)) : undefined
      e.nodes.push({ kuboApi: api, pinned: name !== undefined, ...(name !== undefined && name !== '' ? { pinName: name } : {}), ...(pins === undefined ? { unreachable: true } : {}) })
    }
  })
  const order = { volume: 0, snapshot: 1, preload: 2, staged: 3, other: 4 }
  return [...entries.values()].sort((a, b) => order[a.kind] - order[b.kind] || a.name.localeCompare(b.name))
}

function formatBytes (n: number | undefined): string {
  if (n === undefined) return '?'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n; let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i] as string}`
}

export function formatContentLs (entries: ContentEntry[]): string {
  if (entries.length === 0) return 'nothing held for ipfs-csi\n'
  const lines: string[] = []
  for (const e of entries) {
    lines.push(`${e.kind.padEnd(8)} ${e.name}${e.record || (e.kind !== 'volume' && e.kind !== 'snapshot') ? '' : '  (no record: create not finished)'}`)
    lines.push(`         content ${e.content ?? '?'}  size ${formatBytes(e.sizeBytes)}`)
    if (e.cluster !== undefined) {
      const c = e.cluster
      lines.push(`         cluster ${c.pinnedPeers} pinned (min ${c.replicationMin ?? '-'}, max ${c.replicationMax ?? '-'})${c.expireAt !== undefined ? `  expires ${c.expireAt}` : ''}`)
      for (const p of c.peers) lines.push(`           ${(p.peername !== '' ? p.peername : p.peer).padEnd(20)} ${p.status}${p.error !== undefined ? `  ${p.error}` : ''}`)
    }
    for (const n of e.nodes) lines.push(`         node ${n.kuboApi} ${n.unreachable === true ? 'unreachable' : n.pinned ? `holds it${n.pinName !== undefined ? ` (${n.pinName})` : ''}` : '-'}`)
  }
  return lines.join('\n') + '\n'
}

export async function contentCommand (argv: string[]): Promise<number> {
  const [sub, ...rest] = argv
  if (sub !== 'ls') {
    console.error(USAGE)
    return 2
  }
  let values: Record<string, string | boolean | string[] | undefined>
  try {
    values = parseArgs({
      args: rest,
      options: {
        'kubo-api': { type: 'string' },
        'cluster-api': { type: 'string' },
        'cluster-basic-auth-file': { type: 'string' },
        'node-kubo-api': { type: 'string', multiple: true },
        json: { type: 'boolean' }
      },
      strict: true,
      allowPositionals: false
    }).values
  } catch (err) {
    throw new ConfigError([(err as Error).message, USAGE])
  }
  const problems: string[] = []
  const env = process.env
  const kuboApi = validateKuboApi(problems, values['kubo-api'] ?? env.IPFS_CSI_KUBO_API ?? 'http://127.0.0.1:5001')
  const clusterRaw = (values['cluster-api'] as string | undefined) ?? env.IPFS_CSI_CLUSTER_API
  const clusterApi = clusterRaw !== undefined && clusterRaw !== '' ? validateKuboApi(problems, clusterRaw, 'cluster-api') : undefined
  const authFile = (values['cluster-basic-auth-file'] as string | undefined) ?? env.IPFS_CSI_CLUSTER_BASIC_AUTH_FILE
  const nodeKuboApis = ((values['node-kubo-api'] as string[] | undefined) ?? []).map(u => validateKuboApi(problems, u, 'node-kubo-api'))
  if (problems.length > 0) throw new ConfigError(problems)
  const progress = new Progress()
  let entries: ContentEntry[]
  try {
    entries = await contentLs({
      kuboApi, ...(clusterApi !== undefined ? { clusterApi } : {}), ...(authFile !== undefined && authFile !== '' ? { clusterBasicAuthFile: authFile } : {}), nodeKuboApis,
      onProgress: (stage, done, total) => progress.update(total !== undefined ? `${stage}: ${done ?? 0}/${total}` : stage, done === undefined || done === 0)
    }, AbortSignal.timeout(5 * 60_000))
  } finally {
    progress.done()
  }
  process.stdout.write(values.json === true ? JSON.stringify({ entries }, null, 2) + '\n' : formatContentLs(entries))
  return 0
}
