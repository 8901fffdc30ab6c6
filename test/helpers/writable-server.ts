// A writable volume's FUSE server for integration tests: `ipfs-csi fuse-server --spec FILE` in a
// child process (never in the ava worker), at a fresh mountpoint, always taken down again.
import type { ExecutionContext } from 'ava'
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import type { KuboDaemon } from './kubo-daemon.js'
import { CLI, logFile } from './repo.js'
import { stopProcess } from './stop-process.js'
import type { FuseSpec } from '../../node-plugin/fuse/fuse-spec.js'

const execFileP = promisify(execFile)

export async function isMounted (dir: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8')
  return info.split('\n').some(line => line.split(' ')[4] === dir)
}

export async function waitFor (what: string, cond: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

export interface ServerOptions {
  capacityBytes?: number
  readOnly?: boolean
  readTimeoutMs?: number
  kuboTimeoutMs?: number
  name?: string
  /** Spill settings (spec.spillDir etc.); by default the spill root is under the server's own dir. */
  spill?: { dir?: string, maxBytes?: number, volumeMaxBytes?: number }
}

/** One FUSE server process serving `mfsPath` at a fresh mountpoint. */
export class WritableServer {
  private constructor (readonly dir: string, readonly mnt: string, readonly child: ChildProcess, readonly logPath: string) {}

  static async start (t: ExecutionContext, kubo: KuboDaemon, mfsPath: string, o: ServerOptions = {}): Promise<WritableServer> {
    const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-wfs-'))
    const mnt = path.join(dir, 'mnt')
    const spec: FuseSpec = {
      version: 1,
      volumeId: `wfs-${o.name ?? 'vol'}`,
      mountpoint: mnt,
      kuboApi: kubo.apiUrl,
      mode: 'writable',
      mfsPath,
      ...(o.capacityBytes !== undefined ? { capacityBytes: o.capacityBytes } : {}),
      readOnly: o.readOnly ?? false,
      readTimeoutMs: o.readTimeoutMs ?? 30_000,
      kuboTimeoutMs: o.kuboTimeoutMs ?? 30_000,
      blockCacheBytes: 0,
      readAheadBlocks: 0,
      logLevel: 'debug',
      ...(o.spill?.dir !== undefined ? { spillDir: o.spill.dir } : {}),
      ...(o.spill?.maxBytes !== undefined ? { spillMaxBytes: o.spill.maxBytes } : {}),
      ...(o.spill?.volumeMaxBytes !== undefined ? { spillVolumeMaxBytes: o.spill.volumeMaxBytes } : {})
    }
    const specPath = path.join(dir, 'spec.json')
    await writeFile(specPath, JSON.stringify(spec))
    const logPath = logFile(`writable-fs-${o.name ?? 'server'}`)
    const out = createWriteStream(logPath)
    // Spill files go below the test's dir, so whatever a server leaves behind is cleaned up with it.
    const child = spawn(process.execPath, [CLI, 'fuse-server', '--spec', specPath], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: dir } })
    child.stdout?.pipe(out)
    child.stderr?.pipe(out)
    const s = new WritableServer(dir, mnt, child, logPath)
    t.teardown(async () => await s.cleanup())
    const statusFile = path.join(dir, 'fuse-status.json')
    const deadline = Date.now() + 60_000
    for (;;) {
      const status = await readFile(statusFile, 'utf8').catch(() => '')
      if (status !== '' && await isMounted(mnt)) break
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`fuse-server exited (${child.exitCode ?? child.signalCode}) before mounting; log: ${logPath}\n${await readFile(logPath, 'utf8').catch(() => '')}`)
      }
      if (Date.now() > deadline) throw new Error(`fuse-server did not mount within 60 s; log: ${logPath}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    return s
  }

  p (...segs: string[]): string { return path.join(this.mnt, ...segs) }

  /** Where this server's spill files go when the spec names no spill dir ($TMPDIR is its dir). */
  get defaultSpillRoot (): string { return path.join(this.dir, 'ipfs-csi-spill') }

  /** SIGTERM: the server saves pending data and unmounts itself; returns its exit code. */
  /** SIGTERM, then the exit code, or the signal that ended the server instead (a crash shows as one). */
  async stop (): Promise<number | NodeJS.Signals | null> {
    const exited = new Promise<number | NodeJS.Signals | null>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) resolve(this.child.exitCode ?? this.child.signalCode)
      else this.child.once('exit', (code, signal) => resolve(code ?? signal))
    })
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => { try { this.child.kill('SIGKILL') } catch {} }, 60_000)
    const code = await exited
    clearTimeout(timer)
    return code
  }

  async cleanup (): Promise<void> {
    try { await stopProcess(this.child, 10_000) } catch {}
    if (await isMounted(this.mnt)) await execFileP('fusermount', ['-uz', this.mnt]).catch(() => {})
    await rm(this.dir, { recursive: true, force: true }).catch(() => {})
  }
}

