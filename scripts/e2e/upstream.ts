// `make e2e-upstream`: the upstream Kubernetes storage e2e suite (k8s.io/kubernetes v1.37.2
// test/e2e, `External Storage [Driver: ipfs.csi.dev]`) against deploy/overlays/e2e in the
// single-node cluster of `make e2e`. Starts the cluster, imports our images and the suite's test
// images (built here, never pulled), adds a small tree to the storage Kubo for the inline volumes,
// runs e2e.test through the ginkgo CLI with test/e2e-storage/driver.yaml, writes
// test-results/e2e-upstream.xml (our specs only), checks test/e2e-storage/skips.json against
// what skipped, and always tears down. Logs of a failed run stay under test-results/e2e-upstream/.
//   node dist/scripts/e2e/upstream.js [--procs N] [--focus REGEX] [--keep]
// Run inside the cluster's own network namespace, under /tmp/ipfs-csi-e2e.lock (the Makefile does).
import { spawn } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { type ClusterPaths, kubectl } from './cluster.js'
import { bringUp, tearDown, timed, type Phase } from './run.js'
import { addContent } from './workloads.js'
import { buildAndImportUpstreamImages } from './upstream-images.js'
import { SUITE_FOCUS, checkSkips, junitXml, parseSkipTable, pulledImages, runnerSkipPatterns, specCases, type SpecCase } from './upstream-report.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const RESULTS = path.join(REPO, 'test-results')
const LOG_DIR = path.join(RESULTS, 'e2e-upstream')
const TOOLS_BIN = path.join(REPO, '.tools/bin')
const DRIVER_YAML = path.join(REPO, 'test/e2e-storage/driver.yaml')
const SKIPS = path.join(REPO, 'test/e2e-storage/skips.json')
/** The whole suite's deadline inside ginkgo; the runner kills it a little later. */
const SUITE_TIMEOUT_MIN = 75

const started = Date.now()
const log = (m: string): void => { console.error(`[e2e-upstream ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${m}`) }

/** driver.yaml with the content CID of the inline volumes filled in, written under the cluster root. */
function renderDriver (p: ClusterPaths, contentCid: string): string {
  const text = readFileSync(DRIVER_YAML, 'utf8')
  if (!text.includes('${CONTENT_CID}')) throw new Error(`${DRIVER_YAML} has no \${CONTENT_CID} for the inline volumes`)
  const out = path.join(p.root, 'e2e-storage-driver.yaml')
  writeFileSync(out, text.replaceAll('${CONTENT_CID}', contentCid))
  return out
}

/** Image pulls containerd was asked for: any one means a test pod wanted a registry. */
function pullAttempts (p: ClusterPaths): string[] {
  return pulledImages(readFileSync(path.join(p.logs, 'containerd.log'), 'utf8'))
}

async function runGinkgo (p: ClusterPaths, driverFile: string, procs: number, focus: string, skips: string[], jsonReport: string, logFile: string): Promise<number | string> {
  const args = [
    `--procs=${procs}`, `--timeout=${SUITE_TIMEOUT_MIN}m`, '--no-color', `--json-report=${jsonReport}`,
    '--poll-progress-after=5m', `--focus=${focus}`, ...skips.map((s) => `--skip=${s}`),
    path.join(TOOLS_BIN, 'e2e.test'), '--',
    `--kubeconfig=${p.kubeconfig}`, '--provider=skeleton', `--storage.testdriver=${driverFile}`, `--repo-root=${REPO}`,
    '--node-os-distro=debian', '--allowed-not-ready-nodes=0', '--minStartupPods=0'
  ]
  writeFileSync(logFile, `ginkgo ${args.join(' ')}\n\n`)
  const out = openSync(logFile, 'a')
  const child = spawn(path.join(TOOLS_BIN, 'ginkgo'), args, {
    cwd: RESULTS, detached: true, stdio: ['ignore', out, out],
    env: { ...process.env, PATH: `${TOOLS_BIN}:${process.env.PATH ?? ''}`, KUBECONFIG: p.kubeconfig }
  })
  closeSync(out)
  // Ginkgo stops the suite at its own --timeout; this is only for a ginkgo that hangs past it.
  const killer = setTimeout(() => { log('ginkgo did not stop after its timeout: killing it'); try { process.kill(-(child.pid ?? 0), 'SIGKILL') } catch {} }, (SUITE_TIMEOUT_MIN + 10) * 60_000)
  return await new Promise((resolve) => {
    child.on('exit', (code, signal) => { clearTimeout(killer); resolve(code ?? signal ?? 'unknown') })
    child.on('error', (err) => { clearTimeout(killer); resolve(err.message) })
  })
}

