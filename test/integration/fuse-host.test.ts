// FUSE servers started by `ipfs-csi fuse-host` (the node data-plane pod) instead of
// the node service: they are the fuse-host's children, survive the node service dying, are
// adopted by a restarted node service, are reaped by the fuse-host (no zombies), and a missing
// fuse-host makes NodeStageVolume fail with UNAVAILABLE leaving nothing behind; and with fuse-host
// in PID and mount namespaces of its own (its own pod), the node service works through it alone.
import test from 'ava'
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, readFileSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { addTree, cleanupMounts as cleanup } from '../helpers/cleanup-mounts.js'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { DriverProcess } from '../helpers/driver-process.js'
import { codeOf, mountCap } from '../helpers/csi-client.js'
import { CLI, logFile } from '../helpers/repo.js'
import { stopProcess } from '../helpers/stop-process.js'
import { readMountTable } from '../../node-plugin/mount-table.js'
import { volumeKey } from '../../node-plugin/volume-state.js'
import { launcherRequest, remoteFindPids } from '../../node-plugin/fuse-process.js'

const execFileP = promisify(execFile)
const RO = mountCap('MULTI_NODE_READER_ONLY')
const UNAVAILABLE = 14

let kubo: KuboDaemon
let src: string
let root: string
const files: Record<string, Buffer> = {
  'a.txt': Buffer.from('served by fuse-host\n'),
  'd/b.txt': Buffer.from('second volume\n'),
  'e/c.txt': Buffer.from('third volume\n')
}
const dirs: string[] = []
const children: ChildProcess[] = []
const drivers: DriverProcess[] = []

test.before(async () => {
  kubo = await KuboDaemon.start({ name: 'fuse-host' })
  ;({ dir: src, cid: root } = await addTree(kubo, files, 'ipfs-csi-fuse-host-src-'))
})

test.after.always(async () => {
  for (const d of drivers) await d.stop().catch(() => {})
  for (const c of children) await stopProcess(c).catch(() => {})
  for (const dir of dirs) {
    await cleanup(dir)
    await rm(dir, { recursive: true, force: true })
  }
  await rm(src, { recursive: true, force: true })
  await kubo?.dispose()
})

/** Polls `fn` until it returns true or the deadline passes. */
async function eventually (fn: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await Promise.resolve().then(fn).catch(() => false)) return true
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  return false
}

/** /proc/<pid>/stat: state letter and parent pid, or undefined once the pid is gone (reaped). */
function procStat (pid: number): { state: string, ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { state: rest[0], ppid: Number(rest[1]) }
  } catch {
    return undefined
  }
}

const running = (pid: number): boolean => { const s = procStat(pid); return s !== undefined && s.state !== 'Z' && s.state !== 'X' }

/** Children of `ppid` that exited but were not reaped. */
async function zombiesOf (ppid: number): Promise<number[]> {
  const out: number[] = []
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue
    const s = procStat(Number(name))
    if (s?.ppid === ppid && s.state === 'Z') out.push(Number(name))
  }
  return out
}

interface Host { child: ChildProcess, socketPath: string, logPath: string, exited: Promise<number | null> }

/** `wrap`: a command to run fuse-host under (e.g. unshare into namespaces of its own). */
async function startHost (dir: string, stateDir: string, name: string, wrap: string[] = []): Promise<Host> {
  const socketPath = path.join(dir, 'run', 'fuse-host.sock')
  const logPath = logFile(`fuse-host-${name}`)
  const out = createWriteStream(logPath, { flags: 'a' })
  const argv = [process.execPath, CLI, 'fuse-host', '--socket', socketPath, '--state-dir', stateDir, '--log-level', 'debug']
  const child = spawn(wrap[0] ?? argv[0] as string, [...wrap.slice(1), ...(wrap.length > 0 ? argv : argv.slice(1))], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.pipe(out); child.stderr.pipe(out)
  children.push(child)
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  const up = await eventually(async () => {
    if (child.exitCode !== null) throw new Error('exited')
    return (await launcherRequest(socketPath, { op: 'ping' }, 2000)).ok === true
  }, 60_000)
  if (!up) throw new Error(`fuse-host did not answer a ping within 60 s; log: ${logPath}`)
  return { child, socketPath, logPath, exited }
}

async function newDir (): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-fuse-host-'))
  dirs.push(dir)
  return dir
}

async function readsFile (dir: string, rel: string): Promise<boolean> {
  return (await readFile(path.join(dir, path.basename(rel)))).equals(files[rel])
}

const serverPid = async (d: DriverProcess, id: string): Promise<number> =>
  (JSON.parse(await readFile(path.join(d.stateDir, 'volumes', volumeKey(id), 'fuse-status.json'), 'utf8')) as { pid: number }).pid

