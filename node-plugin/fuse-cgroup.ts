// Each FUSE server in a memory cgroup of its own, a child of its spawner's (fuse-host's), so the
// server of one bad volume that grows past its limit is OOM-killed alone instead of pushing the
// container to its limit, where the kernel (or, on cgroup v2 nodes, Kubernetes' memory.oom.group)
// may take other volumes' servers with it. The limit is the server's V8 heap, its block cache
// and 128 MiB for the rest (code, buffers, libfuse).
//
// cgroup v1 only (the memory controller mounted at /sys/fs/cgroup/memory, writable: a privileged
// container). On cgroup v2 the spawner would first have to leave its own cgroup for a leaf (the
// "no internal processes" rule) to enable the memory controller for children: not done, and the
// server runs without a cgroup of its own (reported, never fatal).
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises'
import path from 'node:path'

export const CGROUP_PREFIX = 'ipfs-csi-fuse-'
const OVERHEAD_BYTES = 128 * 1024 * 1024
const MiB = 1024 * 1024

export interface CgroupFs {
  /** /proc/self/cgroup of the spawner. */
  procSelfCgroup: string
  /** Where the v1 memory hierarchy is mounted. */
  memoryRoot: string
}

export const SYSTEM_CGROUP_FS: CgroupFs = { procSelfCgroup: '/proc/self/cgroup', memoryRoot: '/sys/fs/cgroup/memory' }

/** The memory limit of a server with this heap and block cache. */
export function serverMemoryLimit (maxHeapMiB: number, blockCacheBytes: number): number {
  return maxHeapMiB * MiB + Math.max(0, blockCacheBytes) + OVERHEAD_BYTES
}

/** The spawner's own v1 memory cgroup directory, or why children cannot be made there. */
export async function ownMemoryCgroup (fs: CgroupFs = SYSTEM_CGROUP_FS): Promise<{ dir: string } | { reason: string }> {
  let text: string
  try { text = await readFile(fs.procSelfCgroup, 'utf8') } catch (err) { return { reason: `cannot read ${fs.procSelfCgroup}: ${(err as Error).message}` } }
  const line = text.split('\n').find(l => l.split(':')[1]?.split(',').includes('memory') === true)
  if (line === undefined) {
    return { reason: text.split('\n').some(l => l.startsWith('0::')) ? 'cgroup v2 only: per-server memory cgroups are made on cgroup v1 nodes' : 'no memory cgroup controller' }
  }
  const rel = line.split(':').slice(2).join(':')
  // A container often sees its own cgroup mounted as the hierarchy's root.
  for (const dir of [path.join(fs.memoryRoot, rel), fs.memoryRoot]) {
    const procs = await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '')
    if (procs.split('\n').includes(String(process.pid))) return { dir }
  }
  return { reason: `our memory cgroup ${rel} is not visible under ${fs.memoryRoot}` }
}

export interface Placement {
  /** The server's cgroup directory. */
  dir?: string
  /** Why the server runs in its spawner's cgroup instead. */
  skipped?: string
}

/**
 * Moves `pid` into `<own cgroup>/ipfs-csi-fuse-<name>` limited to `limitBytes` (made now, charges
 * of anonymous memory moving along), after removing such cgroups that are empty (servers gone).
 */
export async function placeInOwnCgroup (pid: number, name: string, limitBytes: number, fs: CgroupFs = SYSTEM_CGROUP_FS): Promise<Placement> {
  const own = await ownMemoryCgroup(fs)
  if ('reason' in own) return { skipped: own.reason }
  await sweepEmpty(own.dir)
  const dir = path.join(own.dir, `${CGROUP_PREFIX}${name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100)}.${pid}`)
  try {
    await mkdir(dir)
    await writeFile(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes))
    // What the server allocated before the move is charged here too (not on every kernel: best effort).
    await writeFile(path.join(dir, 'memory.move_charge_at_immigrate'), '1').catch(() => {})
    await writeFile(path.join(dir, 'cgroup.procs'), String(pid))
    return { dir }
  } catch (err) {
    await rmdir(dir).catch(() => {})
    return { skipped: `cannot make ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }
  }
}

/** Removes our per-server cgroups that hold no process any more (rmdir refuses busy ones). */
export async function sweepEmpty (ownDir: string): Promise<number> {
  let removed = 0
  for (const name of await readdir(ownDir).catch(() => [] as string[])) {
    if (!name.startsWith(CGROUP_PREFIX)) continue
    const dir = path.join(ownDir, name)
    const procs = await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => 'unreadable')
    if (procs.trim() !== '') continue
    await rmdir(dir).then(() => { removed++ }, () => {})
  }
  return removed
}
