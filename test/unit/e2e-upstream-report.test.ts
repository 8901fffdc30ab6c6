import test from 'ava'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SUITE_FOCUS, SUITE_PREFIX, checkSkips, junitXml, parseSkipTable, pulledImages, readmeTable, readmeTableIn, runnerSkipPatterns, specCases, type SkipTable } from '../../scripts/e2e/upstream-report.js'

// `make e2e-upstream` judges the upstream suite by these functions; the cluster run itself is not
// part of `make test`, so the README table and skips.json are kept in step here.
const repo = fileURLToPath(new URL('../../..', import.meta.url))

const spec = (texts: string[], leaf: string, State: string, Failure?: { Message: string }, LeafNodeType = 'It'): Record<string, unknown> =>
  ({ ContainerHierarchyTexts: texts, LeafNodeText: leaf, LeafNodeType, State, RunTime: 2_500_000_000, ...(Failure !== undefined ? { Failure } : {}) })
const ours = (pattern: string, leaf: string): [string[], string] => [[SUITE_PREFIX, `[Testpattern: ${pattern}]`, 'suite'], leaf]
const report = [{
  SpecReports: [
    spec(...ours('Dynamic PV (default fs)', 'should store data'), 'passed'),
    spec(...ours('Dynamic PV (default fs)', 'should resize'), 'skipped', { Message: 'Driver does not support it' }),
    spec(...ours('Dynamic PV (default fs)', 'should stop kubelet [Disruptive]'), 'skipped'),
    spec(...ours('Dynamic PV (default fs)', 'should clone'), 'failed', { Message: 'timed out waiting for PVC' }),
    spec(['External Storage [Driver: other.example]'], 'should store data', 'skipped'),
    spec(['[sig-network] DNS'], 'should resolve', 'skipped'),
    spec([], '', 'failed', { Message: 'nodes not ready' }, 'SynchronizedBeforeSuite')
  ]
}]
const name = (leaf: string): string => `${SUITE_PREFIX} [Testpattern: Dynamic PV (default fs)] suite ${leaf}`

test('only the driver\'s specs are read from the report, with their state, run-time skips told apart, and a failed suite node kept', (t) => {
  const { cases, suiteFailures } = specCases(report)
  t.deepEqual(cases.map((c) => [c.name, c.state, c.skippedAtRunTime]), [
    [name('should clone'), 'failed', false],
    [name('should resize'), 'skipped', true],
    [name('should stop kubelet [Disruptive]'), 'skipped', false],
    [name('should store data'), 'passed', false]
  ])
  t.is(cases[3]?.ms, 2500)
  t.is(suiteFailures.length, 1)
  t.regex(suiteFailures[0]?.message ?? '', /nodes not ready/)
})

test('the skip check reports an unlisted skip, a stale entry and the wrong "by", and passes a matching table', (t) => {
  const { cases } = specCases(report)
  const good: SkipTable = {
    [name('should resize')]: { by: 'suite', reason: 'no resizer sidecar can be built here' },
    [name('should stop kubelet [Disruptive]')]: { by: 'runner', reason: 'needs SSH to the node to stop kubelet' }
  }
  t.deepEqual(checkSkips(cases, good), [])
  const problems = checkSkips(cases, {
    [name('should resize')]: { by: 'runner', reason: 'listed with the wrong origin on purpose' },
    [name('should store data')]: { by: 'suite', reason: 'listed although it passes, stale entry' },
    [`${SUITE_PREFIX} gone`]: { by: 'suite', reason: 'a test this e2e.test does not have' }
  })
  t.is(problems.length, 4, problems.join('\n'))
  t.true(problems.some((p) => p.startsWith('skipped but not in skips.json') && p.includes('[Disruptive]')))
  t.true(problems.some((p) => p.startsWith('listed as deselected by the runner, but the suite ran')))
  t.true(problems.some((p) => p.includes('(the test passed)')))
  t.true(problems.some((p) => p.includes('no such test')))
})

test('runner skips become anchored, escaped --skip patterns that match their test and nothing else', (t) => {
  const table: SkipTable = { [name('should stop kubelet [Disruptive]')]: { by: 'runner', reason: 'needs SSH to the node to stop kubelet' } }
  const [re] = runnerSkipPatterns(table).map((s) => new RegExp(s))
  // Ginkgo matches the suite's description, a space, then the spec's text.
  const suite = 'Kubernetes e2e suite '
  t.true(re?.test(`${suite}${name('should stop kubelet [Disruptive]')}`))
  t.false(re?.test(`${suite}${name('should stop kubelet D')}`))
  t.false(re?.test(`${suite}${name('should stop kubelet [Disruptive]')} again`))
  t.true(new RegExp(SUITE_FOCUS).test(`${suite}${name('should store data')}`))
  t.false(new RegExp(SUITE_FOCUS).test(`${suite}External Storage [Driver: other.example] x`))
})

test('skips.json entries need a known origin and a reason', (t) => {
  t.throws(() => parseSkipTable(JSON.stringify({ [name('x')]: { by: 'suite', reason: '' } })), { message: /no reason/ })
  t.throws(() => parseSkipTable(JSON.stringify({ [name('x')]: { by: 'me', reason: 'a reason long enough to pass' } })), { message: /"by" must be/ })
  t.throws(() => parseSkipTable(JSON.stringify({ 'Other suite x': { by: 'suite', reason: 'a reason long enough to pass' } })), { message: /not a test of/ })
})

test('the JUnit report counts failures and skips and carries the reasons', (t) => {
  const { cases } = specCases(report)
  const xml = junitXml('e2e-upstream', cases, { [name('should resize')]: { by: 'suite', reason: 'no resizer & no "sidecar"' } })
  t.regex(xml, /tests="4" failures="1" skipped="2"/)
  t.regex(xml, /<failure message="timed out waiting for PVC">/)
  t.regex(xml, /<skipped message="no resizer &amp; no &quot;sidecar&quot;"\/>/)
})

test('test/e2e-storage/skips.json is valid and the README table shows exactly it', (t) => {
  const table = parseSkipTable(readFileSync(`${repo}/test/e2e-storage/skips.json`, 'utf8'))
  const readme = readFileSync(`${repo}/README.md`, 'utf8')
  t.is(readmeTableIn(readme), readmeTable(table), 'README upstream-skips table differs from test/e2e-storage/skips.json: paste readmeTable() output')
})

test('a pull asked of containerd is found in its log, each image once; a log without one gives none', (t) => {
  const log = [
    'time="2026-12-06T03:27:12Z" level=info msg="RunPodSandbox for &PodSandboxMetadata{Name:pod-1,}"',
    'time="2026-12-06T03:27:13Z" level=info msg="PullImage \\"registry.k8s.io/sig-storage/hello-populator:v1.0.1\\""',
    'time="2026-12-06T03:27:14Z" level=error msg="PullImage \\"registry.k8s.io/sig-storage/hello-populator:v1.0.1\\" failed" error="dial tcp: lookup registry.k8s.io"'
  ].join('\n')
  t.deepEqual(pulledImages(log), ['registry.k8s.io/sig-storage/hello-populator:v1.0.1'])
  t.deepEqual(pulledImages(log.split('\n')[0] ?? ''), [])
})
