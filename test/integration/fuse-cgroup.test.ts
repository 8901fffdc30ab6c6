// Per-server memory cgroups on this machine's cgroup v1 memory hierarchy: a FUSE server spawned
// with a heap limit runs in a child cgroup of its spawner's, limited to heap + block cache +
// 128 MiB, serves its mount from there, and the cgroup is removed once the server is gone.
// And the cgroup v2 steps on the real unified hierarchy (mounted at /sys/fs/cgroup/unified
// here): this machine binds the memory controller to v1, so hugetlb, a domain controller under
// the same "no internal processes" rule, stands in for it there.
import test from 'ava'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { logFile } from '../helpers/repo.js'
import { cleanupMounts } from '../helpers/cleanup-mounts.js'
import { spawnLocalFuseServer, stopFuseServer, waitMounted } from '../../node-plugin/fuse-process.js'
import { CGROUP_PREFIX, ownMemoryCgroup, serverMemoryLimit, SPAWNER_LEAF, sweepEmpty, SYSTEM_CGROUP_FS } from '../../node-plugin/fuse-cgroup.js'
import type { FuseSpec } from '../../node-plugin/fuse/fuse-spec.js'

const MiB = 1024 * 1024

test('a FUSE server with a heap limit runs in a memory cgroup of its own (heap + cache + 128 MiB) and the empty cgroup is removed after it exits', async (t) => {
  const own = await ownMemoryCgroup()
  if ('reason' in own) { t.fail(`this machine should allow per-server cgroups (cgroup v1, root): ${own.reason}`); return }
  t.is(own.version, 1)
  const kubo = await KuboDaemon.start({ name: 'fuse-cgroup', offline: true })
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-cgroup-'))
  t.teardown(async () => {
    await cleanupMounts(dir)
    await rm(dir, { recursive: true, force: true })
    await kubo.dispose()
  })
  await kubo.cli(['files', 'mkdir', '-p', '/cgroup-vol'])
  const spec: FuseSpec = {
    version: 1,
    volumeId: 'w-cgroup-test',
    mountpoint: path.join(dir, 'mnt'),
    kuboApi: kubo.apiUrl,
    mode: 'writable',
    mfsPath: '/cgroup-vol',
    readOnly: false,
    readTimeoutMs: 30_000,
    kuboTimeoutMs: 30_000,
    blockCacheBytes: 32 * MiB,
    readAheadBlocks: 0,
    logLevel: 'info',
    maxHeapMiB: 96,
    spillDir: path.join(dir, 'spill')
  }
  const specPath = path.join(dir, 'spec.json')
  await writeFile(specPath, JSON.stringify(spec))
  const logPath = logFile('fuse-cgroup-server')
  const server = await spawnLocalFuseServer(specPath, logPath)
  t.teardown(async () => await stopFuseServer(server.pid, specPath, 10_000))
  await waitMounted({ server, statusPath: path.join(dir, 'fuse-status.json'), mountpoint: spec.mountpoint, logPath, timeoutMs: 60_000 })

  const cg = server.cgroup?.dir
  t.truthy(cg, `no cgroup: ${server.cgroup?.skipped ?? 'not attempted'}`)
  if (cg === undefined) return
  t.is(path.dirname(cg), own.dir, 'a child of the spawner\'s cgroup')
  t.is(Number(await readFile(path.join(cg, 'memory.limit_in_bytes'), 'utf8')), serverMemoryLimit(96, 32 * MiB))
  t.is(serverMemoryLimit(96, 32 * MiB), (96 + 32 + 128) * MiB)
  const memLine = (await readFile(`/proc/${server.pid}/cgroup`, 'utf8')).split('\n').find(l => l.split(':')[1] === 'memory')
  t.is(path.join(SYSTEM_CGROUP_FS.memoryRoot, memLine?.split(':')[2] ?? ''), cg, 'the server process is in it')
  // It serves from there: a write and a read through the mount.
  await writeFile(path.join(spec.mountpoint, 'hello.txt'), 'from a cgroup of its own\n')
  t.is(await readFile(path.join(spec.mountpoint, 'hello.txt'), 'utf8'), 'from a cgroup of its own\n')
  t.true(Number(await readFile(path.join(cg, 'memory.usage_in_bytes'), 'utf8')) > 0, 'its memory is charged there')

  await stopFuseServer(server.pid, specPath, 10_000)
  t.true(existsSync(cg), 'left for the next spawn to sweep')
  t.true(await sweepEmpty(own.dir) >= 1)
  t.false(existsSync(cg), 'removed once empty')
})

const UNIFIED = '/sys/fs/cgroup/unified'
const CGROUP_MODULE = fileURLToPath(new URL('../../node-plugin/fuse-cgroup.js', import.meta.url))

// The spawner: moves itself into the test's cgroup (the container's, in deploy), starts a sibling
// (another process of the container) and a server (sleeps), and places the server through
// placeInOwnCgroup, told only the v2 line of its /proc/self/cgroup. On a stdin line it kills that
// server and places a second one; on stdin's end it ends them all.
const SPAWNER = `
import { placeInOwnCgroup } from ${JSON.stringify(CGROUP_MODULE)}
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
const { CG, SELF, ROOT } = process.env
writeFileSync(CG + '/cgroup.procs', String(process.pid))
const sleeper = () => spawn('sleep', ['300'], { stdio: 'ignore' })
const kids = [sleeper()]
const fs = { procSelfCgroup: SELF, memoryRoot: '/nonexistent', unifiedRoot: ROOT, v2: { name: 'hugetlb', limits: (b) => [{ file: 'hugetlb.2MB.max', value: String(b), required: true }] } }
const place = async (name) => {
  const server = sleeper(); kids.push(server)
  writeFileSync(SELF, readFileSync('/proc/self/cgroup', 'utf8').split('\\n').filter(l => l.startsWith('0::')).join('\\n') + '\\n')
  return { server: server.pid, placed: await placeInOwnCgroup(server.pid, name, 8 * 1024 * 1024, fs) }
}
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
console.log(JSON.stringify({ spawner: process.pid, sibling: kids[0].pid, ...(await place('vol-a')) }))
await lines.next()
const first = kids[1]
await new Promise(resolve => { first.once('exit', resolve); first.kill('SIGKILL') })
console.log(JSON.stringify(await place('vol-b')))
await lines.next()
for (const k of kids) k.kill('SIGKILL')
process.exit(0)
`

