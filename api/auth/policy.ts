// Authorization: a policy file (a ConfigMap) maps service accounts to scopes. It is re-read when
// it changes; a broken new version is refused (logged) and the last good one stays in force.
import { readFileSync, statSync } from 'node:fs'
import YAML from 'yaml'
import { CsiError, Code } from '../../driver/errors.js'

export const SCOPES = ['pins:read', 'pins:write', 'models:write'] as const
export type Scope = (typeof SCOPES)[number]

/** Without a policy file every service account may read and write its own namespace's pins. */
export const DEFAULT_SCOPES: Scope[] = ['pins:read', 'pins:write']

const KEY = /^system:serviceaccount:([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?):(\*|[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)$/

export interface PolicyDoc {
  /** `system:serviceaccount:NS:NAME` or `system:serviceaccount:NS:*` → scopes */
  serviceAccounts: Record<string, Scope[]>
}

/** Parses and checks a policy; every problem is reported together. */
export function parsePolicy (text: string): PolicyDoc {
  let doc: unknown
  try { doc = YAML.parse(text, { maxAliasCount: 10 }) } catch (err) { throw new CsiError(Code.INVALID_ARGUMENT, `policy is not YAML/JSON: ${(err as Error).message}`) }
  const sas = (doc as { serviceAccounts?: unknown } | null)?.serviceAccounts
  if (sas === null || typeof sas !== 'object' || Array.isArray(sas)) throw new CsiError(Code.INVALID_ARGUMENT, 'policy must have a serviceAccounts map')
  const problems: string[] = []
  const out: Record<string, Scope[]> = {}
  for (const [k, v] of Object.entries(sas as Record<string, unknown>)) {
    if (!KEY.test(k)) problems.push(`${JSON.stringify(k)} is not system:serviceaccount:NS:NAME (or NS:*)`)
    if (!Array.isArray(v) || !v.every(s => (SCOPES as readonly string[]).includes(s))) problems.push(`${JSON.stringify(k)}: scopes must be a list among ${SCOPES.join(', ')}`)
    else out[k] = [...new Set(v as Scope[])]
  }
  if (problems.length > 0) throw new CsiError(Code.INVALID_ARGUMENT, `policy: ${problems.join('; ')}`)
  return { serviceAccounts: out }
}

export class Policy {
  private doc?: PolicyDoc
  private stamp = ''
  private checkedAt = 0

  /** Reads the file now: a broken policy at start-up is a configuration error. */
  constructor (private readonly file: string | undefined, private readonly onError: (msg: string) => void = () => {}) {
    if (file !== undefined) this.load(true)
  }

  private load (strict: boolean): void {
    if (this.file === undefined) return
    try {
      const s = statSync(this.file)
      const stamp = `${s.mtimeMs}:${s.size}:${s.ino}`
      if (stamp === this.stamp) return
      this.doc = parsePolicy(readFileSync(this.file, 'utf8'))
      this.stamp = stamp
    } catch (err) {
      if (strict) throw err
      this.onError(`policy ${this.file} not reloaded: ${(err as Error).message}`)
    }
  }

  /** Scopes of a service account: its own entry plus its namespace's wildcard entry. */
  scopesFor (subject: string, namespace: string): Set<Scope> {
    if (this.file === undefined) return new Set(DEFAULT_SCOPES)
    // ConfigMap updates swap a symlink: a cheap stat at most every 2 s notices them.
    if (Date.now() - this.checkedAt > 2000) { this.checkedAt = Date.now(); this.load(false) }
    const sas = this.doc?.serviceAccounts ?? {}
    return new Set([...(sas[subject] ?? []), ...(sas[`system:serviceaccount:${namespace}:*`] ?? [])])
  }
}
