// The Kubo configuration the manifests produce is accepted by a real Kubo: secrets from
// deploy/scripts/generate-secrets.sh, config from deploy/base/kubo/kubo-init.sh (as the init
// containers run them), two daemons started like the StatefulSet starts them (LIBP2P_FORCE_PNET=1,
// --enable-gc) on loopback. Proves: private network, stable identities, peering between replicas,
// API.Authorizations (no token / a wrong token refused, each client's token accepted), gateway
// settings (NoFetch, custom headers), GC and routing settings.
import test from 'ava'
import { execFile, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { parseAllDocuments } from 'yaml'
import { ROOT, TOOLS_BIN } from '../helpers/repo.js'
import { stopProcess } from '../helpers/stop-process.js'
import { freePort } from '../helpers/free-port.js'
import { KUBO_INIT as INIT, allowedPathsFile, baseSettings, initEnv, readAllowedPaths, rpcAs, runKuboInit, startDeployedKubo, writeSecretDir } from '../helpers/deploy-kubo.js'
import { randomBytes } from 'node:crypto'
const execFileP = promisify(execFile)
const GENERATE = path.join(ROOT, 'deploy', 'scripts', 'generate-secrets.sh')
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

interface Secrets { swarmKey: string, tokens: Record<string, string>, nodeTokens: Record<string, string>, gatewayTokens: Record<string, string>, identities: Record<string, string> }

/** Runs generate-secrets.sh and decodes what it would have applied. */
async function generateSecrets (): Promise<Secrets> {
  const { stdout } = await execFileP('sh', [GENERATE, '-n', 'ipfs-csi', '-r', '2'], { env: { ...process.env, PATH: `${TOOLS_BIN}:${process.env.PATH ?? ''}` }, timeout: 60_000 })
  const docs = parseAllDocuments(stdout).map(d => d.toJS() as { kind: string, metadata: { name: string }, data: Record<string, string> })
  const data = (name: string): Record<string, string> => Object.fromEntries(Object.entries(docs.find(d => d.metadata.name === name)?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]))
  return { swarmKey: data('ipfs-swarm-key')['swarm.key'], tokens: data('ipfs-kubo-api-tokens'), nodeTokens: data('ipfs-node-kubo-api-tokens'), gatewayTokens: data('ipfs-gateway-kubo-api-tokens'), identities: data('ipfs-kubo-identities') }
}

interface Node { name: string, repo: string, swarmPort: number, env: NodeJS.ProcessEnv, child?: ChildProcess, stdout: string, api: string, gateway: string }

async function startDaemon (n: Node): Promise<void> {
  // As the StatefulSet's kubo container: args daemon --migrate=true --enable-gc, pnet forced.
  const k = await startDeployedKubo(n.name, { ...n.env, LIBP2P_FORCE_PNET: '1' }, ['daemon', '--migrate=true', '--enable-gc'])
  n.child = k.child
  n.stdout = k.output
  n.api = k.api
  n.gateway = k.gateway
}

const rpc = async (n: Node, cmd: string, token?: string, body?: Uint8Array): Promise<Response> => await rpcAs(n.api, cmd, token, body)