const procsOf = async (dir: string): Promise<number[]> => (await readFile(path.join(dir, 'cgroup.procs'), 'utf8')).split('\n').filter(l => l !== '').map(Number)
const v2LineOf = async (pid: number): Promise<string | undefined> => (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').find(l => l.startsWith('0::'))

test('cgroup v2, real unified hierarchy: the spawner moves its cgroup\'s processes to a leaf, enables the controller for children, and each server lands limited in a child of its own, swept once gone', async (t) => {
  const controllers = await readFile(path.join(UNIFIED, 'cgroup.controllers'), 'utf8').catch(() => '')
  if (!controllers.split(/\s+/).includes('hugetlb')) { t.fail(`this machine should have hugetlb on its cgroup v2 hierarchy at ${UNIFIED}: controllers "${controllers.trim()}"`); return }
  // The root is exempt from the rule: enabling hugetlb for its children is how a node delegates
  // memory to a container's cgroup. Put back as found.
  const rootHad = (await readFile(path.join(UNIFIED, 'cgroup.subtree_control'), 'utf8')).split(/\s+/).includes('hugetlb')
  if (!rootHad) await writeFile(path.join(UNIFIED, 'cgroup.subtree_control'), '+hugetlb')
  const cg = path.join(UNIFIED, `ipfs-csi-v2-test-${process.pid}`)
  await mkdir(cg)
  const tmp = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-cgroup-v2-'))
  const child = spawn(process.execPath, ['--input-type=module', '-e', SPAWNER], { env: { ...process.env, CG: cg, SELF: path.join(tmp, 'self-cgroup'), ROOT: UNIFIED }, stdio: ['pipe', 'pipe', 'inherit'] })
  t.teardown(async () => {
    child.stdin?.end()
    if (child.exitCode === null && child.signalCode === null) await new Promise(resolve => { child.once('exit', resolve); setTimeout(() => child.kill('SIGKILL'), 5000) })
    // Children first: a cgroup goes only once empty and without children.
    for (const name of await readdir(cg).catch(() => [] as string[])) {
      const sub = path.join(cg, name)
      if (!name.startsWith(CGROUP_PREFIX) && name !== SPAWNER_LEAF) continue
      for (let i = 0; i < 50 && !(await rmdir(sub).then(() => true, () => false)); i++) await new Promise(resolve => setTimeout(resolve, 100))
    }
    await rmdir(cg).catch(() => {})
    if (!rootHad) await writeFile(path.join(UNIFIED, 'cgroup.subtree_control'), '-hugetlb').catch(() => {})
    await rm(tmp, { recursive: true, force: true })
  })
  const out = createInterface({ input: child.stdout! })[Symbol.asyncIterator]()
  const next = async (): Promise<Record<string, any>> => JSON.parse(String((await out.next()).value)) as Record<string, any>

  const first = await next()
  const a = first.placed as { dir?: string, skipped?: string }
  t.is(a.skipped, undefined, `placed: ${a.skipped ?? ''}`)
  t.is(a.dir, path.join(cg, `${CGROUP_PREFIX}vol-a.${String(first.server)}`), 'a child of the spawner\'s cgroup, named by volume and pid')
  t.deepEqual(await procsOf(cg), [], 'no process is left in the spawner\'s cgroup itself (the rule the kernel enforces)')
  t.deepEqual((await procsOf(path.join(cg, SPAWNER_LEAF))).sort(), [first.spawner, first.sibling].sort(), 'the spawner and its sibling moved to the leaf')
  t.true((await readFile(path.join(cg, 'cgroup.subtree_control'), 'utf8')).split(/\s+/).includes('hugetlb'), 'the controller is enabled for children')
  t.is((await readFile(path.join(a.dir ?? '', 'hugetlb.2MB.max'), 'utf8')).trim(), String(8 * 1024 * 1024), 'the child is limited')
  t.deepEqual(await procsOf(a.dir ?? ''), [first.server], 'the server is in it')
  t.is(await v2LineOf(first.server), `0::${cg.slice(UNIFIED.length)}/${CGROUP_PREFIX}vol-a.${String(first.server)}`, 'as /proc says')

  child.stdin?.write('next\n')
  const second = await next()
  const b = second.placed as { dir?: string, skipped?: string }
  t.is(b.dir, path.join(cg, `${CGROUP_PREFIX}vol-b.${String(second.server)}`), 'from the leaf, the next server goes to a child of the same cgroup')
  t.false(existsSync(a.dir ?? ''), 'the first server\'s cgroup, empty once it died, was swept')
  t.deepEqual(await procsOf(b.dir ?? ''), [second.server])
  t.deepEqual((await procsOf(path.join(cg, SPAWNER_LEAF))).sort(), [first.spawner, first.sibling].sort(), 'the leaf is unchanged')
})
