// Pure parts of `make e2e-upstream` (scripts/e2e/upstream.ts): reading Ginkgo's JSON report of the
// upstream storage suite, checking the skip table (test/e2e-storage/skips.json) against it, and
// writing the JUnit report and the README table. No cluster here: test/unit covers it.

/** The specs of our driver in the upstream suite all start with this. */
export const SUITE_PREFIX = 'External Storage [Driver: ipfs.csi.dev]'

export type SpecState = 'passed' | 'failed' | 'skipped'

export interface SpecCase {
  name: string
  state: SpecState
  ms: number
  /** Failure text, or the suite's own reason for a skip at run time. */
  message: string
  /** Skipped by the suite while running (a Skip call), not deselected by --skip. */
  skippedAtRunTime: boolean
}

/** How a listed test is skipped: by the upstream suite at run time, or deselected by our runner (--skip). */
export type SkippedBy = 'suite' | 'runner'
export interface SkipEntry { by: SkippedBy, reason: string }
export type SkipTable = Record<string, SkipEntry>

interface GinkgoFailure { Message?: string, Location?: { FileName?: string, LineNumber?: number } }
interface GinkgoSpec {
  ContainerHierarchyTexts?: string[] | null
  LeafNodeText?: string
  LeafNodeType?: string
  State?: string
  RunTime?: number
  Failure?: GinkgoFailure
}
interface GinkgoSuite { SpecReports?: GinkgoSpec[] | null }

function fullText (s: GinkgoSpec): string {
  return [...(s.ContainerHierarchyTexts ?? []), s.LeafNodeText ?? ''].filter((t) => t !== '').join(' ')
}

function stateOf (s: GinkgoSpec): SpecState {
  if (s.State === 'passed') return 'passed'
  if (s.State === 'skipped' || s.State === 'pending') return 'skipped'
  return 'failed' // failed, panicked, interrupted, aborted, timedout
}

function failureText (f: GinkgoFailure | undefined): string {
  if (f === undefined) return ''
  const at = f.Location?.FileName !== undefined ? `\n${f.Location.FileName}:${f.Location.LineNumber ?? 0}` : ''
  return `${f.Message ?? ''}${at}`
}

/**
 * The driver's specs from Ginkgo's JSON report (every other spec of e2e.test is left out), plus any
 * suite-level node (BeforeSuite, AfterSuite, ReportAfterSuite) that failed: those fail the run too.
 */
export function specCases (report: unknown): { cases: SpecCase[], suiteFailures: SpecCase[] } {
  if (!Array.isArray(report)) throw new Error('Ginkgo JSON report: expected an array of suites')
  const cases: SpecCase[] = []
  const suiteFailures: SpecCase[] = []
  for (const suite of report as GinkgoSuite[]) {
    for (const s of suite.SpecReports ?? []) {
      const state = stateOf(s)
      const ms = Math.round((s.RunTime ?? 0) / 1e6)
      if (s.LeafNodeType !== 'It') {
        if (state === 'failed') suiteFailures.push({ name: `[${s.LeafNodeType ?? 'node'}] ${fullText(s)}`.trim(), state, ms, message: failureText(s.Failure), skippedAtRunTime: false })
        continue
      }
      const name = fullText(s)
      if (!name.startsWith(SUITE_PREFIX)) continue
      // A spec deselected by --focus/--skip has no failure record; a Skip call leaves its message there.
      const message = failureText(s.Failure)
      cases.push({ name, state, ms, message, skippedAtRunTime: state === 'skipped' && (s.Failure?.Message ?? '') !== '' })
    }
  }
  return { cases: cases.sort((a, b) => a.name.localeCompare(b.name)), suiteFailures }
}

/** Validates the shape of test/e2e-storage/skips.json; every problem at once. */
export function parseSkipTable (text: string): SkipTable {
  const raw = JSON.parse(text) as unknown
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('skips.json: expected an object of test name → {by, reason}')
  const problems: string[] = []
  for (const [name, e] of Object.entries(raw as Record<string, unknown>)) {
    const entry = e as Partial<SkipEntry> | null
    if (!name.startsWith(SUITE_PREFIX)) problems.push(`${name}: not a test of ${SUITE_PREFIX}`)
    if (entry === null || typeof entry !== 'object') { problems.push(`${name}: expected {by, reason}`); continue }
    if (entry.by !== 'suite' && entry.by !== 'runner') problems.push(`${name}: "by" must be "suite" or "runner"`)
    if (typeof entry.reason !== 'string' || entry.reason.trim().length < 20) problems.push(`${name}: no reason (at least a sentence)`)
  }
  if (problems.length > 0) throw new Error(`skips.json:\n  ${problems.join('\n  ')}`)
  return raw as SkipTable
}

