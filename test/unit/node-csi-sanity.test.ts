// The real csi-sanity against the Identity and Node services in this process, on the node's fake
// seams (test/helpers/fake-node-seams.ts): no root, FUSE or daemons. Kubo is a loopback stand-in
// answering only what these specs make the node call (Probe's `id`). Without a Controller service
// csi-sanity cannot create volumes, so the specs that need one are skipped (by name with
// --ginkgo.skip, or by csi-sanity itself) and listed with reasons in
// test/sanity/node-unit-skips.json; they run against real mounts in test/integration/csi-sanity.test.ts.
import test from 'ava'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type * as grpc from '@grpc/grpc-js'
import { parseServeConfig } from '../../driver/config.js'
import { loadCsi } from '../../driver/csi-proto.js'
import { startGrpcServer, stopGrpcServer } from '../../driver/grpc-server.js'
import { identityService } from '../../driver/identity-service.js'
import { Kubo } from '../../driver/kubo.js'
import { createLogger } from '../../driver/logger.js'
import { VolumeLocks } from '../../driver/volume-locks.js'
import { NodeService } from '../../node-plugin/node-service.js'
import { FakeLauncher, FakeMounter } from '../helpers/fake-node-seams.js'
import { runCsiSanity } from '../helpers/csi-sanity.js'
import { ROOT } from '../helpers/repo.js'

/** Specs of the Controller (and GroupController) services: not served here, so not run. */
const FOCUS = '(Identity Service|Node Service)'

test('csi-sanity passes against the Identity and Node services on the fake seams', async (t) => {
  const kuboCalls: string[] = []
  const kuboStandIn = http.createServer((req, res) => {
    const endpoint = new URL(req.url ?? '/', 'http://x').pathname
    kuboCalls.push(endpoint)
    if (endpoint === '/api/v0/id') { res.writeHead(200, { 'content-type': 'application/json' }).end('{"ID":"stand-in"}'); return }
    res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ Message: `${endpoint} is not served by the stand-in`, Code: 0, Type: 'error' }))
  })
  await new Promise<void>((resolve) => kuboStandIn.listen(0, '127.0.0.1', resolve))
  const root = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-node-sanity-'))
  t.teardown(async () => {
    kuboStandIn.closeAllConnections()
    await new Promise<void>((resolve) => kuboStandIn.close(() => resolve()))
    await rm(root, { recursive: true, force: true })
  })
  const kubelet = path.join(root, 'kubelet')
  const socketPath = path.join(root, 'csi.sock')
  const kuboUrl = `http://127.0.0.1:${(kuboStandIn.address() as AddressInfo).port}`
  const config = parseServeConfig(['--node-id', 'sanity-node', '--mode', 'node', '--endpoint', `unix://${socketPath}`, '--kubo-api', kuboUrl, '--state-dir', path.join(root, 'state'), '--kubelet-dir', kubelet, '--kubo-timeout-ms', '5000'], {})
  const log = createLogger('error')
  const kubo = new Kubo({ url: kuboUrl, timeoutMs: 5000 })
  const locks = new VolumeLocks()
  const mounter = new FakeMounter()
  const node = new NodeService({ log, locks, kubo, config, mounter, launcher: new FakeLauncher(mounter) })
  await node.start()
  const csi = loadCsi().csi.v1
  const server = await startGrpcServer(socketPath, [
    { definition: csi.Identity.service, implementation: identityService({ log, locks, kubo, hasController: false }) as unknown as grpc.UntypedServiceImplementation },
    { definition: csi.Node.service, implementation: node.handlers() as unknown as grpc.UntypedServiceImplementation }
  ])
  t.teardown(async () => { await stopGrpcServer(server); node.stop() })

  const expected = JSON.parse(await readFile(path.join(ROOT, 'test/sanity/node-unit-skips.json'), 'utf8')) as { skip: Record<string, string>, skipped: Record<string, string> }
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  // csi-sanity creates (and removes) the two leaf dirs itself; their parents are kubelet's. The
  // node service unstages and unpublishes only kubelet's path shapes (or paths it recorded), and
  // csi-sanity also cleans up volumes it never staged, so its dirs take kubelet's shapes: one
  // staging dir for every volume fits the per-PV form (plugins/kubernetes.io/csi/pv/<pv>/globalmount).
  const stagingDir = path.join(kubelet, 'plugins/kubernetes.io/csi/pv/sanity/globalmount')
  const mountDir = path.join(kubelet, 'pods/sanity-pod-uid/volumes/kubernetes.io~csi/sanity/mount')
  await mkdir(path.dirname(stagingDir), { recursive: true })
  await mkdir(path.dirname(mountDir), { recursive: true })
  const args = [
    `--csi.endpoint=unix://${socketPath}`,
    `--csi.stagingdir=${stagingDir}`,
    `--csi.mountdir=${mountDir}`,
    '--csi.testvolumeaccesstype=mount',
    `--ginkgo.focus=${FOCUS}`,
    `--ginkgo.skip=${Object.keys(expected.skip).map(escape).join('|')}`,
    '--ginkgo.timeout=2m'
  ]
  const { exitCode, output, outputFile, report: cases } = await runCsiSanity('csi-sanity-node-unit', args, 3 * 60_000)
  if (cases === undefined) t.fail(`csi-sanity wrote no report (exit ${exitCode}); output in ${outputFile}:\n${output.slice(-2000)}`)
  // Specs outside the focus appear in the report as skipped too; only ours are checked.
  const report = (cases ?? []).filter(c => new RegExp(FOCUS).test(c.name))
  const failed = report.filter(c => c.status === 'failed')
  const passed = report.filter(c => c.status === 'passed')
  const skipped = report.filter(c => c.status === 'skipped')
  t.log(`csi-sanity (Identity + Node, fake seams): ${passed.length} passed, ${failed.length} failed, ${skipped.length} skipped`)
  for (const f of failed) t.log(`FAILED: ${f.name}\n${f.message.slice(0, 2000)}`)
  t.deepEqual(failed.map(f => f.name), [])
  t.is(exitCode, 0, `csi-sanity exited with ${exitCode}`)
  t.true(passed.length >= 17, `only ${passed.length} specs passed`)
  // Expected: the Identity/Node skips of the real run (same reasons, test/sanity/skips.json) and
  // those that only a run without a Controller has.
  const shared = Object.entries(JSON.parse(await readFile(path.join(ROOT, 'test/sanity/skips.json'), 'utf8')) as Record<string, string>).filter(([name]) => new RegExp(FOCUS).test(name))
  const all = [...shared, ...Object.entries(expected.skip), ...Object.entries(expected.skipped)]
  t.deepEqual(skipped.map(s => s.name).sort(), all.map(([name]) => name).sort(), 'skipped specs and test/sanity/{skips,node-unit-skips}.json differ')
  for (const [name, reason] of all) t.true(reason.length > 10, `no reason for ${name}`)
  t.true(kuboCalls.includes('/api/v0/id'), 'Probe asked the Kubo stand-in')
})
