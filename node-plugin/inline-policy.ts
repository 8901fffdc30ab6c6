// Which namespaces may mount what as a CSI inline ephemeral volume. Inline volumes skip the
// PVC/StorageClass gate an administrator controls, so they are opt-in: without a policy file
// every inline volume is refused, and with one, a pod's namespace must be named by a rule that
// also names the content (a root CID, an IPNS/DNSLink name, a model of the API's index).
//
// The file (a ConfigMap mounted into the node plugin, `--inline-policy-file`) is YAML or JSON:
//
//   allow:
//     - namespaces: [ml-serving]          # "*": any namespace
//       cids: [bafy...]                   # the volume's root CID (any path below it); "*": any
//       ipns: [models.example.com]        # DNSLink domains or IPNS keys; "*": any
//       models: [llama, "bert:prod"]      # a name (any tag or version) or name:tag|version; "*": any
//
// It is read again whenever it changes (kubelet swaps a ConfigMap's files in place), checked at
// each inline publish. A file that is missing or invalid refuses everything (fail closed), with
// the reason in the error. Every refusal is PERMISSION_DENIED.
import { readFile, stat } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { CTX } from '../driver/constants.js'
import { Code, CsiError } from '../driver/errors.js'
import type { Logger } from '../driver/logger.js'
import { parseCid, parseIpnsName } from '../driver/content-ref.js'
import { parseModelRef } from '../driver/model-records.js'
import type { VolumeSource } from './volume-source.js'

/** The volume context key of the pod's namespace (kubelet sets it: CSIDriver podInfoOnMount). */
export const POD_NAMESPACE_KEY = CTX.podNamespace

const ANY = '*'
const MAX_POLICY_BYTES = 1024 * 1024
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/

export interface InlineRule {
  namespaces: Set<string>
  /** CIDv1 strings (CIDv0 and v1 of the same content match). */
  cids: Set<string>
  /** `/ipns/<name>` as parseIpnsName gives it. */
  ipns: Set<string>
  /** `name` (any ref) or `name:ref`. */
  models: Set<string>
}

export interface InlineRules { rules: InlineRule[] }

const cidKey = (s: string, what: string): string => parseCid(s, what).toV1().toString()

/** Parses and validates a policy; every problem is reported together. */
export function parseInlinePolicy (text: string): InlineRules {
  const problems: string[] = []
  let doc: unknown
  try {
    doc = parseYaml(text, { maxAliasCount: 0 })
  } catch (err) {
    throw new Error(`not YAML/JSON: ${(err as Error).message.split('\n')[0] ?? ''}`)
  }
  if (doc === null || doc === undefined) return { rules: [] } // an empty file allows nothing
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('the policy must be a mapping with an `allow` list')
  const unknown = Object.keys(doc).filter(k => k !== 'allow')
  if (unknown.length > 0) problems.push(`unknown keys ${unknown.join(', ')} (only \`allow\`)`)
  const allow = (doc as { allow?: unknown }).allow ?? []
  if (!Array.isArray(allow)) throw new Error('`allow` must be a list of rules')
  const rules: InlineRule[] = []
  allow.forEach((raw: unknown, i) => {
    const at = `allow[${i}]`
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) { problems.push(`${at} must be a mapping`); return }
    const r = raw as Record<string, unknown>
    const extra = Object.keys(r).filter(k => !['namespaces', 'cids', 'ipns', 'models'].includes(k))
    if (extra.length > 0) problems.push(`${at}: unknown keys ${extra.join(', ')}`)
    const list = (key: string, norm: (s: string) => string): Set<string> => {
      const v = r[key] ?? []
      const out = new Set<string>()
      if (!Array.isArray(v)) { problems.push(`${at}.${key} must be a list`); return out }
      for (const item of v) {
        if (typeof item !== 'string' || item === '') { problems.push(`${at}.${key}: ${JSON.stringify(item)} is not a non-empty string`); continue }
        if (item === ANY) { out.add(ANY); continue }
        try { out.add(norm(item)) } catch (err) { problems.push(`${at}.${key}: ${(err as Error).message}`) }
      }
      return out
    }
    const rule: InlineRule = {
      namespaces: list('namespaces', (s) => { if (!NAMESPACE.test(s)) throw new Error(`${JSON.stringify(s)} is not a namespace name`); return s }),
      cids: list('cids', (s) => cidKey(s, 'cid')),
      ipns: list('ipns', parseIpnsName),
      models: list('models', (s) => {
        const ref = parseModelRef(s)
        return s.includes(':') ? `${ref.name}:${ref.ref}` : ref.name
      })
    }
    if (rule.namespaces.size === 0) problems.push(`${at} names no namespace`)
    rules.push(rule)
  })
  if (problems.length > 0) throw new Error(problems.join('; '))
  return { rules }
}

