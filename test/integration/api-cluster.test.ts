// The Pinning Service API backed by IPFS Cluster (--cluster-api): a pin request becomes a Cluster
// pin with replication, its status follows the peers, and Kubo's own `ipfs pin remote` drives it.
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { StorageCluster } from '../helpers/storage-cluster.js'
import { createApiClient, unwrap } from '../../sdk/index.js'
import { ApiProcess, AUDIENCE, ISSUER, saToken, signingKey, writeJwks } from '../helpers/api-process.js'

let cluster: StorageCluster
let client: KuboDaemon
let api: ApiProcess
let work: string

interface ClusterPin { cid: string, name?: string }

async function clusterPinsNamed (prefix: string): Promise<ClusterPin[]> {
  const s0 = cluster.storage[0]
  if (s0 === undefined) throw new Error('no storage peer')
  const all = [(await s0.cluster.get('/allocations?filter=pin'))].flat() as ClusterPin[]
  return all.filter(p => p.name?.startsWith(prefix) === true)
}

async function holders (cid: string): Promise<number> {
  let n = 0
  for (const s of cluster.storage) if ((await s.kubo.cli(['pin', 'ls', '--type=all', cid]).catch(() => '')).includes(cid)) n++
  return n
}

test.before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-api-cluster-'))
  cluster = await StorageCluster.start({ nodes: 0 })
  client = await KuboDaemon.start({ name: 'api-cluster-client', config: { 'Routing.Type': 'none', 'Discovery.MDNS.Enabled': false } })
  // Stands in for content routing (the test Kubos have none): the client is reachable from every storage peer.
  for (const s of cluster.storage) {
    const id = JSON.parse(await s.kubo.cli(['id'])) as { Addresses: string[] }
    await client.cli(['swarm', 'connect', id.Addresses.find(a => a.startsWith('/ip4/127.0.0.1/tcp/')) as string])
  }
  const key = await signingKey('c1')
  await writeJwks(path.join(work, 'jwks.json'), [key])
  const s0 = cluster.storage[0]
  if (s0 === undefined) throw new Error('no storage peer')
  api = await ApiProcess.start(['--kubo-api', s0.kubo.apiUrl, '--cluster-api', cluster.clusterApi, '--cluster-basic-auth-file', cluster.authFile,
    '--replication-min', '2', '--replication-max', '2', '--oidc-issuer', ISSUER, '--audience', AUDIENCE, '--oidc-jwks-file', path.join(work, 'jwks.json')])
  const token = unwrap(await createApiClient({ baseUrl: api.url, token: await saToken(key) }).POST('/v1/tokens', { body: { device: 'client' } })).token
  await client.cli(['pin', 'remote', 'service', 'add', 'csi', `${api.url}/api/v1`, token])
})

test.after.always(async () => {
  await api?.stop()
  await client?.dispose()
  await cluster?.dispose()
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

test.serial('ipfs pin remote add --background=false returns once the Cluster holds the content on replication-min peers', async (t) => {
  const cid = await client.addBytes(randomBytes(400 * 1024), ['--cid-version=1'])
  await client.cli(['pin', 'remote', 'add', '--service=csi', '--name=replicated', '--background=false', cid], undefined, 180_000)
  const pins = await clusterPinsNamed('ipfs-csi/api/pinned/ml/')
  t.is(pins.length, 1, 'one Cluster pin for the request')
  t.true(await holders(cid) >= 2, 'at least two storage Kubos hold the content')
  const ls = (await client.cli(['pin', 'remote', 'ls', '--service=csi', '--enc=json'])).trim().split('\n').map(l => JSON.parse(l) as { Status: string, Name: string })
  t.deepEqual(ls.map(p => [p.Name, p.Status]), [['replicated', 'pinned']])
  await client.cli(['pin', 'remote', 'rm', '--service=csi', '--name=replicated'])
  t.deepEqual(await clusterPinsNamed('ipfs-csi/api/pinned/ml/'), [], 'removing the request unpins it from the Cluster')
  t.deepEqual((await client.cli(['pin', 'remote', 'ls', '--service=csi', '--status=queued,pinning,pinned,failed'])).trim(), '')
})
