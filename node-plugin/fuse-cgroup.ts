// Each FUSE server in a memory cgroup of its own, a child of its spawner's (fuse-host's), so the
// server of one bad volume that grows past its limit is OOM-killed alone instead of pushing the
// container to its limit, where the kernel (or, on cgroup v2 nodes, Kubernetes' memory.oom.group)
// may take other volumes' servers with it. The limit is the server's V8 heap, its block cache
// and 128 MiB for the rest (code, buffers, libfuse).
//
// cgroup v1: the memory controller mounted at /sys/fs/cgroup/memory, writable (a privileged
// container); children are made in the spawner's own memory cgroup.
// cgroup v2: children of a cgroup with processes of its own cannot get controllers (the "no
// internal processes" rule), so the spawner first moves every process of its cgroup (the
// container's) into a leaf, `ipfs-csi-spawner`, then enables memory for children; the container's
// own limit still holds over all of them. Where that is refused the server runs without a cgroup
// of its own (reported, never fatal).
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises'
import path from 'node:path'

export const CGROUP_PREFIX = 'ipfs-csi-fuse-'
/** cgroup v2: the leaf the spawner's cgroup's own processes move to. */
export const SPAWNER_LEAF = 'ipfs-csi-spawner'
const OVERHEAD_BYTES = 128 * 1024 * 1024
const MiB = 1024 * 1024

/** A cgroup v2 controller and the files that limit a child (required ones must be written). */
export interface V2Controller {
  name: string
  limits: (bytes: number) => Array<{ file: string, value: string, required: boolean }>
}

/** memory.max; no swap; the server's threads die together (never half a server). */
export const V2_MEMORY: V2Controller = {
  name: 'memory',
  limits: (bytes) => [
    { file: 'memory.max', value: String(bytes), required: true },
    { file: 'memory.swap.max', value: '0', required: false },
    { file: 'memory.oom.group', value: '1', required: false }
  ]
}

export interface CgroupFs {
  /** /proc/self/cgroup of the spawner. */
  procSelfCgroup: string
  /** Where the v1 memory hierarchy is mounted. */
  memoryRoot: string
  /** Where the v2 (unified) hierarchy is mounted. */
  unifiedRoot: string
  /** What a v2 child is limited by. */
  v2: V2Controller
}

export const SYSTEM_CGROUP_FS: CgroupFs = { procSelfCgroup: '/proc/self/cgroup', memoryRoot: '/sys/fs/cgroup/memory', unifiedRoot: '/sys/fs/cgroup', v2: V2_MEMORY }

/** The memory limit of a server with this heap and block cache. */
export function serverMemoryLimit (maxHeapMiB: number, blockCacheBytes: number): number {
  return maxHeapMiB * MiB + Math.max(0, blockCacheBytes) + OVERHEAD_BYTES
}

export type OwnCgroup = { dir: string, version: 1 | 2 } | { reason: string }

const listsPid = async (dir: string, pid: number): Promise<boolean> =>
  (await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').includes(String(pid))

/** Our cgroup's directory under `root` (`rel` from /proc/self/cgroup); a container often sees its own as the root. */
async function findOwn (root: string, rel: string): Promise<string | undefined> {
  for (const dir of [path.resolve(path.join(root, rel)), root]) if (await listsPid(dir, process.pid)) return dir
  return undefined
}

/**
 * The cgroup whose children the spawner's servers go to: its v1 memory cgroup, or on cgroup v2
 * its own (the container's; the parent of `ipfs-csi-spawner` once it moved there), or why none.
 */
export async function ownMemoryCgroup (fs: CgroupFs = SYSTEM_CGROUP_FS): Promise<OwnCgroup> {
  let text: string
  try { text = await readFile(fs.procSelfCgroup, 'utf8') } catch (err) { return { reason: `cannot read ${fs.procSelfCgroup}: ${(err as Error).message}` } }
  const lines = text.split('\n')
  const v1 = lines.find(l => l.split(':')[1]?.split(',').includes('memory') === true)
  if (v1 !== undefined) {
    const rel = v1.split(':').slice(2).join(':')
    const dir = await findOwn(fs.memoryRoot, rel)
    return dir !== undefined ? { dir, version: 1 } : { reason: `our memory cgroup ${rel} is not visible under ${fs.memoryRoot}` }
  }
  const v2 = lines.find(l => l.startsWith('0::'))
  if (v2 === undefined) return { reason: 'no memory cgroup controller' }
  const rel = v2.slice(3)
  const found = await findOwn(fs.unifiedRoot, rel)
  if (found === undefined) return { reason: `our cgroup ${rel} is not visible under ${fs.unifiedRoot} (cgroup v2)` }
  const dir = path.basename(found) === SPAWNER_LEAF ? path.dirname(found) : found
  const ctrl = fs.v2.name
  const controllers = (await readFile(path.join(dir, 'cgroup.controllers'), 'utf8').catch(() => '')).trim().split(/\s+/)
  if (!controllers.includes(ctrl)) return { reason: `the ${ctrl} controller is not available in ${dir} (cgroup v2)` }
  const enabled = async (): Promise<boolean> => (await readFile(path.join(dir, 'cgroup.subtree_control'), 'utf8').catch(() => '')).trim().split(/\s+/).includes(ctrl)
  if (await enabled()) return { dir, version: 2 }
  const moved = await leaveForLeaf(dir)
  try {
    await writeFile(path.join(dir, 'cgroup.subtree_control'), `+${ctrl}`)
  } catch (err) {
    // Another spawner (a restart racing the old one) may have enabled it meanwhile.
    if (await enabled()) return { dir, version: 2 }
    return { reason: `cannot enable ${ctrl} for the children of ${dir} (cgroup v2, ${moved} processes moved to ${SPAWNER_LEAF}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }
  }
  return { dir, version: 2 }
}

/** Moves every process of `dir` into `dir/ipfs-csi-spawner` (made now); returns how many moved. */
async function leaveForLeaf (dir: string): Promise<number> {
  const leaf = path.join(dir, SPAWNER_LEAF)
  await mkdir(leaf).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err })
  let moved = 0
  // Processes forked meanwhile land in `dir` too: a few passes.
  for (let pass = 0; pass < 5; pass++) {
    const pids = (await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(p => /^\d+$/.test(p))
    if (pids.length === 0) break
    for (const pid of pids) {
      // A process that exited meanwhile, or a kernel thread, is left where it is.
      await writeFile(path.join(leaf, 'cgroup.procs'), pid).then(() => { moved++ }, () => {})
    }
  }
  return moved
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
  let own: OwnCgroup
  try { own = await ownMemoryCgroup(fs) } catch (err) { return { skipped: `cannot set up cgroups: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` } }
  if ('reason' in own) return { skipped: own.reason }
  await sweepEmpty(own.dir)
  const dir = path.join(own.dir, `${CGROUP_PREFIX}${name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100)}.${pid}`)
  try {
    await mkdir(dir)
    if (own.version === 1) {
      await writeFile(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes))
      // What the server allocated before the move is charged here too (not on every kernel: best effort).
      await writeFile(path.join(dir, 'memory.move_charge_at_immigrate'), '1').catch(() => {})
    } else {
      // v2 never moves charges: what the server allocated before the move stays with the spawner's.
      for (const { file, value, required } of fs.v2.limits(limitBytes)) {
        await writeFile(path.join(dir, file), value).catch((err: Error) => { if (required) throw err })
      }
    }
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