async function main (): Promise<number> {
  const { values } = parseArgs({ options: { procs: { type: 'string', default: '4' }, focus: { type: 'string' }, keep: { type: 'boolean', default: false } } })
  const procs = Number(values.procs)
  if (!Number.isInteger(procs) || procs < 1 || procs > 16) throw new Error(`--procs: expected 1..16, got ${values.procs}`)
  for (const bin of ['e2e.test', 'ginkgo', 'agnhost']) {
    if (!existsSync(path.join(TOOLS_BIN, bin))) throw new Error(`${bin} missing from .tools/bin: run make setup-e2e-upstream`)
  }
  const table = parseSkipTable(readFileSync(SKIPS, 'utf8'))
  rmSync(LOG_DIR, { recursive: true, force: true })
  mkdirSync(LOG_DIR, { recursive: true })
  const phases: Phase[] = []
  let p: ClusterPaths | undefined
  let failed = false
  const problems: string[] = []
  let cases: SpecCase[] = []
  const contentDir = mkdtempSync(path.join(tmpdir(), 'ipfs-csi-e2e-upstream-'))
  try {
    // The suite makes a namespace per spec (ephemeral-NNNN, …) and its inline pods mount the CID
    // added below: this test cluster lets any namespace mount any CID inline. The policy itself
    // is tested by `make e2e` (the overlay's: one namespace) and test/unit/inline-policy.
    const up = await bringUp(phases, { inlinePolicy: 'allow:\n  - namespaces: ["*"]\n    cids: ["*"]\n' })
    p = up.p
    const cluster = p
    await timed(phases, 'upstream test images built and imported', async () => {
      await buildAndImportUpstreamImages({ workDir: path.join(cluster.root, 'upstream-images'), containerdSocket: cluster.containerdSocket, toolsBin: TOOLS_BIN, log })
    })
    // The inline ephemeral volumes' content: a small tree in the storage Kubo.
    const content = addContent(REPO, path.join(contentDir, 'inline'), up.driverToken, { 'hello.txt': 4096, 'data/blob.bin': 1 << 20 })
    log(`inline volume content ${content.rootCid}`)
    const driverFile = renderDriver(p, content.rootCid)
    const jsonReport = path.join(LOG_DIR, 'ginkgo-report.json')
    const focus = values.focus ?? SUITE_FOCUS
    log(`running e2e.test (${procs} processes; output in ${path.relative(REPO, LOG_DIR)}/ginkgo.log)`)
    const exit = await timed(phases, 'upstream suite (ginkgo)', async () => await runGinkgo(cluster, driverFile, procs, focus, runnerSkipPatterns(table), jsonReport, path.join(LOG_DIR, 'ginkgo.log')))
    if (!existsSync(jsonReport)) throw new Error(`ginkgo wrote no JSON report (exit ${exit}); see ${path.join(LOG_DIR, 'ginkgo.log')}`)
    const parsed = specCases(JSON.parse(readFileSync(jsonReport, 'utf8')))
    cases = parsed.cases
    for (const f of [...parsed.suiteFailures, ...cases.filter((c) => c.state === 'failed')]) {
      problems.push(`FAILED ${f.name}\n    ${f.message.split('\n').slice(0, 6).join('\n    ')}`)
    }
    if (!cases.some((c) => c.state === 'passed')) problems.push(`no spec of the driver passed (${cases.length} in the report)`)
    if (values.focus === undefined) problems.push(...checkSkips(cases, table))
    if (exit !== 0 && problems.length === 0) problems.push(`ginkgo exited with ${exit}`)
    const pulls = pullAttempts(p)
    if (pulls.length > 0) problems.push(`test pods asked containerd to pull (no registry here; build them in scripts/e2e/upstream-images.ts): ${pulls.join(', ')}`)
    const leftover = kubectl(p, ['get', 'pv', '-o', 'jsonpath={range .items[?(@.spec.csi.driver=="ipfs.csi.dev")]}{.metadata.name}{" "}{end}']).trim()
    if (leftover !== '') log(`PersistentVolumes of the driver left after the suite: ${leftover}`)
    failed = problems.length > 0
  } catch (err) {
    failed = true
    problems.push(`set-up failed: ${(err as Error).stack ?? String(err)}`)
  } finally {
    try {
      await timed(phases, 'teardown', async () => await tearDown(p, failed, values.keep === true, LOG_DIR))
    } catch (err) {
      failed = true
      problems.push(`teardown: ${(err as Error).message}`)
    }
    rmSync(contentDir, { recursive: true, force: true })
  }
  writeFileSync(path.join(RESULTS, 'e2e-upstream.xml'), junitXml('e2e-upstream', cases, table))
  const count = (s: string): number => cases.filter((c) => c.state === s).length
  const summary = [
    '', 'e2e-upstream durations:',
    ...phases.map((ph) => `  ${(ph.ms / 1000).toFixed(1).padStart(7)} s  ${ph.name}`),
    `  ${((Date.now() - started) / 1000).toFixed(1).padStart(7)} s  total`,
    '', ...problems.map((m) => `  ${m}`),
    `e2e-upstream: ${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped`, ''
  ].join('\n')
  console.log(summary)
  writeFileSync(path.join(RESULTS, 'e2e-upstream-durations.txt'), summary)
  return failed ? 1 : 0
}

main().then((code) => process.exit(code), (err: Error) => { console.error(err); process.exit(1) })
