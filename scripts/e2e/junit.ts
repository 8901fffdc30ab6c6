// JUnit XML for CI: one test case per e2e workload.
import { writeFileSync } from 'node:fs'

export interface CaseResult { name: string, ms: number, detail?: string, failure?: string }

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

export function junitXml (suite: string, cases: CaseResult[]): string {
  const failures = cases.filter((c) => c.failure !== undefined).length
  const total = cases.reduce((s, c) => s + c.ms, 0) / 1000
  const body = cases.map((c) => {
    const open = `  <testcase classname="${esc(suite)}" name="${esc(c.name)}" time="${(c.ms / 1000).toFixed(3)}"`
    if (c.failure !== undefined) return `${open}>\n    <failure message="${esc(c.failure.split('\n')[0] ?? '')}">${esc(c.failure)}</failure>\n  </testcase>`
    return c.detail !== undefined ? `${open}>\n    <system-out>${esc(c.detail)}</system-out>\n  </testcase>` : `${open}/>`
  }).join('\n')
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="${esc(suite)}" tests="${cases.length}" failures="${failures}" errors="0" time="${total.toFixed(3)}">\n${body}\n</testsuite>\n`
}

export function writeJunit (file: string, suite: string, cases: CaseResult[]): void {
  writeFileSync(file, junitXml(suite, cases))
}