/** Does some rule allow `namespace` to mount `source` inline? */
export function allows (policy: InlineRules, namespace: string, source: VolumeSource): boolean {
  if (source.kind !== 'content') return false
  return policy.rules.some((r) => {
    if (!r.namespaces.has(ANY) && !r.namespaces.has(namespace)) return false
    if (source.ref !== undefined) return r.cids.has(ANY) || r.cids.has(source.ref.cid.toV1().toString())
    if (source.ipns !== undefined) return r.ipns.has(ANY) || r.ipns.has(source.ipns)
    const { name, ref } = source.model
    return r.models.has(ANY) || r.models.has(name) || r.models.has(`${name}:${ref}`)
  })
}

const denied = (why: string): CsiError => new CsiError(Code.PERMISSION_DENIED, `inline ephemeral volume refused: ${why}`)

/** The policy file, read again when it changes; a check refuses unless the current policy allows. */
export class InlinePolicy {
  private loaded: { key: string, rules?: InlineRules, error?: string } | undefined

  constructor (private readonly file: string | undefined, private readonly log: Logger) {}

  /** Throws PERMISSION_DENIED unless the policy lets the pod's namespace mount `source` inline. */
  async check (source: VolumeSource, namespace: string | undefined): Promise<void> {
    if (this.file === undefined) throw denied('this node has no inline volume policy (--inline-policy-file); use a PersistentVolumeClaim')
    const policy = await this.current()
    if (policy.rules === undefined) throw denied(`the inline volume policy ${this.file} cannot be used: ${policy.error ?? 'unknown error'}`)
    if (namespace === undefined || namespace === '') throw denied(`kubelet passed no ${POD_NAMESPACE_KEY} (is podInfoOnMount set on the CSIDriver?)`)
    if (!allows(policy.rules, namespace, source)) throw denied(`namespace ${JSON.stringify(namespace)} may not mount this content inline (policy ${this.file})`)
  }

  private async current (): Promise<{ rules?: InlineRules, error?: string }> {
    const file = this.file as string
    let key: string
    try {
      const st = await stat(file)
      key = `${st.ino}:${st.size}:${st.mtimeMs}`
      if (st.size > MAX_POLICY_BYTES) return this.remember(key, undefined, `larger than ${MAX_POLICY_BYTES} bytes`)
    } catch (err) {
      return this.remember('missing', undefined, `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    if (this.loaded?.key === key) return this.loaded
    try {
      return this.remember(key, parseInlinePolicy(await readFile(file, 'utf8')))
    } catch (err) {
      return this.remember(key, undefined, (err as Error).message)
    }
  }

  private remember (key: string, rules: InlineRules | undefined, error?: string): { rules?: InlineRules, error?: string } {
    if (this.loaded?.key !== key) {
      if (rules !== undefined) this.log.info('inline volume policy loaded', { file: this.file, rules: rules.rules.length })
      else this.log.error('inline volume policy refused: every inline volume is denied until it is fixed', { file: this.file, error })
    }
    this.loaded = { key, ...(rules !== undefined ? { rules } : {}), ...(error !== undefined ? { error } : {}) }
    return this.loaded
  }
}
