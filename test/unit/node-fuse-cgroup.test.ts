// Finding the spawner's v1 memory cgroup from /proc/self/cgroup (fake files here; the real
// hierarchy is exercised by test/integration/fuse-cgroup), and why none is used elsewhere.
import test from 'ava'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ownMemoryCgroup, serverMemoryLimit } from '../../node-plugin/fuse-cgroup.js'

const MiB = 1024 * 1024

function fakeFs (procSelf: string, procsAt: string[]): { procSelfCgroup: string, memoryRoot: string, done: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'ipfs-csi-cgroup-unit-'))
  const procSelfCgroup = path.join(dir, 'self-cgroup')
  writeFileSync(procSelfCgroup, procSelf)
  const memoryRoot = path.join(dir, 'memory')
  for (const rel of procsAt) {
    mkdirSync(path.join(memoryRoot, rel), { recursive: true })
    writeFileSync(path.join(memoryRoot, rel, 'cgroup.procs'), `1\n${process.pid}\n`)
  }
  return { procSelfCgroup, memoryRoot, done: () => rmSync(dir, { recursive: true, force: true }) }
}

test('v1: the memory line names our cgroup, found under the hierarchy or as its root (a container\'s view)', async (t) => {
  const host = fakeFs('5:cpu,cpuacct:/x\n4:memory:/kubepods/pod1/c1\n0::/\n', ['kubepods/pod1/c1'])
  t.teardown(host.done)
  t.deepEqual(await ownMemoryCgroup(host), { dir: path.join(host.memoryRoot, 'kubepods/pod1/c1') })
  const container = fakeFs('4:memory:/kubepods/pod1/c1\n', [''])
  t.teardown(container.done)
  t.deepEqual(await ownMemoryCgroup(container), { dir: container.memoryRoot })
})

test('no usable cgroup: v2 only, no memory controller, or ours not visible; each says why', async (t) => {
  for (const [text, why] of [['0::/system.slice/x\n', /cgroup v2/], ['5:cpu:/x\n', /no memory cgroup controller/], ['4:memory:/elsewhere\n', /not visible/]] as const) {
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
