// A real IPFS Cluster peer (ipfs-cluster-service) for tests: temporary config dir, loopback only,
// free ports, CRDT consensus with a shared secret and explicit trusted peers, REST API with basic
// auth, short monitoring intervals so a lost peer is noticed (and its pins re-allocated) in seconds.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { TOOLS_BIN, logFile } from './repo.js'
import { stopProcess } from './stop-process.js'

const execFileP = promisify(execFile)
export const CLUSTER_SERVICE_BIN = path.join(TOOLS_BIN, 'ipfs-cluster-service')
export const CLUSTER_CTL_BIN = path.join(TOOLS_BIN, 'ipfs-cluster-ctl')

export { freePort } from './free-port.js'
import { freePort } from './free-port.js'

export interface ClusterPeerOptions {
  name: string
  /** Kubo RPC API this peer manages, e.g. http://127.0.0.1:5001 */
  kuboApi: string
  secret: string
  basicAuth: { user: string, password: string }
}

export class ClusterPeer {
  readonly dir: string
  readonly options: ClusterPeerOptions
  peerId = ''
  swarmPort = 0
  restPort = 0
  child?: ChildProcess
  logPath = ''
  private peers: ClusterPeer[] = []

  private constructor (dir: string, options: ClusterPeerOptions) {
    this.dir = dir
    this.options = options
  }

  get restUrl (): string { return `http://127.0.0.1:${this.restPort}` }
  get swarmAddr (): string { return `/ip4/127.0.0.1/tcp/${this.swarmPort}/p2p/${this.peerId}` }
  get authHeader (): string { return 'Basic ' + Buffer.from(`${this.options.basicAuth.user}:${this.options.basicAuth.password}`).toString('base64') }

  /** `init` only: the identity exists afterwards, so all peers can be told about each other before any starts. */
  static async init (options: ClusterPeerOptions): Promise<ClusterPeer> {
    const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-cluster-'))
    const p = new ClusterPeer(dir, options)
    await execFileP(CLUSTER_SERVICE_BIN, ['--config', dir, 'init', '--consensus', 'crdt', '--datastore', 'pebble', '--force'], { env: { ...process.env, CLUSTER_SECRET: options.secret }, timeout: 60_000 })
    p.peerId = JSON.parse(await readFile(path.join(dir, 'identity.json'), 'utf8')).id as string
    p.swarmPort = await freePort()
    p.restPort = await freePort()
    return p
  }

  /** Writes service.json: every listener on loopback, the other peers as addresses and trusted peers. */
  async configure (peers: ClusterPeer[]): Promise<void> {
    this.peers = peers
    const file = path.join(this.dir, 'service.json')
    const cfg = JSON.parse(await readFile(file, 'utf8'))
    const kubo = new URL(this.options.kuboApi)
    Object.assign(cfg.cluster, {
      peername: this.options.name,
      secret: this.options.secret,
      listen_multiaddress: [`/ip4/127.0.0.1/tcp/${this.swarmPort}`],
      peer_addresses: peers.filter(q => q !== this).map(q => q.swarmAddr),
      mdns_interval: '0s',
      enable_relay_hop: false,
      // Short intervals: a stopped peer's ping expires in ~2x this, then its pins are re-allocated.
      monitor_ping_interval: '2s',
      peer_watch_interval: '2s',
      state_sync_interval: '10s',
      pin_recover_interval: '10s',
      disable_repinning: false,
      replication_factor_min: -1,
      replication_factor_max: -1
    })
    cfg.consensus.crdt.trusted_peers = peers.map(q => q.peerId)
    cfg.consensus.crdt.cluster_name = 'ipfs-csi-test'
    if (cfg.consensus.crdt.batching !== undefined) cfg.consensus.crdt.batching.max_batch_size = 0
    cfg.api.restapi.http_listen_multiaddress = `/ip4/127.0.0.1/tcp/${this.restPort}`
    cfg.api.restapi.basic_auth_credentials = { [this.options.basicAuth.user]: this.options.basicAuth.password }
    // The APIs tests do not use still listen: on free loopback ports, never on defaults.
    // Port 0: nobody needs to find these.
    if (cfg.api.ipfsproxy !== undefined) {
      cfg.api.ipfsproxy.listen_multiaddress = '/ip4/127.0.0.1/tcp/0'
      cfg.api.ipfsproxy.node_multiaddress = `/ip4/${kubo.hostname}/tcp/${kubo.port}`
    }
    if (cfg.api.pinsvcapi !== undefined) cfg.api.pinsvcapi.http_listen_multiaddress = '/ip4/127.0.0.1/tcp/0'
    cfg.ipfs_connector.ipfshttp.node_multiaddress = `/ip4/${kubo.hostname}/tcp/${kubo.port}`
    if (cfg.monitor?.pubsubmon !== undefined) cfg.monitor.pubsubmon.check_interval = '2s'
    if (cfg.informer?.disk !== undefined) cfg.informer.disk.metric_ttl = '5s'
    if (cfg.informer?.pinqueue !== undefined) cfg.informer.pinqueue.metric_ttl = '5s'
    if (cfg.informer?.tags !== undefined) cfg.informer.tags.metric_ttl = '5s'
    await writeFile(file, JSON.stringify(cfg, null, 2))
  }

  /** Starts the daemon; a port taken meanwhile by someone else → new ports and another try. */
  async launch (): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.launchOnce()
      } catch (err) {
        const log = await readFile(this.logPath, 'utf8').catch(() => '')
        if (attempt >= 3 || !/address already in use/.test(log)) throw err
        this.swarmPort = await freePort()
        this.restPort = await freePort()
        await this.configure(this.peers)
      }
    }
  }

  private async launchOnce (): Promise<void> {
    this.logPath = logFile(`cluster-${this.options.name}`)
    const out = createWriteStream(this.logPath, { flags: 'a' })
    const child = spawn(CLUSTER_SERVICE_BIN, ['--config', this.dir, 'daemon'], { env: { ...process.env, CLUSTER_SECRET: this.options.secret }, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    child.stdout.pipe(out); child.stderr.pipe(out)
    const deadline = Date.now() + 90_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`ipfs-cluster-service exited with ${child.exitCode}; log: ${this.logPath}`)
      try {
        const res = await fetch(`${this.restUrl}/id`, { headers: { authorization: this.authHeader }, signal: AbortSignal.timeout(2000) })
        if (res.ok) return
      } catch {}
      if (Date.now() > deadline) throw new Error(`cluster peer ${this.options.name} REST API not up in 90 s; log: ${this.logPath}`)
      await new Promise(resolve => setTimeout(resolve, 250))
    }
  }

  /** GET on the REST API; list endpoints stream one JSON object per line. */
  async get (p: string): Promise<any> {
    const res = await fetch(this.restUrl + p, { headers: { authorization: this.authHeader }, signal: AbortSignal.timeout(15_000) })
    const text = await res.text()
    if (!res.ok) throw new Error(`cluster GET ${p}: ${res.status} ${text}`)
    return parseJsonStream(text)
  }

  async stop (): Promise<void> {
    if (this.child != null) await stopProcess(this.child, 10_000)
  }

  async dispose (): Promise<void> {
    await this.stop()
    await rm(this.dir, { recursive: true, force: true })
  }
}

/** One JSON value, or several concatenated/newline-separated ones (returned as an array). */
export function parseJsonStream (text: string): any {
  const t = text.trim()
  if (t === '') return []
  try { return JSON.parse(t) } catch {}
  return t.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l))
}
