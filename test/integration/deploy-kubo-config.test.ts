// The Kubo configuration the manifests produce is accepted by a real Kubo: secrets from
// deploy/scripts/generate-secrets.sh, config from deploy/base/kubo/kubo-init.sh (as the init
// containers run them), two daemons started like the StatefulSet starts them (LIBP2P_FORCE_PNET=1,
// --enable-gc) on loopback. Proves: private network, stable identities, peering between replicas,
// API.Authorizations (no token / a wrong token refused, each client's token accepted), gateway
// settings (NoFetch, custom headers), GC and routing settings.
import test from 'ava'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { parseAllDocuments } from 'yaml'
import { IPFS_BIN, ROOT, TOOLS_BIN, logFile } from '../helpers/repo.js'
import { stopProcess } from '../helpers/stop-process.js'

import { freePort } from '../helpers/free-port.js'
const execFileP = promisify(execFile)
const INIT = path.join(ROOT, 'deploy', 'base', 'kubo', 'kubo-init.sh')
const GENERATE = path.join(ROOT, 'deploy', 'scripts', 'generate-secrets.sh')
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

interface Secrets { swarmKey: string, tokens: Record<string, string>, identities: Record<string, string> }

/** Runs generate-secrets.sh and decodes what it would have applied. */
async function generateSecrets (): Promise<Secrets> {
  const { stdout } = await execFileP('sh', [GENERATE, '-n', 'ipfs-csi', '-r', '2'], { env: { ...process.env, PATH: `${TOOLS_BIN}:${process.env.PATH ?? ''}` }, timeout: 60_000 })
  const docs = parseAllDocuments(stdout).map(d => d.toJS() as { kind: string, metadata: { name: string }, data: Record<string, string> })
  const data = (name: string): Record<string, string> => Object.fromEntries(Object.entries(docs.find(d => d.metadata.name === name)?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]))
  return { swarmKey: data('ipfs-swarm-key')['swarm.key'], tokens: data('ipfs-kubo-api-tokens'), identities: data('ipfs-kubo-identities') }
}

interface Node { name: string, repo: string, swarmPort: number, env: NodeJS.ProcessEnv, child?: ChildProcess, stdout: string, api: string, gateway: string }

async function writeDir (dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true })
  // Kubernetes secret volumes hold ..data links beside the keys: the script must skip them.
  await mkdir(path.join(dir, '..data'), { recursive: true })
  for (const [k, v] of Object.entries(files)) await writeFile(path.join(dir, k), v, { mode: 0o400 })
}

