// The real csi-sanity (pinned in scripts/setup.sh) against `ipfs-csi serve --mode all` backed by
// a real Kubo. 0 failures; every skipped spec must be listed with its reason in
// test/sanity/skips.json and in the README table, so a new skip cannot slip in unexplained.
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { DriverProcess } from '../helpers/driver-process.js'
import { CSI_SANITY_BIN, RESULTS_DIR, ROOT, logFile } from '../helpers/repo.js'
import { parseJunit } from '../helpers/junit.js'

const execFileP = promisify(execFile)

test('csi-sanity passes against the driver and a real Kubo', async (t) => {
  const kubo = await KuboDaemon.start({ name: 'sanity' })
  t.teardown(async () => { await kubo.dispose() })
  const driver = await DriverProcess.start({ kuboApi: kubo.apiUrl, mode: 'all', name: 'sanity' })
  t.teardown(async () => { await driver.stop() })
  await mkdir(RESULTS_DIR, { recursive: true })
  const junit = path.join(RESULTS_DIR, 'csi-sanity.xml')
  // A report left by an earlier run must never be read as this run's.
  await rm(junit, { force: true })
  // csi-sanity creates (and removes) the two leaf dirs itself; their parents are kubelet's.
  const stagingDir = path.join(driver.kubeletDir, 'plugins/sanity/staging')
  const mountDir = path.join(driver.kubeletDir, 'pods/sanity/mount')
  await mkdir(path.dirname(stagingDir), { recursive: true })
  await mkdir(path.dirname(mountDir), { recursive: true })
  const args = [
    `--csi.endpoint=unix://${driver.socketPath}`,
    `--csi.stagingdir=${stagingDir}`,
    `--csi.mountdir=${mountDir}`,
    '--csi.testvolumeaccesstype=mount',
    `--csi.testvolumesize=${64 * 1024 * 1024}`,
    `--csi.testvolumeexpandsize=${128 * 1024 * 1024}`,
    `--ginkgo.junit-report=${junit}`,
    '--ginkgo.no-color',
    '--ginkgo.timeout=20m'
  ]
  let output = ''
  let exitCode: number | string = 0
  try {
    const r = await execFileP(CSI_SANITY_BIN, args, { maxBuffer: 64 * 1024 * 1024, timeout: 20 * 60_000 })
    output = r.stdout + r.stderr
  } catch (err) {
    const e = err as { stdout?: string, stderr?: string, code?: number | string, signal?: string }
    output = (e.stdout ?? '') + (e.stderr ?? '')
    exitCode = e.code ?? e.signal ?? 'unknown'
  }
  await writeFile(logFile('csi-sanity-output'), output)
  const xml = await readFile(junit, 'utf8').catch(() => undefined)
  if (xml === undefined) t.fail(`csi-sanity wrote no report (exit ${exitCode}); output in ${logFile('csi-sanity-output')}:\n${output.slice(-2000)}`)
  const report = parseJunit(xml ?? '')
  const failed = report.filter(c => c.status === 'failed')
  const passed = report.filter(c => c.status === 'passed')
  const skipped = report.filter(c => c.status === 'skipped')
  t.log(`csi-sanity: ${passed.length} passed, ${failed.length} failed, ${skipped.length} skipped`)
  for (const f of failed) t.log(`FAILED: ${f.name}\n${f.message.slice(0, 2000)}`)
  t.deepEqual(failed.map(f => f.name), [])
  t.is(exitCode, 0, `csi-sanity exited with ${exitCode}`)
  t.true(passed.length >= 60, `only ${passed.length} specs passed`)

  const documented = JSON.parse(await readFile(path.join(ROOT, 'test/sanity/skips.json'), 'utf8')) as Record<string, string>
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8')
  t.deepEqual(skipped.map(s => s.name).sort(), Object.keys(documented).sort(), 'skipped specs and test/sanity/skips.json differ')
  for (const [name, reason] of Object.entries(documented)) {
    t.true(reason.length > 10, `no reason for ${name}`)
    t.true(readme.includes(name), `README lacks skipped spec ${name}`)
  }
})
