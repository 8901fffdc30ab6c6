// The process seam of the node service: starting, finding and stopping FUSE server processes,
// behind one interface so the stage/publish logic can be unit-tested with a fake that "mounts"
// in a fake mount table (test/helpers/fake-node-seams.ts), and runs real processes (here or in
// fuse-host, `--fuse-launcher`) in production.
import { findServerPids, isFuseServer, spawnFuseServer, stopFuseServer, waitMounted, type StartedServer } from './fuse-process.js'

export interface WaitMountedOptions { server: StartedServer, statusPath: string, mountpoint: string, logPath: string, timeoutMs: number, signal?: AbortSignal }

export interface FuseLauncher {
  /** Starts the FUSE server of the spec at `specPath`, its output appended to `logPath`. */
  start: (specPath: string, logPath: string, signal?: AbortSignal) => Promise<StartedServer>
  /** Resolves once the server reports its mount and the mount is in the table; CsiError otherwise. */
  waitMounted: (opts: WaitMountedOptions) => Promise<void>
  /** Kills a server that did not mount (no grace: it has nothing to flush). */
  kill: (server: StartedServer) => void
  /** Is `pid` a live FUSE server for `specPath`? */
  isRunning: (pid: number, specPath: string) => Promise<boolean>
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop: (pid: number, specPath: string, graceMs: number) => Promise<void>
  /** Live servers of `specPath` (ones that never wrote a status included). */
  findPids: (specPath: string) => Promise<number[]>
}

/** Real processes: spawned here (`local`) or by fuse-host over its socket (`unix://...`). */
export function processLauncher (launcher: string): FuseLauncher {
  return {
    start: async (specPath, logPath, signal) => await spawnFuseServer(specPath, logPath, { launcher, ...(signal !== undefined ? { signal } : {}) }),
    waitMounted,
    kill: (server) => { try { process.kill(server.pid, 'SIGKILL') } catch {} },
    isRunning: isFuseServer,
    stop: stopFuseServer,
    findPids: findServerPids
  }
}
