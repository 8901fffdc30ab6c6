// A real Kubo daemon for tests: temporary repo, loopback only, random ports, no bootstrap.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createWriteStream, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { IPFS_BIN, logFile } from './repo.js'
import { stopProcess } from './stop-process.js'

const execFileP = promisify(execFile)

export interface KuboDaemonOptions {
  /** Extra `ipfs config --json KEY VALUE` pairs applied before the daemon starts. */
  config?: Record<string, unknown>
  /** Start with --offline (no libp2p swarm). Default false. */
  offline?: boolean
  env?: Record<string, string>
  name?: string
}

export class KuboDaemon {
  readonly repo: string
  readonly options: KuboDaemonOptions
  apiUrl = ''
  gatewayUrl = ''
  child?: ChildProcess
  logPath = ''

  private constructor (repo: string, options: KuboDaemonOptions) {
    this.repo = repo
    this.options = options
  }

  static async start (options: KuboDaemonOptions = {}): Promise<KuboDaemon> {
    const repo = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-kubo-'))
    const d = new KuboDaemon(repo, options)
    await d.cli(['init', '--profile', 'test', '--empty-repo'])
    // test profile: loopback addresses with port 0, no bootstrap, no mDNS.
    await d.cli(['config', '--json', 'Addresses.API', '"/ip4/127.0.0.1/tcp/0"'])
    await d.cli(['config', '--json', 'Addresses.Gateway', '"/ip4/127.0.0.1/tcp/0"'])
    await d.cli(['config', '--json', 'Addresses.Swarm', '["/ip4/127.0.0.1/tcp/0"]'])
    await d.cli(['config', '--json', 'Bootstrap', '[]'])
    for (const [k, v] of Object.entries(options.config ?? {})) await d.cli(['config', '--json', k, JSON.stringify(v)])
    await d.launch()
    return d
  }

  get env (): NodeJS.ProcessEnv {
    return { ...process.env, IPFS_PATH: this.repo, IPFS_TELEMETRY: 'off', ...this.options.env }
  }

  /** Runs the ipfs CLI against this repo (through the running daemon's API when it is up). */
  async cli (args: string[], input?: string | Uint8Array, timeoutMs = 120_000): Promise<string> {
    const p = execFileP(IPFS_BIN, args, { env: this.env, maxBuffer: 256 * 1024 * 1024, timeout: timeoutMs, encoding: 'buffer' })
    if (input !== undefined) { p.child.stdin?.end(input) }
    const { stdout } = await p
    return stdout.toString('utf8')
  }

  async cliBytes (args: string[], timeoutMs = 120_000): Promise<Buffer> {
    const { stdout } = await execFileP(IPFS_BIN, args, { env: this.env, maxBuffer: 4 * 1024 * 1024 * 1024, timeout: timeoutMs, encoding: 'buffer' })
    return stdout
  }

  /** `ipfs add -Q` of a file or directory; extra flags e.g. ['--raw-leaves', '--cid-version=1']. */
  async add (p: string, flags: string[] = []): Promise<string> {
    return (await this.cli(['add', '-Q', '-r', ...flags, p])).trim()
  }

  async addBytes (data: Uint8Array, flags: string[] = []): Promise<string> {
    return (await this.cli(['add', '-Q', ...flags], data)).trim()
  }

  async launch (): Promise<void> {
    await rm(path.join(this.repo, 'api'), { force: true })
    this.logPath = logFile(`kubo-${this.options.name ?? 'daemon'}`)
    const out = createWriteStream(this.logPath, { flags: 'a' })
    const args = ['daemon', '--migrate=false']
    if (this.options.offline === true) args.push('--offline')
    const child = spawn(IPFS_BIN, args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    child.stderr.pipe(out)
    let stdout = ''
    const gateway = new Promise<string>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out.write(d)
        stdout += d.toString()
        const m = /Gateway server listening on \/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(stdout)
        if (m != null) resolve(`http://${m[1]}:${m[2]}`)
      })
    })
    const deadline = Date.now() + 90_000
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`kubo exited with ${child.exitCode}; log: ${this.logPath}\n${stdout}`)
      if (existsSync(path.join(this.repo, 'api')) && /Daemon is ready/.test(stdout)) break
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    if (!/Daemon is ready/.test(stdout)) throw new Error(`kubo did not become ready in 90 s; log: ${this.logPath}`)
    const ma = (await readFile(path.join(this.repo, 'api'), 'utf8')).trim()
    const m = /\/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(ma)
    if (m == null) throw new Error(`cannot parse api file ${ma}`)
    this.apiUrl = `http://${m[1]}:${m[2]}`
    this.gatewayUrl = await Promise.race([gateway, new Promise<string>(resolve => setTimeout(() => resolve(''), 2000))])
  }

  /** Stops the daemon (SIGTERM, then SIGKILL). */
  async stop (): Promise<void> {
    if (this.child != null) await stopProcess(this.child, 10_000)
  }

  /** Restarts on new ports (port 0). */
  async restart (): Promise<void> {
    await this.stop()
    await this.launch()
  }

  pause (): void { this.child?.kill('SIGSTOP') }
  resume (): void { this.child?.kill('SIGCONT') }

  async peerId (): Promise<string> { return (await this.cli(['id', '-f', '<id>'])).trim() }

  /** The flatfs file that stores a block (for corruption tests): sharded by next-to-last/2. */
  async blockFile (cid: string): Promise<string> {
    const key = (await this.cli(['cid', 'format', '-f', '%M', '-b', 'base32upper', cid])).trim().replace(/^B/, '')
    return path.join(this.repo, 'blocks', key.slice(-3, -1), `${key}.data`)
  }

  async dispose (): Promise<void> {
    await this.stop()
    await rm(this.repo, { recursive: true, force: true })
  }
}

export async function writeJson (p: string, v: unknown): Promise<void> { await writeFile(p, JSON.stringify(v)) }
