// A FUSE server mounts as root, then parses content it fetched: untrusted DAGs. With a run-as
// uid/gid (`--fuse-run-as`), it drops root once the mount is live and its status is written:
// everything it needs root for (the mount, its log, status file and metrics socket, the Kubo token)
// is opened before, and what it writes later (a writable volume's spill files) lives in a
// directory handed to that uid first. It can no longer unmount, so whoever stopped it detaches
// the mount (fuse-host, the node service, `ipfs-csi mount`'s unmount guard).
import { closeSync, constants as fsc, fchmodSync, fchownSync, fstatSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import type { RunAs } from '../../driver/config.js'

/** What /proc/<pid>/status says of a process's identity and privileges. */
export interface ProcCreds {
  /** Real, effective, saved, filesystem. */
  uids: number[]
  gids: number[]
  groups: number[]
  capEff: bigint
  capPrm: bigint
  noNewPrivs: boolean
}

export function readProcCreds (pid: number | 'self' = 'self'): ProcCreds {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name: string): string => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? ''
  const ids = (name: string): number[] => field(name).split(/\s+/).filter(x => x !== '').map(Number)
  return {
    uids: ids('Uid'),
    gids: ids('Gid'),
    groups: ids('Groups'),
    capEff: BigInt(`0x${field('CapEff') || '0'}`),
    capPrm: BigInt(`0x${field('CapPrm') || '0'}`),
    noNewPrivs: field('NoNewPrivs') === '1'
  }
}

/**
 * Drops to `runAs` for good: supplementary groups cleared, then gid, then uid (glibc applies each
 * to every thread, libfuse's and libuv's too). With every uid non-zero the kernel clears the
 * permitted and effective capabilities. Checked afterwards: anything left is an error, never a
 * server that only looks unprivileged.
 */
export function dropPrivileges (runAs: RunAs): ProcCreds {
  if (process.setgroups === undefined || process.setgid === undefined || process.setuid === undefined) throw new Error('cannot change uid on this platform')
  if (process.getuid?.() !== 0) throw new Error(`cannot run as ${runAs.uid}:${runAs.gid}: not started as root (uid ${String(process.getuid?.())})`)
  process.setgroups([])
  process.setgid(runAs.gid)
  process.setuid(runAs.uid)
  const creds = readProcCreds()
  const problems: string[] = []
  if (!creds.uids.every(u => u === runAs.uid)) problems.push(`uids ${creds.uids.join(' ')}`)
  if (!creds.gids.every(g => g === runAs.gid)) problems.push(`gids ${creds.gids.join(' ')}`)
  if (creds.groups.length > 0) problems.push(`groups ${creds.groups.join(' ')}`)
  if (creds.capEff !== 0n || creds.capPrm !== 0n) problems.push(`capabilities eff ${creds.capEff.toString(16)} prm ${creds.capPrm.toString(16)}`)
  if (problems.length > 0) throw new Error(`privileges not fully dropped: ${problems.join(', ')}`)
  return creds
}

/**
 * Makes `dir` (if missing) and hands it to `runAs`, mode 0700, through a descriptor opened without
 * following a symlink at its name: root chowns only the directory it checked.
 */
export function handOverDir (dir: string, runAs: RunAs): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW)
  try {
    if (!fstatSync(fd).isDirectory()) throw new Error(`${dir} is not a directory`)
    fchownSync(fd, runAs.uid, runAs.gid)
    fchmodSync(fd, 0o700)
  } finally {
    closeSync(fd)
  }
}
