// `fuse-host --fuse-run-as UID:GID` (docs/security.md item 9): each FUSE server mounts as root,
// then drops to that uid/gid before it parses any content. Checked on real servers started
// through fuse-host against a real Kubo: /proc says the ids are the unprivileged ones with no
// capability left; content still reads (from a blocks dir that only that uid can read, mode 0600
// files, as the node Kubo's flatfs is in deploy), a writable volume still writes (its spill dir
// handed to that uid); stopping through fuse-host leaves no mount behind. The same for
// `ipfs-csi mount --fuse-run-as` (its root helper unmounts) and the node service's local launcher.
import test from 'ava'
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { addTree, cleanupMounts } from '../helpers/cleanup-mounts.js'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { CLI, logFile } from '../helpers/repo.js'
import { stopProcess } from '../helpers/stop-process.js'
import { ContentMount } from '../helpers/content-mount.js'
import { DriverProcess } from '../helpers/driver-process.js'
import { mountCap } from '../helpers/csi-client.js'
import { isMounted } from '../helpers/writable-server.js'
import { volumeKey } from '../../node-plugin/volume-state.js'
import { findMount, readMountTable } from '../../node-plugin/mount-table.js'
import { launcherRequest } from '../../node-plugin/fuse-process.js'
import { readProcCreds } from '../../node-plugin/fuse/privileges.js'
import type { FuseSpec } from '../../node-plugin/fuse/fuse-spec.js'

const execFileP = promisify(execFile)
const UID = 10001
/** Not the Kubo user's group (10001): as in deploy, where that group reads the token files. */
const GID = 10002

let kubo: KuboDaemon
let src: string
let root: string
let dir: string
let host: ChildProcess | undefined
let hostLog: string
let socketPath: string
let stateDir: string
const big = Buffer.from(Buffer.alloc(3 * 1024 * 1024 + 17).map((_, i) => (i * 131 + (i >> 12)) & 0xff))
const files: Record<string, Buffer> = { 'a.txt': Buffer.from('read after the drop\n'), 'big.bin': big }

async function eventually (fn: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return true
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return false
}

