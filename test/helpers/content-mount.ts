// Runs `ipfs-csi mount` as a child process for content-fs tests (a FUSE server must never live
// in the ava worker: its own synchronous fs calls would deadlock it), waits for the mount in
// /proc/self/mountinfo, and always takes it down again.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { CLI, logFile } from './repo.js'
import { stopProcess } from './stop-process.js'

const execFileP = promisify(execFile)

export async function isMounted (dir: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8')
  return info.split('\n').some(line => line.split(' ')[4] === dir)
}

export interface MountOptions {
  readTimeoutMs?: number
  extraArgs?: string[]
  name?: string
}

export class ContentMount {
  readonly dir: string
  readonly child: ChildProcess
  readonly logPath: string

  private constructor (dir: string, child: ChildProcess, logPath: string) {
    this.dir = dir
    this.child = child
    this.logPath = logPath
  }

  static async start (handle: string, kuboApi: string, opts: MountOptions = {}): Promise<ContentMount> {
    const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-content-'))
    const logPath = logFile(`content-mount-${opts.name ?? 'mount'}`)
    const out = createWriteStream(logPath)
    const args = [CLI, 'mount', handle, dir, '--kubo-api', kuboApi, '--log-level', 'debug']
    if (opts.readTimeoutMs !== undefined) args.push('--read-timeout-ms', String(opts.readTimeoutMs))
    args.push(...(opts.extraArgs ?? []))
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout?.pipe(out)
    child.stderr?.pipe(out)
    const m = new ContentMount(dir, child, logPath)
    const deadline = Date.now() + 60_000
    while (!(await isMounted(dir))) {
      if (child.exitCode !== null || child.signalCode !== null) {
        await rm(dir, { recursive: true, force: true })
        throw new Error(`ipfs-csi mount exited (${child.exitCode ?? child.signalCode}) before mounting; log: ${logPath}\n${await readFile(logPath, 'utf8').catch(() => '')}`)
      }
      if (Date.now() > deadline) {
        await m.stop()
        throw new Error(`mount did not appear within 60 s; log: ${logPath}`)
      }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    return m
  }

  path (...segs: string[]): string { return path.join(this.dir, ...segs) }

  async log (): Promise<string> { return await readFile(this.logPath, 'utf8').catch(() => '') }

  /** SIGTERM (the command unmounts), then a lazy unmount in case it could not, then the dir. */
  async stop (): Promise<void> {
    await stopProcess(this.child, 10_000)
    if (await isMounted(this.dir)) await execFileP('fusermount', ['-uz', this.dir]).catch(() => {})
    await rm(this.dir, { recursive: true, force: true }).catch(() => {})
  }
}

/** Runs `ipfs-csi mount` expecting it to refuse: returns its exit code and stderr. */
export async function runMountExpectingExit (args: string[], timeoutMs = 30_000): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'mount', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  clearTimeout(timer)
  return { code, stderr }
}
