// Finding the spawner's memory cgroup from /proc/self/cgroup, v1 or v2 (fake files here; the
// real hierarchies are exercised by test/integration/fuse-cgroup), and why none is used elsewhere.
import test from 'ava'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ownMemoryCgroup, serverMemoryLimit, SPAWNER_LEAF, V2_MEMORY } from '../../node-plugin/fuse-cgroup.js'

const MiB = 1024 * 1024

interface FakeFs { procSelfCgroup: string, memoryRoot: string, unifiedRoot: string, v2: typeof V2_MEMORY, done: () => void }

/** Our pid listed in cgroup.procs at each of `procsAt` (under the v1 memory root, or the v2 root with `v2files`). */
function fakeFs (procSelf: string, procsAt: string[], v2files?: Record<string, string>): FakeFs {
  const dir = mkdtempSync(path.join(tmpdir(), 'ipfs-csi-cgroup-unit-'))
  const procSelfCgroup = path.join(dir, 'self-cgroup')
  writeFileSync(procSelfCgroup, procSelf)
  const memoryRoot = path.join(dir, 'memory')
  const unifiedRoot = path.join(dir, 'unified')
  const root = v2files !== undefined ? unifiedRoot : memoryRoot
  for (const rel of procsAt) {
    mkdirSync(path.join(root, rel), { recursive: true })
    writeFileSync(path.join(root, rel, 'cgroup.procs'), `1\n${process.pid}\n`)
  }
  for (const [rel, text] of Object.entries(v2files ?? {})) {
    mkdirSync(path.dirname(path.join(unifiedRoot, rel)), { recursive: true })
    writeFileSync(path.join(unifiedRoot, rel), text)
  }
  return { procSelfCgroup, memoryRoot, unifiedRoot, v2: V2_MEMORY, done: () => rmSync(dir, { recursive: true, force: true }) }
}

test('v1: the memory line names our cgroup, found under the hierarchy or as its root (a container\'s view)', async (t) => {
  const host = fakeFs('5:cpu,cpuacct:/x\n4:memory:/kubepods/pod1/c1\n0::/\n', ['kubepods/pod1/c1'])
  t.teardown(host.done)
  t.deepEqual(await ownMemoryCgroup(host), { dir: path.join(host.memoryRoot, 'kubepods/pod1/c1'), version: 1 })
  const container = fakeFs('4:memory:/kubepods/pod1/c1\n', [''])
  t.teardown(container.done)
  t.deepEqual(await ownMemoryCgroup(container), { dir: container.memoryRoot, version: 1 })
})

test('v2: our cgroup (or the parent of the spawner leaf we moved to) once memory is enabled for its children', async (t) => {
  const ready = fakeFs('0::/\n', [''], { 'cgroup.controllers': 'cpu io memory pids\n', 'cgroup.subtree_control': 'memory\n' })
  t.teardown(ready.done)
  t.deepEqual(await ownMemoryCgroup(ready), { dir: ready.unifiedRoot, version: 2 })
  const moved = fakeFs(`0::/kubepods/pod1/c1/${SPAWNER_LEAF}\n`, [`kubepods/pod1/c1/${SPAWNER_LEAF}`], { 'kubepods/pod1/c1/cgroup.controllers': 'memory pids\n', 'kubepods/pod1/c1/cgroup.subtree_control': 'pids memory\n' })
  t.teardown(moved.done)
  t.deepEqual(await ownMemoryCgroup(moved), { dir: path.join(moved.unifiedRoot, 'kubepods/pod1/c1'), version: 2 })
})

test('no usable cgroup: no memory controller (v1 or v2), ours not visible; each says why', async (t) => {
  const noMemory = fakeFs('0::/\n', [''], { 'cgroup.controllers': 'cpu pids\n', 'cgroup.subtree_control': '' })
  t.teardown(noMemory.done)
  const r = await ownMemoryCgroup(noMemory)
  t.true('reason' in r && /memory controller is not available .*cgroup v2/.test(r.reason), JSON.stringify(r))
  for (const [text, why] of [['0::/system.slice/x\n', /not visible .*cgroup v2/], ['5:cpu:/x\n', /no memory cgroup controller/], ['4:memory:/elsewhere\n', /not visible/]] as const) {
    const f = fakeFs(text, [])
    t.teardown(f.done)
    const r = await ownMemoryCgroup(f)
    t.true('reason' in r && why.test(r.reason), JSON.stringify(r))
  }
})

test('the limit is heap + block cache + 128 MiB', (t) => {
  t.is(serverMemoryLimit(256, 256 * MiB), 640 * MiB)
  t.is(serverMemoryLimit(64, 0), 192 * MiB)
})