test.before(async () => {
  kubo = await KuboDaemon.start({ name: 'fuse-run-as' })
  ;({ dir: src, cid: root } = await addTree(kubo, files, 'ipfs-csi-run-as-src-'))
  dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-run-as-'))
  // The unprivileged uid must pass through here to its blocks and spill dirs, nothing more.
  await chmod(dir, 0o711)
  stateDir = path.join(dir, 'state')
  await mkdir(path.join(stateDir, 'volumes'), { recursive: true, mode: 0o700 })
  socketPath = path.join(dir, 'run', 'fuse-host.sock')
  hostLog = logFile('fuse-host-run-as')
  const out = createWriteStream(hostLog, { flags: 'a' })
  host = spawn(process.execPath, [CLI, 'fuse-host', '--socket', socketPath, '--state-dir', stateDir, '--log-level', 'debug', '--fuse-run-as', `${UID}:${GID}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  host.stdout?.pipe(out); host.stderr?.pipe(out)
  const up = await eventually(async () => (await launcherRequest(socketPath, { op: 'ping' }, 2000)).ok === true, 60_000)
  if (!up) throw new Error(`fuse-host did not answer within 60 s; log: ${hostLog}\n${await readFile(hostLog, 'utf8').catch(() => '')}`)
})

test.after.always(async () => {
  if (host !== undefined) await stopProcess(host).catch(() => {})
  if (dir !== undefined) {
    await cleanupMounts(dir)
    await rm(dir, { recursive: true, force: true })
  }
  if (src !== undefined) await rm(src, { recursive: true, force: true })
  await kubo?.dispose()
})

interface Started { pid: number, specPath: string, mountpoint: string, logPath: string }

/** Writes the spec under the state dir and asks fuse-host to start its server; waits for the mount. */
async function startVolume (name: string, spec: Omit<FuseSpec, 'mountpoint' | 'version' | 'volumeId'>): Promise<Started> {
  const volDir = path.join(stateDir, 'volumes', name)
  await mkdir(volDir, { mode: 0o700 })
  const mountpoint = path.join(dir, `mnt-${name}`)
  const specPath = path.join(volDir, 'spec.json')
  const logPath = path.join(volDir, 'fuse.log')
  await writeFile(specPath, JSON.stringify({ version: 1, volumeId: `run-as-${name}`, mountpoint, ...spec }), { mode: 0o600 })
  const reply = await launcherRequest(socketPath, { op: 'spawn', specPath, logPath }, 30_000)
  const pid = reply.pid
  if (typeof pid !== 'number') throw new Error(`spawn refused: ${JSON.stringify(reply)}`)
  const statusPath = path.join(volDir, 'fuse-status.json')
  const mounted = await eventually(async () => {
    const status = JSON.parse(await readFile(statusPath, 'utf8')) as { pid?: number }
    return status.pid === pid && findMount(await readMountTable(), mountpoint) !== undefined
  }, 60_000)
  if (!mounted) throw new Error(`${name} did not mount; log:\n${await readFile(logPath, 'utf8').catch(() => '')}`)
  // The drop follows the status file: wait until it happened (or the server said why not).
  if (!await eventually(async () => readProcCreds(pid).uids[0] !== 0, 10_000)) {
    throw new Error(`${name}: no drop seen; log:\n${await readFile(logPath, 'utf8').catch(() => '')}`)
  }
  return { pid, specPath, mountpoint, logPath }
}

const common = { kuboApi: '', readTimeoutMs: 30_000, kuboTimeoutMs: 30_000, blockCacheBytes: 0, readAheadBlocks: 0, logLevel: 'debug' }

/** The server's /metrics.json on its root-only socket next to the spec. */
async function diskBlocks (specPath: string): Promise<number> {
  const body = await new Promise<string>((resolve, reject) => {
    const req = request({ socketPath: path.join(path.dirname(specPath), 'metrics.sock'), path: '/metrics.json' }, (res) => {
      let b = ''
      res.setEncoding('utf8').on('data', (c: string) => { b += c }).on('end', () => resolve(b))
    })
    req.on('error', reject).end()
  })
  const metrics = (JSON.parse(body) as { metrics: Array<{ name: string, values: Array<{ value: number, labels: Record<string, string> }> }> }).metrics
  return metrics.find(m => m.name === 'ipfs_csi_fuse_blocks_total')?.values.find(v => v.labels.source === 'disk')?.value ?? 0
}

function assertUnprivileged (t: import('ava').ExecutionContext, pid: number): void {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name: string): string => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? ''
  t.deepEqual(field('Uid').split(/\s+/).map(Number), [UID, UID, UID, UID], 'real, effective, saved and fs uid')
  t.deepEqual(field('Gid').split(/\s+/).map(Number), [GID, GID, GID, GID], 'real, effective, saved and fs gid')
  t.is(field('Groups'), '', 'no supplementary groups')
  t.is(BigInt(`0x${field('CapEff')}`), 0n, 'CapEff is 0')
  t.is(BigInt(`0x${field('CapPrm')}`), 0n, 'CapPrm is 0')
  t.is(field('NoNewPrivs'), '1', 'no_new_privs (fuse-host starts it through setpriv)')
}

/** The JSON lines of a log file (other lines skipped). */
async function logRecords (file: string): Promise<Array<Record<string, unknown>>> {
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').flatMap((line) => {
    try { const r = JSON.parse(line) as unknown; return typeof r === 'object' && r !== null ? [r as Record<string, unknown>] : [] } catch { return [] }
  })
}

/**
 * The server's FUSE threads had ended before it exited, and it exited with 0: a server that
 * dropped root cannot unmount, and exiting under running FUSE threads is what crashed servers
 * at exit (SIGSEGV/SIGABRT). `logPath` is the server's; `exitLog` the one that logs its exit.
 */
async function assertCleanExit (t: import('ava').ExecutionContext, pid: number, logPath: string, exit: () => Promise<{ code: unknown, signal: unknown } | undefined>): Promise<void> {
  const unmounted = (await logRecords(logPath)).filter(r => r.msg === 'unmounted' || r.message === 'unmounted')
  t.is(unmounted.length, 1, `one 'unmounted' line in the server's log (${logPath})`)
  t.is(unmounted[0]?.fuseThreadsLeft, 0, 'no FUSE thread was left when the server exited')
  let seen: { code: unknown, signal: unknown } | undefined
  t.true(await eventually(async () => (seen = await exit()) !== undefined, 10_000), `the exit of ${pid} is recorded`)
  t.deepEqual(seen, { code: 0, signal: null }, 'exit code 0, no signal')
}

async function stopAndCheckGone (t: import('ava').ExecutionContext, v: Started): Promise<void> {
  const reply = await launcherRequest(socketPath, { op: 'stop', specPath: v.specPath, graceMs: 30_000 }, 60_000)
  t.deepEqual(reply.stopped, [v.pid])
  t.true(await eventually(async () => { try { readFileSync(`/proc/${v.pid}/stat`); return false } catch { return true } }, 10_000), 'the server is gone (reaped)')
  t.is(findMount(await readMountTable(), v.mountpoint), undefined, 'no mount (live or dead) is left at the mountpoint')
  t.is((await readMountTable()).filter(e => e.mountPoint.startsWith(dir + '/')).length, 0, 'nothing of ours is mounted')
  await assertCleanExit(t, v.pid, v.logPath, async () => {
    const r = (await logRecords(hostLog)).find(r => (r.msg === 'FUSE server exited' || r.message === 'FUSE server exited') && r.pid === v.pid)
    return r === undefined ? undefined : { code: r.code, signal: r.signal }
  })
}

test.serial('content volume: the server runs as the unprivileged uid with no capabilities, reads from a 0600 blocks dir it owns, and a stop leaves no mount', async (t) => {
  // A copy of the Kubo's flatfs owned by the Kubo user (10001:10001), files 0600 and dirs 0700: only that uid (or root) reads it.
  const blocks = path.join(dir, 'kubo-blocks')
  await execFileP('cp', ['-a', path.join(kubo.repo, 'blocks'), blocks])
  await execFileP('chown', ['-R', `${UID}:10001`, blocks])
  await execFileP('find', [blocks, '-type', 'f', '-exec', 'chmod', '0600', '{}', '+'])
  await execFileP('find', [blocks, '-type', 'd', '-exec', 'chmod', '0700', '{}', '+'])
  const v = await startVolume('content', { ...common, kuboApi: kubo.apiUrl, mode: 'content', rootCid: root, readOnly: true, kuboBlocksDir: blocks })
  assertUnprivileged(t, v.pid)
  t.true((await readFile(path.join(v.mountpoint, 'a.txt'))).equals(files['a.txt'] as Buffer))
  t.true((await readFile(path.join(v.mountpoint, 'big.bin'))).equals(big), 'a multi-block file reads back whole')
  t.true(await diskBlocks(v.specPath) > 0, 'blocks were read from the blocks dir as the unprivileged uid')
  const log = await readFile(v.logPath, 'utf8')
  t.regex(log, /privileges dropped/)
  t.notRegex(log, /not readable after dropping root/)
  await stopAndCheckGone(t, v)
})

test.serial('writable volume: writes go through spill files in a dir handed to the uid, are saved to MFS, and a stop leaves no mount', async (t) => {
  const mfsPath = '/run-as-w'
  await kubo.cli(['files', 'mkdir', '-p', mfsPath])
  const spillDir = path.join(dir, 'spill')
  const v = await startVolume('writable', { ...common, kuboApi: kubo.apiUrl, mode: 'writable', mfsPath, capacityBytes: 64 * 1024 * 1024, readOnly: false, spillDir })
  assertUnprivileged(t, v.pid)
  const data = Buffer.alloc(2 * 1024 * 1024 + 5, 7)
  await writeFile(path.join(v.mountpoint, 'out.bin'), data)
  t.true((await readFile(path.join(v.mountpoint, 'out.bin'))).equals(data))
  const st = await stat(spillDir)
  t.is(st.uid, UID, 'the spill root belongs to the uid')
  t.is(st.mode & 0o777, 0o700)
  t.true((await kubo.cliBytes(['files', 'read', `${mfsPath}/out.bin`])).equals(data), 'saved to MFS')
  await stopAndCheckGone(t, v)
})

test.serial('ipfs-csi mount --fuse-run-as: serves as the uid with no capabilities; on SIGTERM its root helper unmounts', async (t) => {
  const m = await ContentMount.start(root, kubo.apiUrl, { name: 'run-as', extraArgs: ['--fuse-run-as', `${UID}:${GID}`] })
  try {
    const pid = m.child.pid as number
    t.true(await eventually(async () => readProcCreds(pid).uids[0] === UID, 10_000), 'dropped')
    const creds = readProcCreds(pid)
    t.deepEqual(creds.uids, [UID, UID, UID, UID])
    t.is(creds.capEff, 0n)
    t.true((await readFile(m.path('big.bin'))).equals(big))
    const exited = new Promise<{ code: unknown, signal: unknown }>((resolve) => m.child.once('exit', (code, signal) => resolve({ code, signal })))
    await stopProcess(m.child, 20_000)
    t.true(await eventually(async () => !(await isMounted(m.dir)), 10_000), 'nothing left mounted after the command exited')
    // Its root helper detached the mount when asked, before the exit: the FUSE threads had ended.
    await assertCleanExit(t, pid, m.logPath, async () => await exited)
  } finally {
    await m.stop()
  }
})

test.serial('node service, local launcher: --fuse-run-as servers stage, read, and unstage leaves no mount', async (t) => {
  const d = await DriverProcess.start({ kuboApi: kubo.apiUrl, mode: 'all', name: 'run-as', extraArgs: ['--fuse-run-as', `${UID}:${GID}`] })
  try {
    const sp = d.stagingPath(root)
    await d.csi.node.NodeStageVolume({ volume_id: root, staging_target_path: sp, volume_capability: mountCap('MULTI_NODE_READER_ONLY') })
    const pid = (JSON.parse(await readFile(path.join(d.stateDir, 'volumes', volumeKey(root), 'fuse-status.json'), 'utf8')) as { pid: number }).pid
    t.true(await eventually(async () => readProcCreds(pid).uids[0] === UID, 10_000), 'dropped')
    assertUnprivileged(t, pid)
    t.true((await readFile(path.join(sp, 'a.txt'))).equals(files['a.txt'] as Buffer))
    await d.csi.node.NodeUnstageVolume({ volume_id: root, staging_target_path: sp })
    t.is(findMount(await readMountTable(), sp), undefined, 'unstage left no mount')
  } finally {
    await d.stop()
  }
})