const escapeRegex = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')

/** Ginkgo --focus for our specs. Ginkgo matches the suite's description, a space, then the spec's text. */
export const SUITE_FOCUS = `(^|\\s)${escapeRegex(SUITE_PREFIX)}`

/** Ginkgo --skip patterns (regular expressions, ORed) for the tests our runner deselects. */
export function runnerSkipPatterns (table: SkipTable): string[] {
  return Object.entries(table).filter(([, e]) => e.by === 'runner').map(([name]) => `(^|\\s)${escapeRegex(name)}$`)
}

/**
 * What differs between the run and the table: a skipped test not listed, a listed test that did not
 * skip (stale), a test listed as skipped by the suite that our runner deselected or the reverse.
 */
export function checkSkips (cases: SpecCase[], table: SkipTable): string[] {
  const problems: string[] = []
  const byName = new Map(cases.map((c) => [c.name, c]))
  for (const c of cases) {
    if (c.state !== 'skipped') continue
    const e = table[c.name]
    if (e === undefined) problems.push(`skipped but not in skips.json: ${c.name}${c.message !== '' ? ` (suite says: ${c.message.split('\n')[0] ?? ''})` : ''}`)
    else if (e.by === 'suite' && !c.skippedAtRunTime) problems.push(`listed as skipped by the suite, but deselected before it ran: ${c.name}`)
    else if (e.by === 'runner' && c.skippedAtRunTime) problems.push(`listed as deselected by the runner, but the suite ran and skipped it: ${c.name}`)
  }
  for (const name of Object.keys(table)) {
    const c = byName.get(name)
    if (c === undefined) problems.push(`stale entry in skips.json (no such test in this e2e.test): ${name}`)
    else if (c.state !== 'skipped') problems.push(`stale entry in skips.json (the test ${c.state}): ${name}`)
  }
  return problems
}

/** Images containerd's CRI was asked to pull (its info line `PullImage "<ref>"`), from its log. */
export function pulledImages (containerdLog: string): string[] {
  return [...new Set([...containerdLog.matchAll(/PullImage \\?"([^"\\]+)\\?"/g)].map((m) => m[1] ?? ''))]
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** JUnit XML: one test case per spec of the driver, skipped ones with the table's reason. */
export function junitXml (suite: string, cases: SpecCase[], table: SkipTable): string {
  const count = (s: SpecState): number => cases.filter((c) => c.state === s).length
  const total = cases.reduce((s, c) => s + c.ms, 0) / 1000
  const body = cases.map((c) => {
    const open = `  <testcase classname="${esc(suite)}" name="${esc(c.name)}" time="${(c.ms / 1000).toFixed(3)}"`
    if (c.state === 'failed') return `${open}>\n    <failure message="${esc(c.message.split('\n')[0] ?? '')}">${esc(c.message)}</failure>\n  </testcase>`
    if (c.state === 'skipped') return `${open}>\n    <skipped message="${esc(table[c.name]?.reason ?? c.message.split('\n')[0] ?? '')}"/>\n  </testcase>`
    return `${open}/>`
  }).join('\n')
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="${esc(suite)}" tests="${cases.length}" failures="${count('failed')}" skipped="${count('skipped')}" errors="0" time="${total.toFixed(3)}">\n${body}\n</testsuite>\n`
}

/** The README's table (between <!-- upstream-skips:start --> and <!-- upstream-skips:end -->). */
export function readmeTable (table: SkipTable): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|')
  const rows = Object.entries(table).sort(([a], [b]) => a.localeCompare(b))
    .map(([name, e]) => `| ${cell(name.slice(SUITE_PREFIX.length).trim())} | ${e.by} | ${cell(e.reason)} |`)
  return ['| skipped test (after `External Storage [Driver: ipfs.csi.dev]`) | skipped by | reason |', '|---|---|---|', ...rows].join('\n')
}

export const README_MARKERS = { start: '<!-- upstream-skips:start -->', end: '<!-- upstream-skips:end -->' } as const

/** The table as the README has it now, or undefined without markers. */
export function readmeTableIn (readme: string): string | undefined {
  const i = readme.indexOf(README_MARKERS.start)
  const j = readme.indexOf(README_MARKERS.end)
  if (i < 0 || j < i) return undefined
  return readme.slice(i + README_MARKERS.start.length, j).trim()
}

// `node dist/scripts/e2e/upstream-report.js`: prints the README table for test/e2e-storage/skips.json.
if (process.argv[1] !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  const { readFileSync } = await import('node:fs')
  const file = new URL('../../../test/e2e-storage/skips.json', import.meta.url)
  console.log(readmeTable(parseSkipTable(readFileSync(file, 'utf8'))))
}
