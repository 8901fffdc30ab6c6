// Inline ephemeral volume policy files for tests that run the node service (`--inline-policy-file`).
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

/** A rule of the policy file (node-plugin/inline-policy.ts). */
export interface InlineRuleDoc { namespaces: string[], cids?: string[], ipns?: string[], models?: string[] }

/** Every namespace, every content: for tests of other things than the policy. */
export const ALLOW_ALL: InlineRuleDoc[] = [{ namespaces: ['*'], cids: ['*'], ipns: ['*'], models: ['*'] }]

/** A fresh path for a policy file (nothing written yet) in a temp dir of its own. */
export function policyPath (): string {
  return path.join(mkdtempSync(path.join(tmpdir(), 'ipfs-csi-inline-policy-')), 'policy.yaml')
}

/** Writes the rules (JSON is YAML) the way kubelet updates a ConfigMap: a new file renamed into place. */
export function writePolicy (file: string, rules: InlineRuleDoc[]): string {
  writeFileSync(`${file}.new`, JSON.stringify({ allow: rules }))
  renameSync(`${file}.new`, file)
  return file
}
