// What is mounted where, read from /proc/self/mountinfo. The node service never trusts its own
// state files alone: a mount may have been removed (or left behind) by anything.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fuseFsName } from './fuse/fuse-spec.js'

export interface MountEntry {
  id: number
  parentId: number
  /** The directory inside the source filesystem that is mounted (bind mounts show a subdir). */
  root: string
  mountPoint: string
  /** Per-mount options, e.g. "rw,nosuid,relatime" or "ro,...". */
  options: string[]
  fsType: string
  source: string
  superOptions: string[]
}

/** Undoes the octal escapes the kernel uses for space, tab, newline and backslash. */
export function unescapeMountField (s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)))
}

/** Parses mountinfo text (see proc(5)); malformed lines are skipped, never fatal. */
export function parseMountInfo (text: string): MountEntry[] {
  const out: MountEntry[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const fields = line.split(' ')
    // Optional fields end with a lone "-"; the three fields after it are fstype, source, super options.
    const sep = fields.indexOf('-', 6)
    if (fields.length < 10 || sep === -1 || fields.length < sep + 3) continue
    const id = Number(fields[0])
    const parentId = Number(fields[1])
    if (!Number.isInteger(id) || !Number.isInteger(parentId)) continue
    out.push({
      id,
      parentId,
      root: unescapeMountField(fields[3] as string),
      mountPoint: unescapeMountField(fields[4] as string),
      options: (fields[5] as string).split(','),
      fsType: fields[sep + 1] as string,
      source: unescapeMountField(fields[sep + 2] as string),
      superOptions: (fields[sep + 3] ?? '').split(',')
    })
  }
  return out
}

export async function readMountTable (file = '/proc/self/mountinfo'): Promise<MountEntry[]> {
  return parseMountInfo(await readFile(file, 'utf8'))
}

/** The top-most mount at exactly `mountPoint` (the last one listed wins when stacked). */
export function findMount (table: MountEntry[], mountPoint: string): MountEntry | undefined {
  const want = path.normalize(mountPoint).replace(/(.)\/+$/, '$1')
  let found: MountEntry | undefined
  for (const e of table) if (e.mountPoint === want) found = e
  return found
}

/** Every mount stacked at `mountPoint`, bottom first. */
export function mountsAt (table: MountEntry[], mountPoint: string): MountEntry[] {
  const want = path.normalize(mountPoint).replace(/(.)\/+$/, '$1')
  return table.filter(e => e.mountPoint === want)
}

export const isReadOnlyMount = (e: MountEntry): boolean => e.options.includes('ro')

/** Our FUSE servers mount with subtype ipfs-csi, so the kernel reports fuse.ipfs-csi. */
export const isOurFuseMount = (e: MountEntry): boolean => e.fsType === 'fuse.ipfs-csi' || e.source.startsWith('ipfs-csi:')

/** A mount of this volume's FUSE filesystem: the FUSE mount itself or a bind of it. */
export const isVolumeMount = (e: MountEntry, volumeId: string): boolean => e.fsType === 'fuse.ipfs-csi' && e.source === fuseFsName(volumeId)

export const mountById = (table: MountEntry[], id: number): MountEntry | undefined => table.find(e => e.id === id)

/**
 * Whether `e` was not in `before`. Mount ids are reused as soon as a mount goes (system-wide), so
 * an id alone does not say it: another volume unmounted between the two reads frees an id a new
 * bind may get. The same id at the same place on the same parent is the same mount.
 */
export const isNewMount = (before: MountEntry[], e: MountEntry): boolean => {
  const old = mountById(before, e.id)
  return old === undefined || old.mountPoint !== e.mountPoint || old.parentId !== e.parentId
}

/** The per-mount flags a bind into a pod must carry: `ro` when read-only, `nosuid` and `nodev` always. */
export const bindFlags = (readOnly: boolean): string[] => readOnly ? ['ro', 'nosuid', 'nodev'] : ['nosuid', 'nodev']

/** The flags of `bindFlags(readOnly)` that `e` lacks (a writable mount lacks `ro`). */
export const missingBindFlags = (e: MountEntry, readOnly: boolean): string[] => bindFlags(readOnly).filter(f => !e.options.includes(f))
