// Per-server memory cgroups on this machine's cgroup v1 memory hierarchy: a FUSE server spawned
// with a heap limit runs in a child cgroup of its spawner's, limited to heap + block cache +
// 128 MiB, serves its mount from there, and the cgroup is removed once the server is gone.
import test from 'ava'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { logFile } from '../helpers/repo.js'
import { cleanupMounts } from '../helpers/cleanup-mounts.js'
import { spawnLocalFuseServer, stopFuseServer, waitMounted } from '../../node-plugin/fuse-process.js'
import { ownMemoryCgroup, serverMemoryLimit, sweepEmpty, SYSTEM_CGROUP_FS } from '../../node-plugin/fuse-cgroup.js'
import type { FuseSpec } from '../../node-plugin/fuse/fuse-spec.js'

const MiB = 1024 * 1024

test('a FUSE server with a heap limit runs in a memory cgroup of its own (heap + cache + 128 MiB) and the empty cgroup is removed after it exits', async (t) => {
  const own = await ownMemoryCgroup()
  if ('reason' in own) { t.fail(`this machine should allow per-server cgroups (cgroup v1, root): ${own.reason}`); return }
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
