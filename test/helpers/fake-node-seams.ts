// Fakes of the node service's two seams (node-plugin/mounter.ts, fuse-launcher.ts): an in-memory
// mount table, and "FUSE servers" that mount there and report through the real status file. The
// stage/publish/heal logic runs unchanged on top of them, without root, FUSE or processes.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import type { BindOptions, Mounter } from '../../node-plugin/mounter.js'
import { openDirUnder } from '../../node-plugin/safe-mount.js'
import type { FuseLauncher, WaitMountedOptions } from '../../node-plugin/fuse-launcher.js'
import type { MountEntry } from '../../node-plugin/mount-table.js'
import type { StartedServer } from '../../node-plugin/fuse-process.js'
import { Code, CsiError } from '../../driver/errors.js'

export class FakeMounter implements Mounter {
  readonly entries: MountEntry[] = []
  /** Mount points whose statfs fails as if the FUSE server died. */
  readonly dead = new Set<string>()
  private nextId = 100

  add (mountPoint: string, fsType: string, source: string, readOnly: boolean): void {
    this.dead.delete(mountPoint) // a new mount there is alive
    this.entries.push({ id: this.nextId++, parentId: 1, root: '/', mountPoint, options: [readOnly ? 'ro' : 'rw', 'nosuid', 'nodev'], fsType, source, superOptions: [] })
  }

  async table (): Promise<MountEntry[]> { return this.entries.map(e => ({ ...e })) }

  async bind (src: string, dst: string, options: BindOptions): Promise<void> {
    const from = [...this.entries].reverse().find(e => e.mountPoint === src)
    if (from === undefined) throw new CsiError(Code.INTERNAL, `mount --bind ${src}: not mounted (fake)`)
    if (!options.isSource(from)) throw new CsiError(Code.FAILED_PRECONDITION, `${src} is not this volume's mount (fake)`)
    // The real target checks (no symlink followed, a directory, made when missing), no mount.
    await (await openDirUnder(options.dstRoot, dst, 'target_path', { create: true })).close()
    this.add(dst, from.fsType, from.source, options.readOnly)
  }

  async unmount (m: MountEntry): Promise<void> {
    const i = this.entries.findIndex(e => e.id === m.id)
    if (i >= 0) this.entries.splice(i, 1)
  }
  async fuseUnmount (p: string): Promise<void> { this.removeTop(p) }

  async probe (p: string): Promise<{ ok: true, usage: { frsize: number, blocks: number, bfree: number, bavail: number, files: number, ffree: number } } | { ok: false, reason: 'notconn', message: string }> {
    if (this.dead.has(p)) return { ok: false, reason: 'notconn', message: `${p}: transport endpoint is not connected (fake)` }
    return { ok: true, usage: { frsize: 4096, blocks: 10, bfree: 0, bavail: 0, files: 0, ffree: 0 } }
  }

  private removeTop (p: string): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if ((this.entries[i] as MountEntry).mountPoint === p) { this.entries.splice(i, 1); return }
    }
  }
}

/** Servers that "mount" the spec's mountpoint in the fake table and write the status file. */
export class FakeLauncher implements FuseLauncher {
  /** pid → spec path of the servers running. */
  readonly running = new Map<number, string>()
  started = 0
  private nextPid = 50_000

  constructor (private readonly mounter: FakeMounter) {}

  async start (specPath: string): Promise<StartedServer> {
    const spec = JSON.parse(await readFile(specPath, 'utf8')) as { mountpoint: string, volumeId: string, readOnly: boolean }
    const pid = this.nextPid++
    this.running.set(pid, specPath)
    this.started++
    await mkdir(spec.mountpoint, { recursive: true }) // as the FUSE server does (mkdir: true)
    this.mounter.add(spec.mountpoint, 'fuse.ipfs-csi', `ipfs-csi:${spec.volumeId}`, spec.readOnly)
    await writeFile(specPath.replace(/spec\.json$/, 'fuse-status.json'), JSON.stringify({ pid, mountpoint: spec.mountpoint }))
    return { pid, exited: new Promise(() => {}) }
  }

  async waitMounted (opts: WaitMountedOptions): Promise<void> {
    if (!(await this.mounter.table()).some(e => e.mountPoint === opts.mountpoint)) throw new CsiError(Code.INTERNAL, 'fake server did not mount')
  }

  kill (server: StartedServer): void { this.running.delete(server.pid) }
  async isRunning (pid: number, specPath: string): Promise<boolean> { return this.running.get(pid) === specPath }
  async stop (pid: number): Promise<void> { this.running.delete(pid) }
  async findPids (specPath: string): Promise<number[]> { return [...this.running].filter(([, s]) => s === specPath).map(([p]) => p) }
}