test('kubo-init.sh configures a private, authenticated, peered Kubo that a real daemon accepts', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-deploy-kubo-'))
  const nodes: Node[] = []
  t.teardown(async () => {
    for (const n of nodes) if (n.child !== undefined) await stopProcess(n.child, 10_000)
    await rm(dir, { recursive: true, force: true })
  })
  const secrets = await generateSecrets()
  t.regex(secrets.swarmKey, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
  t.deepEqual(Object.keys(secrets.tokens).sort(), ['api', 'cluster', 'controller', 'node', 'publisher'])
  t.deepEqual(Object.keys(secrets.nodeTokens).sort(), ['node', 'preloader'])
  t.deepEqual(Object.keys(secrets.gatewayTokens), ['publisher'])
  const all = [...Object.values(secrets.tokens), ...Object.values(secrets.nodeTokens), ...Object.values(secrets.gatewayTokens)]
  t.is(new Set(all).size, all.length, 'one distinct token per client per Kubo')
  for (const tok of all) t.regex(tok, /^[0-9a-f]{64}$/)
  await writeSecretDir(path.join(dir, 'swarm'), { 'swarm.key': secrets.swarmKey })
  await writeSecretDir(path.join(dir, 'tokens'), { controller: secrets.tokens.controller, node: secrets.tokens.node, cluster: secrets.tokens.cluster })
  await writeSecretDir(path.join(dir, 'identity'), secrets.identities)

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
      KUBO_ALLOWED_PATHS_FILE: allowedPathsFile('storage'),
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
    const r = await runKuboInit(n.env)
    t.is(r.code, 0, r.out)
    // Re-running (every pod start) keeps the repo and its identity.
    const again = await runKuboInit(n.env)
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
    t.deepEqual(Object.keys(cfg.API.Authorizations).sort(), ['cluster', 'controller', 'node'])
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
  t.is((await rpc(a, 'id', secrets.tokens.publisher)).status === 200, false, 'a token not mounted into this Kubo is refused')
  const id = await rpc(a, 'id', secrets.tokens.controller)
  t.is(id.status, 200)
  t.is(((await id.json()) as { ID: string }).ID, secrets.identities['ipfs-kubo-0.peerid'])
  t.is((await rpc(a, 'version', secrets.tokens.node)).status, 200)

  // Peering over the private network (both sides hold the same swarm key).
  const deadline = Date.now() + 60_000
  let connected = false
  while (!connected && Date.now() < deadline) {
    const peersRes = await rpc(a, 'swarm/peers', secrets.tokens.cluster)
    const list = ((await peersRes.json()) as { Peers: Array<{ Peer: string }> | null }).Peers ?? []
    connected = list.some(p => p.Peer === secrets.identities['ipfs-kubo-1.peerid'])
    if (!connected) await sleep(500)
  }
  t.true(connected, 'replica 0 peers with replica 1 within 60 s')

  // Content added on replica 0: the NoFetch gateway of replica 1 does not fetch it for a visitor...
  const data = new TextEncoder().encode(`model bytes ${Date.now()}\n`.repeat(1000))
  const added = await rpc(a, 'add?cid-version=1&raw-leaves=true&pin=true', secrets.tokens.node, data)
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
  const pinned = await rpc(b, `pin/add?arg=${cid}`, secrets.tokens.controller)
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
  await writeSecretDir(path.join(dir, 'swarm'), { 'swarm.key': key })
  await writeSecretDir(path.join(dir, 'tokens'), { controller: 'short' })
  await writeSecretDir(path.join(dir, 'good-tokens'), { controller: 'a'.repeat(40) })
  await writeSecretDir(path.join(dir, 'stranger-tokens'), { stranger: 'a'.repeat(40) })
  await writeFile(path.join(dir, 'not-a-key'), 'hello\n')
  await writeFile(path.join(dir, 'wild.conf'), 'controller: id *\n')
  await writeFile(path.join(dir, 'empty.conf'), 'controller:\n')
  const base: NodeJS.ProcessEnv = { PATH: `${TOOLS_BIN}:${process.env.PATH ?? ''}`, HOME: dir, IPFS_TELEMETRY: 'off', IPFS_PATH: path.join(dir, 'repo'), KUBO_SWARM_KEY_FILE: path.join(dir, 'swarm', 'swarm.key'), KUBO_TOKENS_DIR: path.join(dir, 'tokens'), KUBO_ALLOWED_PATHS_FILE: allowedPathsFile('storage') }
  const cases: Array<[NodeJS.ProcessEnv, RegExp]> = [
    [{ ...base }, /token controller must be 24-256 characters/],
    // A token whose client has no AllowedPaths line gets nothing: the script refuses to start.
    [{ ...base, KUBO_TOKENS_DIR: path.join(dir, 'stranger-tokens') }, /no AllowedPaths line for client stranger/],
    [Object.fromEntries(Object.entries({ ...base, KUBO_TOKENS_DIR: path.join(dir, 'good-tokens') }).filter(([k]) => k !== 'KUBO_ALLOWED_PATHS_FILE')), /KUBO_ALLOWED_PATHS_FILE is required/],
    // A wildcard or an empty line never widens a token to the whole API.
    [{ ...base, KUBO_TOKENS_DIR: path.join(dir, 'good-tokens'), KUBO_ALLOWED_PATHS_FILE: path.join(dir, 'wild.conf') }, /bad command \* for client controller/],
    [{ ...base, KUBO_TOKENS_DIR: path.join(dir, 'good-tokens'), KUBO_ALLOWED_PATHS_FILE: path.join(dir, 'empty.conf') }, /client controller has an empty AllowedPaths line/],
    [{ ...base, KUBO_TOKENS_DIR: path.join(dir, 'good-tokens'), KUBO_SWARM_KEY_FILE: path.join(dir, 'not-a-key') }, /swarm key is not/],
    [Object.fromEntries(Object.entries({ ...base, KUBO_TOKENS_DIR: path.join(dir, 'good-tokens') }).filter(([k]) => k !== 'KUBO_SWARM_KEY_FILE')), /KUBO_SWARM_KEY_FILE is required/],
    [{ ...base, KUBO_TOKENS_DIR: path.join(dir, 'good-tokens'), KUBO_ROUTING_TYPE: 'public"; rm -rf /' }, /bad KUBO_ROUTING_TYPE/],
    [{ ...base, KUBO_TOKENS_DIR: path.join(dir, 'good-tokens'), KUBO_PEERS_FILE: path.join(dir, 'not-a-key') }, /bad peer address: hello/]
  ]
  for (const [env, want] of cases) {
    const r = await runKuboInit(env)
    t.not(r.code, 0, `${want.source} should fail`)
    t.regex(r.out, want)
  }
  t.true(existsSync(INIT))
})

