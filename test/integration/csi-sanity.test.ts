// The real csi-sanity (pinned in scripts/setup.sh) against `ipfs-csi serve --mode all` backed by
// a real Kubo. 0 failures; every skipped spec must be listed with its reason in
// test/sanity/skips.json and in the README table, so a new skip cannot slip in unexplained.
import test from 'ava'
import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { DriverProcess } from '../helpers/driver-process.js'
import { ROOT } from '../helpers/repo.js'
import { runCsiSanity } from '../helpers/csi-sanity.js'

test('csi-sanity passes against the driver and a real Kubo', async (t) => {
  const kubo = await KuboDaemon.start({ name: 'sanity' })
  t.teardown(async () => { await kubo.dispose() })
  const driver = await DriverProcess.start({ kuboApi: kubo.apiUrl, mode: 'all', name: 'sanity' })
  t.teardown(async () => { await driver.stop() })
  // csi-sanity creates (and removes) the two leaf dirs itself; their parents are kubelet's. The
  // node service unstages and unpublishes only kubelet's path shapes (or paths it recorded), and
  // csi-sanity also cleans up volumes it never staged, so its dirs take kubelet's shapes: one
  // staging dir for every volume fits the per-PV form (plugins/kubernetes.io/csi/pv/<pv>/globalmount).
  const stagingDir = path.join(driver.kubeletDir, 'plugins/kubernetes.io/csi/pv/sanity/globalmount')
  const mountDir = path.join(driver.kubeletDir, 'pods/sanity-pod-uid/volumes/kubernetes.io~csi/sanity/mount')
  await mkdir(path.dirname(stagingDir), { recursive: true })
  await mkdir(path.dirname(mountDir), { recursive: true })
  const args = [
    `--csi.endpoint=unix://${driver.socketPath}`,
    `--csi.stagingdir=${stagingDir}`,
    `--csi.mountdir=${mountDir}`,
    '--csi.testvolumeaccesstype=mount',
    `--csi.testvolumesize=${64 * 1024 * 1024}`,
    `--csi.testvolumeexpandsize=${128 * 1024 * 1024}`,
    '--ginkgo.timeout=20m'
  ]
  const { exitCode, output, outputFile, report: cases } = await runCsiSanity('csi-sanity', args, 20 * 60_000)
  if (cases === undefined) t.fail(`csi-sanity wrote no report (exit ${exitCode}); output in ${outputFile}:\n${output.slice(-2000)}`)
  const report = cases ?? []
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
