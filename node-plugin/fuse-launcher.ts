// The process seam of the node service: starting, finding and stopping FUSE server processes,
// behind one interface so the stage/publish logic can be unit-tested with a fake that "mounts"
// in a fake mount table (test/helpers/fake-node-seams.ts), and runs real processes (here or in
// fuse-host, `--fuse-launcher`) in production.
import type { RunAs } from '../driver/config.js'
import { findServerPids, isFuseServer, remoteFindPids, remoteIsRunning, remoteStop, spawnFuseServer, stopFuseServer, waitMounted, type StartedServer } from './fuse-process.js'

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

/**
 * Real processes: spawned here (`local`) or by fuse-host over its socket (`unix://...`). With
 * fuse-host, the servers are in its PID namespace (the node data-plane pod), so finding and
 * stopping them is asked of it too.
 */
export function processLauncher (launcher: string, runAs?: RunAs): FuseLauncher {
  if (launcher.startsWith('unix://')) return socketLauncher(launcher)
  return {
    start: async (specPath, logPath, signal) => await spawnFuseServer(specPath, logPath, { launcher, ...(signal !== undefined ? { signal } : {}), ...(runAs !== undefined ? { runAs } : {}) }),
    waitMounted,
    kill: (server) => { try { process.kill(server.pid, 'SIGKILL') } catch {} },
    isRunning: isFuseServer,
    stop: stopFuseServer,
    findPids: findServerPids
  }
}

function socketLauncher (launcher: string): FuseLauncher {
  const socketPath = launcher.slice('unix://'.length)
  // The spec of each server started here and not yet mounted, for kill (which gets the server only).
  const specs = new Map<number, string>()
  return {
    start: async (specPath, logPath, signal) => {
      const server = await spawnFuseServer(specPath, logPath, { launcher, ...(signal !== undefined ? { signal } : {}) })
      specs.set(server.pid, specPath)
      void server.exited.then(() => specs.delete(server.pid))
      return server
    },
    waitMounted: async (opts) => {
      await waitMounted(opts)
      specs.delete(opts.server.pid)
    },
    // Its exit is still watched (by polling fuse-host), so the caller can wait for it.
    kill: (server) => {
      const specPath = specs.get(server.pid)
      if (specPath !== undefined) void remoteStop(socketPath, specPath, server.pid, 0).catch(() => {})
    },
    isRunning: async (pid, specPath) => await remoteIsRunning(socketPath, pid, specPath),
    stop: async (pid, specPath, graceMs) => await remoteStop(socketPath, specPath, pid, graceMs),
    findPids: async (specPath) => await remoteFindPids(socketPath, specPath)
  }
}