// What each client must and must not reach, per tier: the security properties the allowed-paths
// files exist for (issue 12, item 12), checked against a real Kubo (which matches by prefix).
const SCOPES: Record<'storage' | 'node' | 'gateway', Record<string, { allowed: string[], refused: string[] }>> = {
  storage: {
    controller: { allowed: ['pin/rm', 'files/rm', 'block/put'], refused: ['repo/gc', 'config', 'config/replace', 'shutdown', 'dag/export', 'swarm/connect'] },
    node: { allowed: ['files/rm', 'add'], refused: ['pin/rm', 'pin/add', 'repo/gc', 'config', 'shutdown', 'block/put'] },
    cluster: { allowed: ['pin/rm', 'config/show', 'swarm/connect'], refused: ['repo/gc', 'config', 'config/replace', 'shutdown', 'files/rm'] },
    publisher: { allowed: ['dag/export'], refused: ['pin/rm', 'repo/gc', 'config', 'shutdown', 'files/rm', 'dag/import', 'block/get', 'cat'] },
    api: { allowed: ['pin/add', 'pin/rm', 'block/put', 'swarm/connect'], refused: ['repo/gc', 'config', 'config/replace', 'shutdown', 'files/rm', 'files/write', 'dag/export', 'add'] }
  },
  node: {
    node: { allowed: ['repo/gc', 'pin/rm', 'block/get'], refused: ['config', 'shutdown', 'files/rm', 'files/write'] },
    preloader: { allowed: ['pin/rm', 'dag/stat'], refused: ['repo/gc', 'config', 'shutdown', 'files/rm'] }
  },
  gateway: {
    publisher: { allowed: ['dag/import', 'pin/rm', 'repo/gc'], refused: ['config', 'shutdown', 'files/rm', 'dag/export', 'add', 'block/put', 'pin/add'] }
  }
}

for (const tier of ['storage', 'node', 'gateway'] as const) {
  test(`${tier} tier: every token reaches exactly its commands (pin/rm, repo/gc, config, shutdown, files/rm refused where not needed)`, async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), `ipfs-csi-scopes-${tier}-`))
    const lines = await readAllowedPaths(tier)
    t.deepEqual(Object.keys(lines).sort(), Object.keys(SCOPES[tier]).sort(), 'every client of the tier has a line, and only those')
    const tokens = Object.fromEntries(Object.keys(lines).map(c => [c, randomBytes(24).toString('hex')]))
    await writeSecretDir(path.join(dir, 'tokens'), tokens)
    const env: NodeJS.ProcessEnv = { ...initEnv(dir), IPFS_PATH: path.join(dir, 'repo'), KUBO_OFFLINE: 'true', KUBO_TOKENS_DIR: path.join(dir, 'tokens'), KUBO_ALLOWED_PATHS_FILE: allowedPathsFile(tier), KUBO_API_ADDR: '/ip4/127.0.0.1/tcp/0', KUBO_GATEWAY_ADDR: '/ip4/127.0.0.1/tcp/0' }
    const r = await runKuboInit(env)
    t.is(r.code, 0, r.out)
    const kubo = await startDeployedKubo(`scopes-${tier}`, env, ['daemon', '--offline', '--migrate=true'])
    t.teardown(async () => { await kubo.stop(); await rm(dir, { recursive: true, force: true }) })
    for (const [client, cmds] of Object.entries(lines)) {
      // Every command the client's code calls is let through (its answer may be an argument error).
      for (const cmd of cmds) t.not((await rpcAs(kubo.api, cmd, tokens[client])).status, 403, `${tier}/${client} may call ${cmd}`)
      for (const cmd of SCOPES[tier][client].allowed) t.not((await rpcAs(kubo.api, cmd, tokens[client])).status, 403, `${tier}/${client} needs ${cmd}`)
      for (const cmd of SCOPES[tier][client].refused) t.is((await rpcAs(kubo.api, cmd, tokens[client])).status, 403, `${tier}/${client} must not call ${cmd}`)
    }
    t.is((await rpcAs(kubo.api, 'id')).status, 403, 'no token: refused')
    t.true(kubo.child.exitCode === null, 'the daemon is still running (shutdown was refused)')
  })
}