async function runInit (env: NodeJS.ProcessEnv): Promise<{ code: number, out: string }> {
  try {
    const { stdout, stderr } = await execFileP('sh', [INIT], { env, timeout: 120_000 })
    return { code: 0, out: stdout + stderr }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

async function startDaemon (n: Node): Promise<void> {
  const log = createWriteStream(logFile(`deploy-kubo-${n.name}`), { flags: 'a' })
  // As the StatefulSet's kubo container: args daemon --migrate=true --enable-gc, pnet forced.
  const child = spawn(IPFS_BIN, ['daemon', '--migrate=true', '--enable-gc'], { env: { ...n.env, LIBP2P_FORCE_PNET: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  n.child = child
  n.stdout = ''
  child.stdout.on('data', (d: Buffer) => { n.stdout += d.toString(); log.write(d) })
  child.stderr.on('data', (d: Buffer) => { n.stdout += d.toString(); log.write(d) })
  const deadline = Date.now() + 90_000
  while (!/Daemon is ready/.test(n.stdout)) {
    if (child.exitCode !== null) throw new Error(`kubo ${n.name} exited ${child.exitCode}:\n${n.stdout}`)
    if (Date.now() > deadline) throw new Error(`kubo ${n.name} not ready in 90 s:\n${n.stdout}`)
    await sleep(100)
  }
  const api = /\/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(await readFile(path.join(n.repo, 'api'), 'utf8'))
  const gw = /Gateway server listening on \/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(n.stdout)
  if (api == null || gw == null) throw new Error(`no API or gateway address:\n${n.stdout}`)
  n.api = `http://${api[1]}:${api[2]}`
  n.gateway = `http://${gw[1]}:${gw[2]}`
}

async function rpc (n: Node, cmd: string, token?: string, body?: Uint8Array): Promise<Response> {
  const headers: Record<string, string> = token !== undefined ? { Authorization: `Bearer ${token}` } : {}
  let payload: FormData | undefined
  if (body !== undefined) { payload = new FormData(); payload.append('file', new Blob([body])) }
  return await fetch(`${n.api}/api/v0/${cmd}`, { method: 'POST', headers, body: payload, signal: AbortSignal.timeout(60_000) })
}

test('kubo-init.sh configures a private, authenticated, peered Kubo that a real daemon accepts', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-deploy-kubo-'))
  const nodes: Node[] = []
  t.teardown(async () => {
    for (const n of nodes) if (n.child !== undefined) await stopProcess(n.child, 10_000)
    await rm(dir, { recursive: true, force: true })
  })
  const secrets = await generateSecrets()
  t.regex(secrets.swarmKey, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
  t.deepEqual(Object.keys(secrets.tokens).sort(), ['cluster', 'driver', 'preloader'])
  await writeDir(path.join(dir, 'swarm'), { 'swarm.key': secrets.swarmKey })
  await writeDir(path.join(dir, 'tokens'), { driver: secrets.tokens.driver, preloader: secrets.tokens.preloader })
  await writeDir(path.join(dir, 'identity'), secrets.identities)

  for (const name of ['ipfs-kubo-0', 'ipfs-kubo-1']) {
    nodes.push({ name, repo: path.join(dir, name), swarmPort: await freePort(), env: {}, stdout: '', api: '', gateway: '' })
  }
  // The ipfs-peers ConfigMap, with loopback addresses instead of the headless Service names.
  const peers = nodes.map(n => `/ip4/127.0.0.1/tcp/${n.swarmPort}/p2p/${secrets.identities[`${n.name}.peerid`]}`).join('\n') + '\n'
  await writeFile(path.join(dir, 'kubo-peers'), `# storage replicas\n${peers}`)

  for (const [i, n] of nodes.entries()) {
    n.env = {
      PATH: `${TOOLS_BIN}:${process.env.PATH ?? ''}`,
      HOME: dir,
      IPFS_TELEMETRY: 'off',
      IPFS_PATH: n.repo,
      KUBO_SWARM_KEY_FILE: path.join(dir, 'swarm', 'swarm.key'),
      KUBO_TOKENS_DIR: path.join(dir, 'tokens'),
      KUBO_IDENTITY_DIR: path.join(dir, 'identity'),
      KUBO_IDENTITY_NAME: n.name,
      KUBO_PEERS_FILE: path.join(dir, 'kubo-peers'),
      KUBO_API_ADDR: '/ip4/127.0.0.1/tcp/0',
      KUBO_GATEWAY_ADDR: '/ip4/127.0.0.1/tcp/0',
      KUBO_SWARM_ADDR: `/ip4/127.0.0.1/tcp/${n.swarmPort}`,
      KUBO_STORAGE_MAX: '2GB',
      KUBO_GC_WATERMARK: '90',
      KUBO_GC_PERIOD: '1h',
      // Replica 1 plays the public gateway: NoFetch and security headers.
      KUBO_GATEWAY_NO_FETCH: i === 1 ? 'true' : 'false',
      KUBO_GATEWAY_HEADERS: '{"X-Content-Type-Options": ["nosniff"]}'
    }
    const r = await runInit(n.env)
    t.is(r.code, 0, r.out)
    // Re-running (every pod start) keeps the repo and its identity.
    const again = await runInit(n.env)
    t.is(again.code, 0, again.out)
    const cfg = JSON.parse(await readFile(path.join(n.repo, 'config'), 'utf8'))
    t.is(cfg.Identity.PeerID, secrets.identities[`${n.name}.peerid`])
    t.deepEqual(cfg.Bootstrap, [])
    t.is(cfg.Routing.Type, 'none')
    t.is(cfg.AutoConf.Enabled, false)
    t.is(cfg.Discovery.MDNS.Enabled, false)
    t.is(cfg.Datastore.StorageMax, '2GB')
    t.is(cfg.Datastore.StorageGCWatermark, 90)
    t.is(cfg.Swarm.ResourceMgr.Enabled, true)
    t.deepEqual(Object.keys(cfg.API.Authorizations).sort(), ['driver', 'preloader'])
    t.deepEqual(cfg.Peering.Peers.map((p: { ID: string }) => p.ID), [secrets.identities[`${nodes[1 - i].name}.peerid`]], 'peers with the other replica, not itself')
    t.is(await readFile(path.join(n.repo, 'swarm.key'), 'utf8'), secrets.swarmKey)
  }

  for (const n of nodes) await startDaemon(n)
  for (const n of nodes) t.regex(n.stdout, /Swarm is limited to private network of peers with the swarm key/)
  const [a, b] = nodes

  // API.Authorizations: no token or a wrong token is refused; each client's token works.
  const anon = await rpc(a, 'id')
  t.true(anon.status === 401 || anon.status === 403, `no token: ${anon.status}`)
  const wrong = await rpc(a, 'id', 'x'.repeat(64))
  t.true(wrong.status === 401 || wrong.status === 403, `wrong token: ${wrong.status}`)
  t.is((await rpc(a, 'id', secrets.tokens.cluster)).status === 200, false, 'a token not mounted into this Kubo is refused')
  const id = await rpc(a, 'id', secrets.tokens.driver)
  t.is(id.status, 200)
  t.is(((await id.json()) as { ID: string }).ID, secrets.identities['ipfs-kubo-0.peerid'])
  t.is((await rpc(a, 'version', secrets.tokens.preloader)).status, 200)

  // Peering over the private network (both sides hold the same swarm key).
  const deadline = Date.now() + 60_000
  let connected = false
  while (!connected && Date.now() < deadline) {
    const peersRes = await rpc(a, 'swarm/peers', secrets.tokens.driver)
    const list = ((await peersRes.json()) as { Peers: Array<{ Peer: string }> | null }).Peers ?? []
    connected = list.some(p => p.Peer === secrets.identities['ipfs-kubo-1.peerid'])
    if (!connected) await sleep(500)
  }
  t.true(connected, 'replica 0 peers with replica 1 within 60 s')

  // Content added on replica 0: the NoFetch gateway of replica 1 does not fetch it for a visitor...
  const data = new TextEncoder().encode(`model bytes ${Date.now()}\n`.repeat(1000))
  const added = await rpc(a, 'add?cid-version=1&raw-leaves=true&pin=true', secrets.tokens.driver, data)
  t.is(added.status, 200)
  const cid = ((await added.json()) as { Hash: string }).Hash
  const t0 = Date.now()
  const refused = await fetch(`${b.gateway}/ipfs/${cid}`, { signal: AbortSignal.timeout(60_000) })
  t.not(refused.status, 200, 'NoFetch gateway must not fetch remote content')
  await refused.arrayBuffer()
  t.true(Date.now() - t0 < 30_000, 'NoFetch answers without waiting for the network')
  // ...the fetching gateway of replica 0 serves it with the configured header and cache headers...
  const served = await fetch(`${a.gateway}/ipfs/${cid}`, { signal: AbortSignal.timeout(60_000) })
  t.is(served.status, 200)
  t.deepEqual(new Uint8Array(await served.arrayBuffer()), data)
  t.is(served.headers.get('x-content-type-options'), 'nosniff')
  t.regex(served.headers.get('cache-control') ?? '', /immutable/)
  // ...and once replica 1 pins it over bitswap (RPC, authorized), its gateway serves it too.
  const pinned = await rpc(b, `pin/add?arg=${cid}`, secrets.tokens.driver)
  t.is(pinned.status, 200, await pinned.text())
  const local = await fetch(`${b.gateway}/ipfs/${cid}`, { signal: AbortSignal.timeout(60_000) })
  t.is(local.status, 200)
  t.deepEqual(new Uint8Array(await local.arrayBuffer()), data)
  // The gateway is read-only.
  const put = await fetch(`${a.gateway}/ipfs/${cid}`, { method: 'PUT', body: 'x', signal: AbortSignal.timeout(30_000) })
  t.true(put.status >= 400, `gateway PUT answered ${put.status}`)
})

test('kubo-init.sh refuses unsafe input with a clear message', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-deploy-kubo-bad-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const key = '/key/swarm/psk/1.0.0/\n/base16/\n' + 'ab'.repeat(32) + '\n'
  await writeDir(path.join(dir, 'swarm'), { 'swarm.key': key })
  await writeDir(path.join(dir, 'tokens'), { driver: 'short' })
  await writeDir(path.join(dir, 'good-tokens'), { driver: 'a'.repeat(40) })
  await writeFile(path.join(dir, 'not-a-key'), 'hello\n')
  const base: NodeJS.ProcessEnv = { PATH: `${TOOLS_BIN}:${process.env.PATH ?? ''}`, HOME: dir, IPFS_TELEMETRY: 'off', IPFS_PATH: path.join(dir, 'repo'), KUBO_SWARM_KEY_FILE: path.join(dir, 'swarm', 'swarm.key'), KUBO_TOKENS_DIR: path.join(dir, 'tokens') }
  const cases: Array<[NodeJS.ProcessEnv, RegExp]> = [
    [{ ...base }, /token driver must be 24-256 characters/],
    [{ ...base, KUBO_TOKENS_DIR: path.join(dir, 'good-tokens'), KUBO_SWARM_KEY_FILE: path.join(dir, 'not-a-key') }, /swarm key is not/],
    [Object.fromEntries(Object.entries({ ...base, KUBO_TOKENS_DIR: path.join(dir, 'good-tokens') }).filter(([k]) => k !== 'KUBO_SWARM_KEY_FILE')), /KUBO_SWARM_KEY_FILE is required/],
    [{ ...base, KUBO_TOKENS_DIR: path.join(dir, 'good-tokens'), KUBO_ROUTING_TYPE: 'public"; rm -rf /' }, /bad KUBO_ROUTING_TYPE/],
    [{ ...base, KUBO_TOKENS_DIR: path.join(dir, 'good-tokens'), KUBO_PEERS_FILE: path.join(dir, 'not-a-key') }, /bad peer address: hello/]
  ]
  for (const [env, want] of cases) {
    const r = await runInit(env)
    t.not(r.code, 0, `${want.source} should fail`)
    t.regex(r.out, want)
  }
  t.true(existsSync(INIT))
})