test('FUSE servers started through fuse-host survive the node service, are adopted, reaped, and a missing fuse-host is UNAVAILABLE', async (t) => {
  const dir = await newDir()
  const stateDir = path.join(dir, 'state')
  const host = await startHost(dir, stateDir, 'main')
  t.is(statSync(host.socketPath).mode & 0o777, 0o600, 'the launcher socket is owner-only')
  const hostPid = host.child.pid as number
  const d = await DriverProcess.start({ kuboApi: kubo.apiUrl, mode: 'all', dir, name: 'fuse-host', extraArgs: ['--fuse-launcher', `unix://${host.socketPath}`] })
  drivers.push(d)

  // Stage + publish: the server is the fuse-host's child, not the driver's.
  const id = root
  const sp = d.stagingPath(id)
  const tp = d.targetPath('pod-1', id)
  await d.csi.node.NodeStageVolume({ volume_id: id, staging_target_path: sp, volume_capability: RO })
  await d.csi.node.NodePublishVolume({ volume_id: id, staging_target_path: sp, target_path: tp, volume_capability: RO, readonly: true })
  t.true(await readsFile(tp, 'a.txt'))
  const pid = await serverPid(d, id)
  t.is(procStat(pid)?.ppid, hostPid, 'the FUSE server is a child of fuse-host')
  t.not(procStat(pid)?.ppid, d.child?.pid)

  // The node service dies hard: the mount keeps reading; a restarted service adopts the server.
  await d.kill9()
  t.true(running(pid))
  t.true(await readsFile(tp, 'a.txt'), 'readable with the node service dead')
  await d.launch()
  t.is(await serverPid(d, id), pid, 'the same FUSE server was adopted')
  t.true(await readsFile(tp, 'a.txt'), 'readable after the restart')
  const stats = await d.csi.node.NodeGetVolumeStats({ volume_id: id, volume_path: tp })
  t.false(stats.volume_condition.abnormal, stats.volume_condition.message)
  await d.csi.node.NodeUnpublishVolume({ volume_id: id, target_path: tp })
  await d.csi.node.NodeUnstageVolume({ volume_id: id, staging_target_path: sp })
  // Stopped by the driver (by pid), reaped by fuse-host: the pid disappears, no zombie stays.
  t.true(await eventually(() => procStat(pid) === undefined, 20_000), `server ${pid} reaped (state ${procStat(pid)?.state ?? 'gone'})`)
  t.deepEqual(await zombiesOf(hostPid), [])
  t.true(await eventually(async () => (await readFile(host.logPath, 'utf8')).includes('FUSE server exited'), 10_000), 'fuse-host logged the exit')

  // A second volume, then fuse-host stops: its server is detached and keeps the mount alive.
  const id2 = `${root}/d`
  const sp2 = d.stagingPath(id2)
  await d.csi.node.NodeStageVolume({ volume_id: id2, staging_target_path: sp2, volume_capability: RO })
  const pid2 = await serverPid(d, id2)
  t.is(procStat(pid2)?.ppid, hostPid)
  host.child.kill('SIGTERM')
  t.is(await host.exited, 0, 'fuse-host exits cleanly on SIGTERM')
  t.false(existsSync(host.socketPath), 'fuse-host removed its socket')
  t.true(running(pid2), 'fuse-host left its FUSE server running')
  t.true(await readsFile(sp2, 'd/b.txt'), 'mount readable with fuse-host gone')

  // No launcher: staging a new volume is UNAVAILABLE (retryable) and leaves nothing behind.
  const id3 = `${root}/e`
  const sp3 = d.stagingPath(id3)
  t.is(await codeOf(d.csi.node.NodeStageVolume({ volume_id: id3, staging_target_path: sp3, volume_capability: RO })), UNAVAILABLE)
  t.deepEqual((await readMountTable()).filter(e => e.mountPoint === sp3), [], 'nothing mounted')
  t.false(existsSync(path.join(stateDir, 'volumes', volumeKey(id3))), 'no state left for the failed volume')

  // A stale socket file with no listener (fuse-host killed -9) is UNAVAILABLE too.
  const stale = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(host.socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`])
  await new Promise(resolve => stale.once('exit', resolve))
  t.true(existsSync(host.socketPath), 'stale socket left behind')
  t.is(await codeOf(d.csi.node.NodeStageVolume({ volume_id: id3, staging_target_path: sp3, volume_capability: RO })), UNAVAILABLE)
  t.deepEqual((await readMountTable()).filter(e => e.mountPoint === sp3), [])

  // A new fuse-host replaces the stale socket; the orphaned server is still stopped by pid.
  const host2 = await startHost(dir, stateDir, 'second')
  await d.csi.node.NodeStageVolume({ volume_id: id3, staging_target_path: sp3, volume_capability: RO })
  t.true(await readsFile(sp3, 'e/c.txt'))
  t.is(procStat(await serverPid(d, id3))?.ppid, host2.child.pid)
  await d.csi.node.NodeUnstageVolume({ volume_id: id2, staging_target_path: sp2 })
  t.true(await eventually(() => !running(pid2), 20_000), 'the orphaned server was stopped')
  const pid3 = await serverPid(d, id3)
  await d.csi.node.NodeUnstageVolume({ volume_id: id3, staging_target_path: sp3 })
  t.true(await eventually(() => procStat(pid3) === undefined, 20_000), 'reaped by the new fuse-host')
  t.deepEqual(await zombiesOf(host2.child.pid as number), [])
  t.deepEqual((await readMountTable()).filter(e => e.mountPoint.startsWith(dir + '/')), [])
})

/** Host pids of live FUSE servers whose command line names `specPath` (the host sees every PID namespace). */
async function hostPidsOf (specPath: string): Promise<number[]> {
  const out: number[] = []
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name) || !running(Number(name))) continue
    const argv = (await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')).split('\0')
    if (argv.includes('fuse-server') && argv.includes(specPath)) out.push(Number(name))
  }
  return out
}

test('fuse-host in PID and mount namespaces of its own (as in its own pod): the node service stages, adopts and unstages through it alone', async (t) => {
  // A shared mount over the test dir, like the Bidirectional hostPaths both pods mount: the FUSE
  // mounts fuse-host's servers make in their mount namespace appear in the node service's.
  const dir = await newDir()
  await execFileP('mount', ['--bind', dir, dir])
  t.teardown(async () => { await cleanup(dir); await execFileP('umount', ['-l', dir]).catch(() => {}) })
  await execFileP('mount', ['--make-shared', dir])
  const stateDir = path.join(dir, 'state')
  // fuse-host is PID 1 of a new PID namespace with its own /proc: its servers' pids mean nothing
  // in the node service's /proc, and they all die with it (--kill-child), as in a pod.
  const host = await startHost(dir, stateDir, 'pidns', ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', '--propagation', 'unchanged'])
  const d = await DriverProcess.start({ kuboApi: kubo.apiUrl, mode: 'node', dir, name: 'fuse-host-pidns', extraArgs: ['--fuse-launcher', `unix://${host.socketPath}`] })
  drivers.push(d)
  const id = root
  const sp = d.stagingPath(id)
  const tp = d.targetPath('pod-ns', id)
  await d.csi.node.NodeStageVolume({ volume_id: id, staging_target_path: sp, volume_capability: RO })
  await d.csi.node.NodePublishVolume({ volume_id: id, staging_target_path: sp, target_path: tp, volume_capability: RO, readonly: true })
  t.true(await readsFile(tp, 'a.txt'))
  const specPath = path.join(stateDir, 'volumes', volumeKey(id), 'spec.json')
  const nsPid = await serverPid(d, id)
  const hostPids = await hostPidsOf(specPath)
  t.is(hostPids.length, 1, 'one FUSE server runs')
  t.not(hostPids[0], nsPid, 'the server\'s pid in its namespace is not its pid on the host')
  t.deepEqual(await launcherRequest(host.socketPath, { op: 'status', specPath }, 10_000), { pids: [nsPid] }, 'fuse-host reports it by its own pid')

  // The node service dies and comes back: the server is adopted (not healed: same process).
  await d.kill9()
  await d.launch()
  t.is(await serverPid(d, id), nsPid)
  t.deepEqual(await hostPidsOf(specPath), hostPids, 'the same FUSE server process')
  const stats = await d.csi.node.NodeGetVolumeStats({ volume_id: id, volume_path: tp })
  t.false(stats.volume_condition.abnormal, stats.volume_condition.message)
  t.true(await readsFile(tp, 'a.txt'))

  // Unstage stops the server through fuse-host and leaves nothing mounted.
  await d.csi.node.NodeUnpublishVolume({ volume_id: id, target_path: tp })
  await d.csi.node.NodeUnstageVolume({ volume_id: id, staging_target_path: sp })
  t.true(await eventually(async () => (await hostPidsOf(specPath)).length === 0, 20_000), 'the server was stopped')
  t.deepEqual((await readMountTable()).filter(e => e.mountPoint.startsWith(dir + '/')), [])

  // Staged again, then fuse-host's namespace ends (its pod deleted): the server dies with it, and
  // the node service sees a dead volume, not a live one, once fuse-host is back.
  await d.csi.node.NodeStageVolume({ volume_id: id, staging_target_path: sp, volume_capability: RO })
  const before = await hostPidsOf(specPath)
  t.is(before.length, 1)
  // SIGKILL, as a container stop ends: `unshare --fork` ignores SIGTERM while it waits, and
  // --kill-child then kills the namespace's init, which takes every process in it along.
  host.child.kill('SIGKILL')
  await host.exited
  t.true(await eventually(async () => (await hostPidsOf(specPath)).length === 0, 20_000), 'the server died with its PID namespace')
  const host2 = await startHost(dir, stateDir, 'pidns-2', ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', '--propagation', 'unchanged'])
  // The healer (or a repeated stage) remounts it through the new fuse-host.
  await d.csi.node.NodeStageVolume({ volume_id: id, staging_target_path: sp, volume_capability: RO })
  t.true(await readsFile(sp, 'a.txt'), 'remounted through the new fuse-host')
  t.not((await hostPidsOf(specPath))[0], before[0])
  await d.csi.node.NodeUnstageVolume({ volume_id: id, staging_target_path: sp })
  t.true(await eventually(async () => (await hostPidsOf(specPath)).length === 0, 20_000))
  host2.child.kill('SIGKILL')
  await host2.exited
})

test('the launcher socket refuses bad requests and drops silent clients', async (t) => {
  const dir = await newDir()
  const stateDir = path.join(dir, 'state')
  const host = await startHost(dir, stateDir, 'protocol')
  const outside = path.join(dir, 'outside')
  await mkdir(outside, { recursive: true })
  await writeFile(path.join(outside, 'spec.json'), '{}')
  const refused = await launcherRequest(host.socketPath, { op: 'spawn', specPath: path.join(outside, 'spec.json'), logPath: path.join(outside, 'x.log') }, 10_000)
  t.regex(String(refused.error), /is not <state-dir>/)
  t.regex(String((await launcherRequest(host.socketPath, { op: 'exec', cmd: '/bin/sh' }, 10_000)).error), /unknown op/)
  t.false(existsSync(path.join(outside, 'x.log')), 'a refused request creates nothing')
  // status and stop: only specs under <state>/volumes/, and only processes that serve them.
  const volSpec = path.join(stateDir, 'volumes', 'nothing-here', 'spec.json')
  t.deepEqual(await launcherRequest(host.socketPath, { op: 'status', specPath: volSpec }, 10_000), { pids: [] })
  t.deepEqual(await launcherRequest(host.socketPath, { op: 'stop', specPath: volSpec, graceMs: 0 }, 10_000), { stopped: [] })
  t.deepEqual(await launcherRequest(host.socketPath, { op: 'stop', specPath: volSpec, pid: process.pid, graceMs: 0 }, 10_000), { stopped: [] }, 'a pid that is not a server of that spec is left alone')
  t.regex(String((await launcherRequest(host.socketPath, { op: 'status', specPath: path.join(outside, 'spec.json') }, 10_000)).error), /is not <state-dir>/)
  t.regex(String((await launcherRequest(host.socketPath, { op: 'stop', specPath: volSpec, graceMs: -1 }, 10_000)).error), /graceMs/)
  // A healer pass asks about every volume at once: more than fuse-host's 64 connections must
  // still all get answers (the node service queues its status requests).
  const many = await Promise.allSettled(Array.from({ length: 150 }, async (_, i) => await remoteFindPids(host.socketPath, path.join(stateDir, 'volumes', `v${i}`, 'spec.json'))))
  t.deepEqual(many.filter(r => r.status === 'rejected').map(r => String((r as PromiseRejectedResult).reason)).slice(0, 3), [], '150 concurrent status requests all answered')

  // Raw garbage gets an error line; a client that sends nothing is dropped.
  const talk = async (data: string | undefined): Promise<{ reply: string, ms: number }> => await new Promise((resolve, reject) => {
    const started = Date.now()
    const sock = createConnection(host.socketPath)
    let reply = ''
    sock.setEncoding('utf8')
    sock.on('connect', () => { if (data !== undefined) sock.write(data) })
    sock.on('data', (c: string) => { reply += c })
    sock.on('error', reject)
    sock.on('close', () => resolve({ reply, ms: Date.now() - started }))
    setTimeout(() => { sock.destroy(); reject(new Error('not dropped within 30 s')) }, 30_000).unref()
  })
  t.regex((await talk('{not json\n')).reply, /"error":"request is not JSON"/)
  const silent = await talk(undefined)
  t.is(silent.reply, '')
  t.true(silent.ms >= 4000 && silent.ms < 20_000, `silent client dropped after ${silent.ms} ms`)
  t.true((await launcherRequest(host.socketPath, { op: 'ping' }, 10_000)).ok === true, 'still serving')
  host.child.kill('SIGTERM')
  t.is(await host.exited, 0)
  t.deepEqual(await zombiesOf(host.child.pid as number), [])
})