test('a node-local Kubo keeps no storage-tier secret on the node disk: node tokens only, the swarm key a link to the Secret', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-node-disk-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const secrets = await generateSecrets()
  await writeSecretDir(path.join(dir, 'swarm'), { 'swarm.key': secrets.swarmKey })
  await writeSecretDir(path.join(dir, 'tokens'), secrets.nodeTokens)
  const settings = await baseSettings('ipfs-node-kubo-settings')
  const swarmPort = await freePort()
  const env: NodeJS.ProcessEnv = { ...initEnv(dir), ...settings, IPFS_PATH: path.join(dir, 'repo'), KUBO_SWARM_KEY_FILE: path.join(dir, 'swarm', 'swarm.key'), KUBO_TOKENS_DIR: path.join(dir, 'tokens'), KUBO_ALLOWED_PATHS_FILE: allowedPathsFile('node'), KUBO_API_ADDR: '/ip4/127.0.0.1/tcp/0', KUBO_GATEWAY_ADDR: '/ip4/127.0.0.1/tcp/0', KUBO_SWARM_ADDR: `/ip4/127.0.0.1/tcp/${swarmPort}`, KUBO_STORAGE_MAX: '1GB' }
  t.is(settings.KUBO_SWARM_KEY_LINK, 'true')
  t.regex(settings.KUBO_GATEWAY_ADDR, /^\/ip4\/127\.0\.0\.1\//, 'the node gateway binds loopback')
  t.is(settings.KUBO_GATEWAY_NO_FETCH, 'true')
  const r = await runKuboInit(env)
  t.is(r.code, 0, r.out)
  t.true((await lstat(path.join(dir, 'repo', 'swarm.key'))).isSymbolicLink())
  t.is(await readlink(path.join(dir, 'repo', 'swarm.key')), path.join(dir, 'swarm', 'swarm.key'))
  const kubo = await startDeployedKubo('node-disk', { ...env, LIBP2P_FORCE_PNET: '1' }, ['daemon', '--migrate=true', '--enable-gc'])
  t.teardown(async () => { await kubo.stop() })
  t.regex(kubo.output, /Swarm is limited to private network of peers with the swarm key/)
  // Nothing under the repo (the node's disk) holds a storage-tier token or the swarm key itself.
  const storageSecrets = [...Object.values(secrets.tokens), secrets.swarmKey.split('\n')[2]]
  const files = (await readdir(path.join(dir, 'repo'), { recursive: true })).map(f => path.join(dir, 'repo', f))
  let scanned = 0
  for (const f of files) {
    const st = await lstat(f)
    if (!st.isFile()) continue
    const text = (await readFile(f)).toString('latin1')
    scanned++
    for (const secret of storageSecrets) t.false(text.includes(secret), `${path.relative(dir, f)} holds a storage-tier secret`)
  }
  t.true(scanned > 3)
  const cfg = JSON.parse(await readFile(path.join(dir, 'repo', 'config'), 'utf8'))
  t.deepEqual(Object.keys(cfg.API.Authorizations).sort(), ['node', 'preloader'])
  t.is(cfg.Gateway.NoFetch, true)
})

test('generate-secrets.sh fails closed: a failing od writes nothing, never an empty password; -o writes 0600', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-gen-secrets-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await mkdir(path.join(dir, 'bin'))
  await writeFile(path.join(dir, 'bin', 'od'), '#!/bin/sh\necho "od: broken" >&2\nexit 1\n', { mode: 0o755 })
  const env = { ...process.env, PATH: `${path.join(dir, 'bin')}:${TOOLS_BIN}:${process.env.PATH ?? ''}` }
  const out = path.join(dir, 'secrets.yaml')
  const failed = await execFileP('sh', [GENERATE, '-r', '1', '-o', out], { env, timeout: 60_000 }).then(() => null, (err: { code?: number, stdout?: string, stderr?: string }) => err)
  t.truthy(failed, 'the script must fail when od fails')
  t.not(failed?.code, 0)
  t.regex(failed?.stderr ?? '', /could not read 32 random bytes/)
  t.false(existsSync(out), 'nothing written')
  const toStdout = await execFileP('sh', [GENERATE, '-r', '1'], { env, timeout: 60_000 }).then(() => null, (err: { stdout?: string }) => err)
  t.is(toStdout?.stdout ?? 'x', '', 'nothing on stdout either')
  // Working od: the file is created 0600 and every secret is non-empty.
  await execFileP('sh', [GENERATE, '-r', '1', '-o', out], { env: { ...process.env, PATH: `${TOOLS_BIN}:${process.env.PATH ?? ''}` }, timeout: 60_000 })
  t.is((await stat(out)).mode & 0o777, 0o600)
  const docs = parseAllDocuments(await readFile(out, 'utf8')).map(d => d.toJS() as { data: Record<string, string> })
  for (const d of docs) for (const [k, v] of Object.entries(d.data)) t.true(Buffer.from(v, 'base64').toString().replace(/^ipfs-csi:/, '').length >= 24, `${k} is a real secret`)
})
