// Runs `ipfs-csi serve` as a real child process, like the DaemonSet does.
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createWriteStream, existsSync } from 'node:fs'
import { mkdtemp, mkdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import net from 'node:net'
import path from 'node:path'
import { CLI, logFile } from './repo.js'
import { stopProcess } from './stop-process.js'
import { csiClient, type CsiClient } from './csi-client.js'

export interface DriverOptions {
  kuboApi: string
  mode?: 'controller' | 'node' | 'all'
  nodeId?: string
  /** Reuse dirs across restarts. */
  dir?: string
  extraArgs?: string[]
  env?: Record<string, string>
  name?: string
}

export class DriverProcess {
  readonly dir: string
  readonly socketPath: string
  readonly stateDir: string
  readonly kubeletDir: string
  readonly options: DriverOptions
  child?: ChildProcess
  client?: CsiClient
  logPath = ''

  private constructor (dir: string, options: DriverOptions) {
    this.dir = dir
    this.options = options
    this.socketPath = path.join(dir, 'csi.sock')
    this.stateDir = path.join(dir, 'state')
    this.kubeletDir = path.join(dir, 'kubelet')
  }

  static async start (options: DriverOptions): Promise<DriverProcess> {
    const dir = options.dir ?? await mkdtemp(path.join(tmpdir(), 'ipfs-csi-driver-'))
    const d = new DriverProcess(dir, options)
    await mkdir(d.kubeletDir, { recursive: true })
    await d.launch()
    return d
  }

  args (): string[] {
    return ['serve', '--mode', this.options.mode ?? 'all', '--endpoint', `unix://${this.socketPath}`,
      '--node-id', this.options.nodeId ?? 'test-node', '--kubo-api', this.options.kuboApi,
      '--state-dir', this.stateDir, '--kubelet-dir', this.kubeletDir, '--log-level', 'debug', ...(this.options.extraArgs ?? [])]
  }

  async launch (): Promise<void> {
    await rm(this.socketPath, { force: true })
    this.logPath = logFile(`driver-${this.options.name ?? 'serve'}`)
    const out = createWriteStream(this.logPath, { flags: 'a' })
    const child = spawn(process.execPath, [CLI, ...this.args()], { env: { ...process.env, ...this.options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.pipe(out); child.stderr.pipe(out)
    this.child = child
    const deadline = Date.now() + 60_000
    // Ready when the socket accepts a connection, not when its file appears: a loaded machine can
    // leave a gap between the two, and a client then gets ECONNREFUSED.
    while (!(existsSync(this.socketPath) && await accepts(this.socketPath))) {
      if (child.exitCode !== null) throw new Error(`driver exited with ${child.exitCode}; log: ${this.logPath}`)
      if (Date.now() > deadline) throw new Error(`driver socket did not accept a connection in 60 s; log: ${this.logPath}`)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    this.client = csiClient(this.socketPath)
  }

  get csi (): CsiClient {
    if (this.client == null) throw new Error('driver not started')
    return this.client
  }

  /** Stops the gRPC process only; FUSE servers it started keep running. */
  async stop (): Promise<void> {
    this.client?.close()
    this.client = undefined
    if (this.child != null) await stopProcess(this.child)
  }

  async kill9 (): Promise<void> {
    this.client?.close()
    this.client = undefined
    if (this.child != null && this.child.exitCode === null) {
      const exited = new Promise(resolve => this.child?.once('exit', resolve))
      this.child.kill('SIGKILL')
      await exited
    }
  }

  async restart (): Promise<void> { await this.stop(); await this.launch() }

  /** The staging path kubelet hands us: <driver>/<sha256 of the volume handle>/globalmount. */
  stagingPath (volumeId: string): string { return path.join(this.kubeletDir, 'plugins/kubernetes.io/csi/ipfs.csi.dev', createHash('sha256').update(volumeId).digest('hex'), 'globalmount') }
  targetPath (pod: string, volumeId: string): string { return path.join(this.kubeletDir, 'pods', pod, 'volumes/kubernetes.io~csi', volumeId.replace(/[^A-Za-z0-9-]/g, '_').slice(0, 60), 'mount') }
}

async function accepts (socketPath: string): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const c = net.createConnection(socketPath)
    c.once('connect', () => { c.destroy(); resolve(true) })
    c.once('error', () => { c.destroy(); resolve(false) })
  })
}
