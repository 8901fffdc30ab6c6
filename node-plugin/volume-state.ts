// Per-volume state on the node, one directory per volume under <stateDir>/volumes/<key>/:
//   state.json        what is staged where and which targets are published (this file)
//   spec.json         the FuseSpec handed to the FUSE server
//   fuse-status.json  written by the FUSE server once mounted (its pid)
//   fuse-server.log   the FUSE server's stdout/stderr
//   mnt/              mountpoint of an inline ephemeral volume (no staging path from kubelet)
// Files are written atomically (tmp + rename) so a crash never leaves a half-written state.
import { createHash } from 'node:crypto'
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'

export interface PublishedTarget {
  readOnly: boolean
}

export interface VolumeState {
  version: 1
  volumeId: string
  kind: 'content' | 'writable'
  /** describeSource() of what was staged; a re-stage naming other content is refused. */
  source: string
  /** Where the FUSE filesystem is mounted: the kubelet staging path, or <dir>/mnt when ephemeral. */
  stagingPath: string
  /** Inline ephemeral volume: torn down with its (only) target. */
  ephemeral: boolean
  /** The FUSE mount itself refuses writes. */
  readOnly: boolean
  targets: Record<string, PublishedTarget>
  stagedAt: string
}

export interface FuseStatus {
  pid: number
  mountpoint?: string
  mountedAt?: string
}

/** A fixed-length, path-safe key for any volume id (ids may contain "/" or be long). */
export const volumeKey = (volumeId: string): string => createHash('sha256').update(volumeId).digest('hex').slice(0, 32)

async function writeAtomic (file: string, data: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`
  await writeFile(tmp, data, { mode: 0o600 })
  await rename(tmp, file)
}

async function readJson<T> (file: string): Promise<T | undefined> {
  let text
  try { text = await readFile(file, 'utf8') } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try { return JSON.parse(text) as T } catch { return undefined }
}

export class VolumeStateStore {
  readonly root: string

  constructor (stateDir: string) {
    this.root = path.join(stateDir, 'volumes')
  }

  dirOf (volumeId: string): string { return path.join(this.root, volumeKey(volumeId)) }
  specPath (volumeId: string): string { return path.join(this.dirOf(volumeId), 'spec.json') }
  statusPath (volumeId: string): string { return path.join(this.dirOf(volumeId), 'fuse-status.json') }
  logPath (volumeId: string): string { return path.join(this.dirOf(volumeId), 'fuse-server.log') }
  ephemeralMountPath (volumeId: string): string { return path.join(this.dirOf(volumeId), 'mnt') }

  async ensureDir (volumeId: string): Promise<string> {
    const dir = this.dirOf(volumeId)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    return dir
  }

  async read (volumeId: string): Promise<VolumeState | undefined> {
    const s = await readJson<VolumeState>(path.join(this.dirOf(volumeId), 'state.json'))
    return s?.version === 1 && s.volumeId === volumeId ? s : undefined
  }

  async write (state: VolumeState): Promise<void> {
    await this.ensureDir(state.volumeId)
    await writeAtomic(path.join(this.dirOf(state.volumeId), 'state.json'), JSON.stringify(state, null, 2))
  }

  async writeSpec (volumeId: string, spec: unknown): Promise<string> {
    await this.ensureDir(volumeId)
    const p = this.specPath(volumeId)
    await writeAtomic(p, JSON.stringify(spec, null, 2))
    return p
  }

  async readStatus (volumeId: string): Promise<FuseStatus | undefined> {
    const s = await readJson<FuseStatus>(this.statusPath(volumeId))
    return s != null && Number.isSafeInteger(s.pid) && s.pid > 1 ? s : undefined
  }

  async remove (volumeId: string): Promise<void> {
    await rm(this.dirOf(volumeId), { recursive: true, force: true })
  }

  /** Every volume with a readable state file; directories without one are returned as orphans. */
  async list (): Promise<{ states: VolumeState[], orphans: string[] }> {
    let names: string[]
    try { names = await readdir(this.root) } catch { return { states: [], orphans: [] } }
    const states: VolumeState[] = []
    const orphans: string[] = []
    for (const name of names) {
      if (!/^[0-9a-f]{32}$/.test(name)) continue
      const s = await readJson<VolumeState>(path.join(this.root, name, 'state.json')).catch(() => undefined)
      if (s?.version === 1 && typeof s.volumeId === 'string' && volumeKey(s.volumeId) === name) states.push(s)
      else orphans.push(path.join(this.root, name))
    }
    return { states, orphans }
  }
}
