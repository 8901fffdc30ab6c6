// The many-nodes topology on loopback: three "storage" Kubo daemons, each with an IPFS Cluster
// peer (CRDT, shared secret, trusted peers), and "node-local" Kubo daemons that only know the
// storage nodes through Peering.Peers (no bootstrap, no public routing: content reaches them over
// bitswap from peers only), each serving a node plugin (`serve --mode node`) with its own node id.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { KuboDaemon } from './kubo-daemon.js'
import { ClusterPeer } from './ipfs-cluster.js'
import { DriverProcess } from './driver-process.js'

export interface StoragePeer { name: string, kubo: KuboDaemon, cluster: ClusterPeer, kuboPeerId: string }
export interface NodeLocal { name: string, kubo: KuboDaemon, driver: DriverProcess }

/** Kubo settings shared by every daemon here: no public routing, so peers are the only source. */
const PRIVATE_KUBO = {
  'Routing.Type': 'none',
  'Discovery.MDNS.Enabled': false,
  'Swarm.RelayClient.Enabled': false,
  'Swarm.RelayService.Enabled': false,
  'AutoNAT.ServiceMode': 'disabled'
}

async function swarmAddrOf (kubo: KuboDaemon): Promise<{ ID: string, Addrs: string[] }> {
  const id = JSON.parse(await kubo.cli(['id'])) as { ID: string, Addresses: string[] | null }
  const addrs = (id.Addresses ?? []).filter(a => a.startsWith('/ip4/127.0.0.1/tcp/')).map(a => a.replace(/\/p2p\/.*$/, ''))
  return { ID: id.ID, Addrs: addrs }
}

export interface StorageClusterOptions {
  nodes?: number
  /** Extra args for every node plugin. */
  nodeArgs?: string[]
}

export class StorageCluster {
  readonly storage: StoragePeer[] = []
  readonly nodes: NodeLocal[] = []
  readonly basicAuth = { user: 'csi', password: randomBytes(12).toString('hex') }
  readonly secret = randomBytes(32).toString('hex')
  authFile = ''
  private dir = ''

  static async start (opts: StorageClusterOptions = {}): Promise<StorageCluster> {
    const c = new StorageCluster()
    try {
      await c.startAll(opts)
    } catch (err) {
      await c.dispose()
      throw err
    }
    return c
  }

  private async startAll (opts: StorageClusterOptions): Promise<void> {
    this.dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-storage-cluster-'))
    this.authFile = path.join(this.dir, 'cluster-auth')
    await writeFile(this.authFile, `${this.basicAuth.user}:${this.basicAuth.password}\n`, { mode: 0o600 })
    // Storage Kubos first (sequentially: the 2-core machine starts them faster one by one).
    const kubos: KuboDaemon[] = []
    for (let i = 0; i < 3; i++) kubos.push(await KuboDaemon.start({ name: `storage-${i}`, config: PRIVATE_KUBO }))
    const addrs = await Promise.all(kubos.map(swarmAddrOf))
    // Storage nodes see each other (cluster peers fetch content from one another over bitswap).
    for (let i = 0; i < kubos.length; i++) {
      for (let j = 0; j < kubos.length; j++) {
        if (i === j) continue
        const a = addrs[j] as { ID: string, Addrs: string[] }
        await (kubos[i] as KuboDaemon).cli(['swarm', 'peering', 'add', `${a.Addrs[0] as string}/p2p/${a.ID}`]).catch(async () =>
          await (kubos[i] as KuboDaemon).cli(['swarm', 'connect', `${a.Addrs[0] as string}/p2p/${a.ID}`]))
      }
    }
    const peers: ClusterPeer[] = []
    for (let i = 0; i < 3; i++) peers.push(await ClusterPeer.init({ name: `storage-${i}`, kuboApi: (kubos[i] as KuboDaemon).apiUrl, secret: this.secret, basicAuth: this.basicAuth }))
    for (let i = 0; i < 3; i++) {
      const p = peers[i] as ClusterPeer
      this.storage.push({ name: `storage-${i}`, kubo: kubos[i] as KuboDaemon, cluster: p, kuboPeerId: (addrs[i] as { ID: string }).ID })
      await p.configure(peers)
    }
    for (const p of peers) await p.launch()
    await this.waitPeers(3, 120_000)

    for (let i = 0; i < (opts.nodes ?? 2); i++) {
      const name = `node-${i}`
      let swarmPeers = ''
      const kubo = await KuboDaemon.start({ name, config: { ...PRIVATE_KUBO, 'Peering.Peers': addrs } })
      // Peering dials in the background: a test's first bitswap read must not race it on a loaded machine.
      const deadline = Date.now() + 60_000
      while (!addrs.some(a => swarmPeers.includes(a.ID))) {
        if (Date.now() > deadline) throw new Error(`${name}: not peered with any storage Kubo within 60 s`)
        await new Promise(resolve => setTimeout(resolve, 250))
        swarmPeers = await kubo.cli(['swarm', 'peers']).catch(() => '')
      }
      const driver = await DriverProcess.start({ kuboApi: kubo.apiUrl, mode: 'node', nodeId: name, name, extraArgs: ['--heal-interval-ms', '0', ...(opts.nodeArgs ?? [])] })
      this.nodes.push({ name, kubo, driver })
    }
  }

  get clusterApi (): string { return (this.storage[0] as StoragePeer).cluster.restUrl }

  /** Polls GET /peers on every live peer until each sees `n` peers without errors. */
  async waitPeers (n: number, timeoutMs: number, live = this.storage): Promise<void> {
    const deadline = Date.now() + timeoutMs
    let last = ''
    for (;;) {
      try {
        let ok = true
        for (const s of live) {
          const list = [(await s.cluster.get('/peers'))].flat() as Array<{ id: string, error?: string }>
          const good = list.filter(p => p.error === undefined || p.error === '')
          last = `${s.name} sees ${good.length}/${list.length}`
          if (good.length < n) ok = false
        }
        if (ok) return
      } catch (err) { last = (err as Error).message }
      if (Date.now() > deadline) throw new Error(`cluster did not form ${n} peers in ${timeoutMs} ms: ${last}`)
      await new Promise(resolve => setTimeout(resolve, 500))
    }
  }

  /** The storage peer whose Kubo has this peer id. */
  byKuboPeer (id: string): StoragePeer | undefined { return this.storage.find(s => s.kuboPeerId === id) }
  byClusterPeer (id: string): StoragePeer | undefined { return this.storage.find(s => s.cluster.peerId === id) }

  async dispose (): Promise<void> {
    for (const n of this.nodes) await n.driver.stop().catch(() => {})
    for (const n of this.nodes) await n.kubo.dispose().catch(() => {})
    for (const s of this.storage) await s.cluster.dispose().catch(() => {})
    for (const s of this.storage) await s.kubo.dispose().catch(() => {})
    if (this.dir !== '') await rm(this.dir, { recursive: true, force: true })
  }
}
