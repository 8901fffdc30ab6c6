// The preloader's desired state: `{entries: [{name, cid, nodeSelector, priority}]}` from a YAML
// or JSON file (a ConfigMap in Kubernetes). A bad entry is reported with its reason and left
// out; the other entries are still processed.
import { CID } from 'multiformats/cid'
import { parse as parseYaml } from 'yaml'

export interface DesiredEntry {
  name: string
  cid: CID
  /** Every label here must equal the node's label; empty selects every node. */
  nodeSelector: Record<string, string>
  /** Higher is fetched first. */
  priority: number
}

export interface DesiredState {
  entries: DesiredEntry[]
  /** One line per entry left out, saying which and why. */
  problems: string[]
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
/** Kubernetes label key (optional DNS prefix) and value syntax. */
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/
export const MAX_PRIORITY = 1_000_000

/** Parses YAML (a superset of JSON). Throws on a document that is not `{entries: [...]}`. */
export function parseDesired (text: string): DesiredState {
  let doc: unknown
  try {
    doc = parseYaml(text, { maxAliasCount: 100 })
  } catch (err) {
    throw new Error(`desired state is neither YAML nor JSON: ${(err as Error).message.split('\n')[0] ?? ''}`)
  }
  if (doc === null || doc === undefined) return { entries: [], problems: [] } // an empty file
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('desired state must be a mapping with an `entries` list')
  const rawEntries = (doc as Record<string, unknown>).entries
  if (rawEntries === undefined || rawEntries === null) return { entries: [], problems: [] }
  if (!Array.isArray(rawEntries)) throw new Error('`entries` must be a list')
  const entries: DesiredEntry[] = []
  const problems: string[] = []
  const names = new Set<string>()
  rawEntries.forEach((raw, i) => {
    const where = typeof (raw as { name?: unknown })?.name === 'string' ? `entry ${i} (${JSON.stringify((raw as { name: string }).name)})` : `entry ${i}`
    const why = validateEntry(raw)
    if (typeof why === 'string') { problems.push(`${where}: ${why}`); return }
    if (names.has(why.name)) { problems.push(`${where}: duplicate name (the first entry with this name is used)`); return }
    names.add(why.name)
    entries.push(why)
  })
  return { entries, problems }
}

/** The entry, or the reason it is invalid. */
function validateEntry (raw: unknown): DesiredEntry | string {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return 'must be a mapping'
  const r = raw as Record<string, unknown>
  const unknown = Object.keys(r).filter(k => !['name', 'cid', 'nodeSelector', 'priority'].includes(k))
  if (unknown.length > 0) return `unknown field(s) ${unknown.join(', ')}`
  if (typeof r.name !== 'string' || !NAME.test(r.name)) return 'name must be 1-128 characters of letters, digits, ".", "_" or "-", starting with a letter or digit'
  if (typeof r.cid !== 'string') return 'cid must be a string'
  let cid: CID
  try {
    cid = CID.parse(r.cid.replace(/^\/ipfs\//, ''))
  } catch (err) {
    return `cid ${JSON.stringify(r.cid)} is not a valid CID: ${(err as Error).message}`
  }
  const nodeSelector: Record<string, string> = {}
  if (r.nodeSelector !== undefined && r.nodeSelector !== null) {
    if (typeof r.nodeSelector !== 'object' || Array.isArray(r.nodeSelector)) return 'nodeSelector must be a mapping of label to value'
    for (const [k, v] of Object.entries(r.nodeSelector)) {
      if (!LABEL_KEY.test(k)) return `nodeSelector key ${JSON.stringify(k)} is not a valid label key`
      const value = typeof v === 'number' || typeof v === 'boolean' ? String(v) : v
      if (typeof value !== 'string' || !LABEL_VALUE.test(value)) return `nodeSelector value for ${JSON.stringify(k)} must be a valid label value`
      nodeSelector[k] = value
    }
  }
  let priority = 0
  if (r.priority !== undefined && r.priority !== null) {
    if (typeof r.priority !== 'number' || !Number.isSafeInteger(r.priority) || Math.abs(r.priority) > MAX_PRIORITY) return `priority must be an integer between -${MAX_PRIORITY} and ${MAX_PRIORITY}`
    priority = r.priority
  }
  return { name: r.name, cid, nodeSelector, priority }
}

/** `k=v,k2=v2` → labels; problems are appended. */
export function parseLabels (raw: string, problems: string[]): Record<string, string> {
  const labels: Record<string, string> = {}
  for (const part of raw.split(',').map(s => s.trim()).filter(s => s !== '')) {
    const eq = part.indexOf('=')
    const k = eq < 0 ? part : part.slice(0, eq)
    const v = eq < 0 ? '' : part.slice(eq + 1)
    if (eq < 0 || !LABEL_KEY.test(k) || !LABEL_VALUE.test(v)) { problems.push(`--node-labels: ${JSON.stringify(part)} is not key=value with a valid label key and value`); continue }
    labels[k] = v
  }
  return labels
}

export function selects (selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v)
}
