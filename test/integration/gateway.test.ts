// The public gateway end to end, with real parts: Debian's nginx running the template deploy/
// ships, three gateway-tier Kubos configured by kubo-init.sh with the base settings (offline,
// NoFetch, subdomain gateway) and started as the StatefulSet starts them, a storage Kubo, and the
// publisher copying published DAGs between them. Serial: later cases build on what earlier ones
// cached, and failover stops backends.
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { CID } from 'multiformats/cid'
import { Kubo } from '../../driver/kubo.js'
import { GatewayPublisher } from '../../gateway/publisher.js'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { GatewayNginx } from '../helpers/gateway-nginx.js'
import { allowedPathsFile, baseSettings, initEnv, runKuboInit, startDeployedKubo, writeSecretDir, type DeployedKubo } from '../helpers/deploy-kubo.js'
import { readCar, verifyBlocks, writeCar } from '../helpers/car.js'
import { CLI, IPFS_BIN } from '../helpers/repo.js'

const execFileP = promisify(execFile)
const DOMAIN = 'gw.test'
const TOKEN = randomBytes(24).toString('hex')

interface Fixture {
  dir: string
  storage: KuboDaemon
  gateways: DeployedKubo[]
  nginx: GatewayNginx
  publisher: GatewayPublisher
  file: { cid: string, data: Buffer }
  site: { cid: string, html: string }
  secret: { cid: string }
}
let fx: Fixture

/** Three gateway-tier Kubos: kubo-init.sh with the base settings, the StatefulSet's daemon args. */
async function startGatewayKubos (dir: string): Promise<DeployedKubo[]> {
  const settings = await baseSettings('ipfs-gateway-kubo-settings')
  await writeSecretDir(path.join(dir, 'gw-tokens'), { publisher: TOKEN })
  const out: DeployedKubo[] = []
  for (let i = 0; i < 3; i++) {
    const env: NodeJS.ProcessEnv = {
      ...initEnv(dir),
      ...settings,
      IPFS_PATH: path.join(dir, `gw-${i}`),
      KUBO_TOKENS_DIR: path.join(dir, 'gw-tokens'),
      KUBO_ALLOWED_PATHS_FILE: allowedPathsFile('gateway'),
      KUBO_API_ADDR: '/ip4/127.0.0.1/tcp/0',
      KUBO_GATEWAY_ADDR: '/ip4/127.0.0.1/tcp/0',
      KUBO_GATEWAY_PUBLIC_HOSTNAME: DOMAIN
    }
    const r = await runKuboInit(env)
    if (r.code !== 0) throw new Error(`kubo-init.sh failed: ${r.out}`)
    out.push(await startDeployedKubo(`gw-${i}`, env, ['daemon', '--offline', '--migrate=true', '--enable-gc']))
  }
  return out
}

test.before(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-gateway-'))
  const storage = await KuboDaemon.start({ offline: true, name: 'gateway-storage' })
  const gateways = await startGatewayKubos(dir)
  const nginx = await GatewayNginx.start({ backends: gateways.map(g => new URL(g.gateway).host), domain: DOMAIN, rate: '1000r/s', burst: 2000, conn: 512 })
  // The gateway Kubos' API token, as the publisher reads it (from a file).
  const tokenFile = path.join(dir, 'gateway-token')
  await writeFile(tokenFile, TOKEN + '\n')
  const publisher = new GatewayPublisher({ storage: new Kubo({ url: storage.apiUrl, timeoutMs: 60_000 }), gateways: gateways.map(g => new Kubo({ url: g.api, tokenFile, timeoutMs: 60_000 })), copyTimeoutMs: 120_000 })

  // A 5 MiB file in 256 KiB raw leaves (slices span several blocks), a site whose HTML carries an
  // inline script, and a file that is never published.
  const data = randomBytes(5 * 1024 * 1024 + 12345)
  await writeFile(path.join(dir, 'model.bin'), data)
  const fileCid = await storage.add(path.join(dir, 'model.bin'), ['--cid-version=1', '--raw-leaves', '--chunker=size-262144'])
  const html = '<!doctype html><html><body><script>document.title = "tenant"</script><p>tenant page</p></body></html>\n'
  await mkdir(path.join(dir, 'site'))
  await writeFile(path.join(dir, 'site', 'index.html'), html)
  const siteCid = await storage.add(path.join(dir, 'site'), ['--cid-version=1', '--raw-leaves'])
  const secretCid = await storage.addBytes(randomBytes(4096), ['--cid-version=1', '--raw-leaves'])
  const ac = new AbortController()
  await publisher.publish(CID.parse(fileCid), ac.signal)
  await publisher.publish(CID.parse(siteCid), ac.signal)
  fx = { dir, storage, gateways, nginx, publisher, file: { cid: fileCid, data }, site: { cid: siteCid, html }, secret: { cid: secretCid } }
})

test.after.always(async () => {
  if (fx === undefined) return
  await fx.nginx.stop()
  for (const g of fx.gateways) await g.stop()
  await fx.storage.dispose()
  await rm(fx.dir, { recursive: true, force: true })
})

const sig = (): AbortSignal => AbortSignal.timeout(120_000)

test.serial('published content is on every gateway Kubo, nothing else is, and the gateway Kubos cannot fetch', async (t) => {
  const listed = await fx.publisher.list(sig())
  t.is(listed.size, 3)
  for (const pins of listed.values()) t.deepEqual([...pins].sort(), [fx.file.cid, fx.site.cid].sort())
  for (const g of fx.gateways) {
    const direct = await fetch(`${g.gateway}/ipfs/${fx.secret.cid}`, { signal: sig() })
    t.true(direct.status >= 400, `an unpublished CID answers ${direct.status} on ${g.name}`)
    await direct.arrayBuffer()
    const cfg = JSON.parse(await readFile(path.join(fx.dir, g.name, 'config'), 'utf8'))
    t.is(cfg.Gateway.NoFetch, true)
    t.deepEqual(cfg.Addresses.Swarm, [])
    t.is(cfg.Gateway.ExposeRoutingAPI, false)
    // The limits are set on purpose (from the base settings); `ipfs config` refuses a key Kubo
    // v0.43 does not know, so kubo-init.sh would have failed on one.
    t.is(cfg.Gateway.MaxConcurrentRequests, 256)
    t.is(cfg.Gateway.RetrievalTimeout, '20s')
    t.is(cfg.Gateway.MaxRangeRequestFileSize, '0')
    t.deepEqual(cfg.Gateway.PublicGateways[DOMAIN], { UseSubdomains: true, Paths: ['/ipfs'], NoDNSLink: true, InlineDNSLink: false })
  }
})

test.serial('unpublished content is refused through nginx, on the gateway origin and on its own', async (t) => {
  // Not found here, a 404: never a server error (the gateway Kubo's own answer is a 500).
  const sub = await fx.nginx.get('/', { host: fx.nginx.contentHost(fx.secret.cid) })
  t.is(sub.status, 404, `unpublished: ${sub.status}`)
  t.false(sub.body.includes(Buffer.from('tenant page')))
  t.not(sub.headers['strict-transport-security'], undefined, 'the security headers are on the 404 too')
  const raw = await fx.nginx.get('/?format=raw', { host: fx.nginx.contentHost(fx.secret.cid) })
  t.is(raw.status, 404)
  const deep = await fx.nginx.get('/some/file.bin', { host: fx.nginx.contentHost(fx.secret.cid) })
  t.is(deep.status, 404)
  // Not even a host or path outside /ipfs/: no /ipns/, no RPC, no routing API, no unknown host.
  t.is((await fx.nginx.get('/ipns/example.org')).status, 404)
  t.is((await fx.nginx.get('/api/v0/id')).status, 404)
  t.is((await fx.nginx.get('/routing/v1/providers/' + fx.file.cid)).status, 404)
  t.is((await fx.nginx.get('/', { host: `other.${DOMAIN}`, sni: DOMAIN })).status, 421)
  t.is((await fx.nginx.get('/', { host: fx.nginx.contentHost(fx.file.cid), method: 'POST' })).status, 405)
})

test.serial('cache: MISS then HIT with identical bytes, equal to ipfs cat', async (t) => {
  const host = fx.nginx.contentHost(fx.file.cid)
  const first = await fx.nginx.get('/', { host })
  t.is(first.status, 200)
  t.is(first.headers['x-cache-status'], 'MISS')
  t.true(first.body.equals(fx.file.data))
  const second = await fx.nginx.get('/', { host })
  t.is(second.status, 200)
  t.is(second.headers['x-cache-status'], 'HIT')
  t.true(second.body.equals(fx.file.data))
  t.true(second.body.equals(await fx.storage.cliBytes(['cat', fx.file.cid])))
})

test.serial('Range requests go through slice and equal ipfs cat --offset --length', async (t) => {
  const host = fx.nginx.contentHost(fx.file.cid)
  const size = fx.file.data.length
  const MiB = 1024 * 1024
  const cases: Array<[number, number]> = [[0, 1], [MiB - 10, 20], [3 * MiB + 7, 2 * MiB], [size - 100, 100], [123457, 262144 + 3]]
  for (const [offset, length] of cases) {
    const r = await fx.nginx.get('/', { host, headers: { range: `bytes=${offset}-${offset + length - 1}` } })
    t.is(r.status, 206, `bytes=${offset}+${length}`)
    t.is(r.headers['content-range'], `bytes ${offset}-${offset + length - 1}/${size}`)
    const want = await fx.storage.cliBytes(['cat', '--offset', String(offset), '--length', String(length), fx.file.cid])
    t.is(want.length, length)
    t.true(r.body.equals(want), `bytes=${offset}+${length} equal ipfs cat --offset --length`)
  }
  // A suffix range and a range of a cold CID path also work (the latter fills only its slice).
  const suffix = await fx.nginx.get('/', { host, headers: { range: 'bytes=-4096' } })
  t.is(suffix.status, 206)
  t.true(suffix.body.equals(fx.file.data.subarray(size - 4096)))
})

test.serial('the cache key separates formats: raw, CAR, TAR and deserialized never share an entry', async (t) => {
  const host = fx.nginx.contentHost(fx.site.cid)
  const root = await fx.storage.cliBytes(['block', 'get', fx.site.cid])
  const deserialized = await fx.nginx.get('/index.html', { host })
  t.is(deserialized.status, 200)
  t.is(deserialized.body.toString(), fx.site.html)
  for (let i = 0; i < 2; i++) {
    const raw = await fx.nginx.get('/', { host, headers: { accept: 'application/vnd.ipld.raw' } })
    t.is(raw.status, 200)
    t.is(raw.headers['content-type'], 'application/vnd.ipld.raw')
    t.true(raw.body.equals(root), 'the raw block, not a cached HTML page')
    t.is(raw.headers['x-cache-status'], i === 0 ? 'MISS' : 'HIT')
    const rawArg = await fx.nginx.get('/?format=raw', { host })
    t.true(rawArg.body.equals(root))
    const car = await fx.nginx.get('/', { host, headers: { accept: 'application/vnd.ipld.car' } })
    t.is(car.status, 200)
    t.regex(String(car.headers['content-type']), /^application\/vnd\.ipld\.car/)
    t.is(car.headers['x-cache-status'], 'BYPASS', 'CAR streams are never cached')
    const tar = await fx.nginx.get('/?format=tar', { host })
    t.is(tar.status, 200)
    t.is(tar.headers['x-cache-status'], 'BYPASS')
    t.true(tar.body.includes(Buffer.from('tenant page')))
  }
  const again = await fx.nginx.get('/index.html', { host })
  t.is(again.headers['x-cache-status'], 'HIT')
  t.is(again.body.toString(), fx.site.html)
})

test.serial('a verified client checks every block of a CAR from the gateway and imports it', async (t) => {
  const car = await fx.nginx.get('/?format=car', { host: fx.nginx.contentHost(fx.file.cid) })
  t.is(car.status, 200)
  const { roots, blocks } = readCar(car.body)
  t.is(roots[0].toString(), fx.file.cid)
  await verifyBlocks(blocks)
  const refs = (await fx.storage.cli(['refs', '-r', '--unique', fx.file.cid])).trim().split('\n')
  t.is(blocks.length, refs.length + 1, 'every block of the DAG, once')
  // And Kubo itself as the client: import into a fresh repo (offline), then read the file back.
  const repo = path.join(fx.dir, 'client-repo')
  const env = { ...process.env, IPFS_PATH: repo, IPFS_TELEMETRY: 'off' }
  await execFileP(IPFS_BIN, ['init', '--profile', 'test', '--empty-repo'], { env })
  await writeFile(path.join(fx.dir, 'file.car'), car.body)
  await execFileP(IPFS_BIN, ['dag', 'import', '--pin-roots', path.join(fx.dir, 'file.car')], { env, timeout: 120_000 })
  const { stdout } = await execFileP(IPFS_BIN, ['cat', '--offline', fx.file.cid], { env, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 })
  t.true(stdout.equals(fx.file.data))
})

test.serial('a truncated CAR is never cached and fails verification', async (t) => {
  // A DAG whose root is on the gateways but whose leaves are not (imported unpinned): Kubo
  // answers 200 and then cuts the CAR short.
  const cid = await fx.storage.add(path.join(fx.dir, 'model.bin'), ['--cid-version=1', '--raw-leaves', '--chunker=size-131072'])
  const root = CID.parse(cid)
  const partial = writeCar([root], [{ cid: root, bytes: await fx.storage.cliBytes(['block', 'get', cid]) }])
  for (const g of fx.gateways) {
    const form = new FormData()
    form.append('file', new Blob([partial]))
    const res = await fetch(`${g.api}/api/v0/dag/import?pin-roots=false`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: form, signal: sig() })
    t.is(res.status, 200, await res.text())
  }
  const host = fx.nginx.contentHost(cid)
  for (let i = 0; i < 2; i++) {
    const r = await fx.nginx.get('/', { host, headers: { accept: 'application/vnd.ipld.car' } })
    t.not(r.headers['x-cache-status'], 'HIT', `request ${i + 1} must not be served from the cache`)
    t.throws(() => readCar(r.body), undefined, 'the truncated CAR does not parse as complete')
  }
  t.is((await fx.nginx.get('/', { host, headers: { accept: 'application/vnd.ipld.car' } })).headers['x-cache-status'], 'BYPASS')
})

test.serial('security headers everywhere; tenant HTML runs only on its own subdomain origin', async (t) => {
  // The gateway's own origin never serves content: /ipfs/<cid> redirects to <cid>.ipfs.<domain>.
  const apex = await fx.nginx.get(`/ipfs/${fx.site.cid}/index.html`)
  t.is(apex.status, 301)
  t.is(apex.headers.location, `https://${fx.site.cid}.ipfs.${DOMAIN}:${fx.nginx.port}/index.html`)
  // A client cannot steer the redirect with X-Forwarded-Host.
  const spoofed = await fx.nginx.get(`/ipfs/${fx.site.cid}/`, { headers: { 'x-forwarded-host': 'evil.example' } })
  t.false(String(spoofed.headers.location).includes('evil'))
  const page = await fx.nginx.get('/index.html', { host: fx.nginx.contentHost(fx.site.cid) })
  for (const r of [apex, page]) {
    t.regex(String(r.headers['strict-transport-security']), /max-age=\d{7,}/)
    t.is(r.headers['x-content-type-options'], 'nosniff')
    const csp = String(r.headers['content-security-policy'])
    t.notRegex(csp, /unsafe-inline|unsafe-eval/)
    t.regex(csp, /frame-ancestors 'none'/)
  }
  t.regex(String(apex.headers['content-security-policy']), /^default-src 'none'/)
  t.regex(String(page.headers['content-security-policy']), /script-src 'self'/, 'the inline <script> of tenant HTML is blocked')
})

test.serial('unpublish removes content from every gateway Kubo at once; republish brings it back', async (t) => {
  const cid = CID.parse(fx.site.cid)
  await fx.publisher.unpublish(cid, sig())
  for (const g of fx.gateways) {
    const r = await fetch(`${g.gateway}/ipfs/${fx.site.cid}/index.html`, { signal: sig() })
    t.true(r.status >= 400, `${g.name} still serves an unpublished CID: ${r.status}`)
    await r.arrayBuffer()
  }
  // A request nginx has not cached goes to a Kubo and is refused.
  const uncached = await fx.nginx.get('/index.html?fresh=1', { host: fx.nginx.contentHost(fx.site.cid) })
  t.not(uncached.status, 200)
  await fx.publisher.unpublish(cid, sig()) // idempotent
  await fx.publisher.publish(cid, sig())
  const back = await fx.nginx.get('/index.html?fresh=2', { host: fx.nginx.contentHost(fx.site.cid) })
  t.is(back.status, 200)
  t.is(back.body.toString(), fx.site.html)
})

test.serial('a publish that cannot reach one gateway fails and names it', async (t) => {
  const broken = new GatewayPublisher({
    storage: new Kubo({ url: fx.storage.apiUrl, timeoutMs: 10_000 }),
    gateways: [...fx.gateways.map(g => new Kubo({ url: g.api, tokenFile: path.join(fx.dir, 'gateway-token'), timeoutMs: 10_000 })), new Kubo({ url: 'http://127.0.0.1:1', timeoutMs: 2000 })],
    copyTimeoutMs: 10_000
  })
  const err = await t.throwsAsync(broken.publish(CID.parse(fx.secret.cid), sig()))
  t.regex(err?.message ?? '', /failed on 1 of 4 gateway\(s\): http:\/\/127\.0\.0\.1:1/)
  // A wrong token is refused by the gateway Kubo itself.
  const wrong = new GatewayPublisher({ storage: new Kubo({ url: fx.storage.apiUrl, timeoutMs: 10_000 }), gateways: [new Kubo({ url: fx.gateways[0].api, timeoutMs: 10_000 })], copyTimeoutMs: 10_000 })
  const denied = await t.throwsAsync(wrong.publish(CID.parse(fx.secret.cid), sig()))
  t.regex(denied?.message ?? '', /403|Access Denied|PERMISSION|denied/i)
  await fx.publisher.unpublish(CID.parse(fx.secret.cid), sig())
})

test.serial('the CLI: sync makes every gateway hold exactly the list, ls shows it, bad input is reported together', async (t) => {
  const tokenFile = path.join(fx.dir, 'publisher-token')
  await writeFile(tokenFile, TOKEN + '\n')
  const list = path.join(fx.dir, 'published.txt')
  const flags = ['--gateway-kubo-api', fx.gateways.map(g => g.api).join(','), '--gateway-kubo-api-token-file', tokenFile, '--storage-kubo-api', fx.storage.apiUrl]
  const cli = async (args: string[]): Promise<{ code: number, out: string, err: string }> => await execFileP(process.execPath, [CLI, 'gateway', ...args], { timeout: 120_000 }).then(r => ({ code: 0, out: r.stdout, err: r.stderr }), (e: { code: number, stdout: string, stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }))
  // The list swaps the site for the secret file: one added, one removed, on each of the 3.
  await writeFile(list, `# published\n${fx.file.cid}\n${fx.secret.cid}  # added\n`)
  const sync = await cli(['sync', '--published', list, ...flags])
  t.is(sync.code, 0, sync.err)
  t.is(sync.out.trim().split('\n').filter(l => /: \+1 -1 /.test(l)).length, 3, sync.out)
  const ls = await cli(['ls', ...flags])
  t.deepEqual(ls.out.trim().split('\n').sort(), [fx.file.cid, fx.secret.cid].sort())
  t.is((await fx.nginx.get('/?fresh=cli', { host: fx.nginx.contentHost(fx.secret.cid) })).status, 200)
  // A bad line rejects the whole list: nothing is unpublished by a typo.
  await writeFile(list, `${fx.file.cid}\nnot-a-cid\n`)
  const bad = await cli(['sync', '--published', list, ...flags])
  t.is(bad.code, 1)
  t.regex(bad.err, /line 2: CID "not-a-cid" is not a valid CID/)
  t.deepEqual((await cli(['ls', ...flags])).out.trim().split('\n').sort(), [fx.file.cid, fx.secret.cid].sort())
  const flagErr = await cli(['publish', 'nope', '--copy-timeout-ms', '5'])
  t.is(flagErr.code, 2)
  for (const want of ['CID "nope" is not a valid CID', '--gateway-kubo-api URL[,URL...] is required', '--storage-kubo-api URL is required', '--copy-timeout-ms must be']) t.true(flagErr.err.includes(want), want)
  // Back to the fixture's set for the next case.
  await writeFile(list, `${fx.file.cid}\n${fx.site.cid}\n`)
  t.is((await cli(['sync', '--published', list, ...flags])).code, 0)
})

test.serial('failover: with two of three gateway Kubos dead every published object is still served', async (t) => {
  await fx.gateways[0].child.kill('SIGKILL')
  await fx.gateways[1].child.kill('SIGKILL')
  for (let i = 0; i < 6; i++) {
    // A query the cache has not seen: each request must reach a live backend.
    const r = await fx.nginx.get(`/?failover=${i}`, { host: fx.nginx.contentHost(fx.file.cid), timeoutMs: 60_000 })
    t.is(r.status, 200, `request ${i}`)
    t.true(r.body.equals(fx.file.data))
    const page = await fx.nginx.get(`/index.html?failover=${i}`, { host: fx.nginx.contentHost(fx.site.cid) })
    t.is(page.status, 200)
  }
})

test('429 under a bounded flood with the deployed limits, and nginx keeps serving', async (t) => {
  const settings = await baseSettings('ipfs-gateway-nginx-settings')
  const backend = await KuboDaemon.start({ offline: true, name: 'gateway-flood', config: { 'Gateway.PublicGateways': { [DOMAIN]: { UseSubdomains: true, Paths: ['/ipfs'], NoDNSLink: true } } } })
  const nginx = await GatewayNginx.start({ backends: [new URL(backend.gatewayUrl).host], domain: DOMAIN, rate: settings.GATEWAY_RATE, burst: Number(settings.GATEWAY_BURST), conn: Number(settings.GATEWAY_CONN) })
  t.teardown(async () => { await nginx.stop(); await backend.dispose() })
  const cid = await backend.addBytes(Buffer.from('flood target\n'), ['--cid-version=1', '--raw-leaves'])
  const host = nginx.contentHost(cid)
  t.is((await nginx.get('/', { host })).status, 200)
  const N = 400
  const statuses: number[] = []
  let next = 0
  // 64 clients in parallel, 400 requests in all: bounded in count, over in seconds.
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < N) { next++; const r = await nginx.get('/', { host }); statuses.push(r.status); if (r.status === 429) t.is(r.headers['retry-after'], '1') }
  }))
  const limited = statuses.filter(s => s === 429).length
  const ok = statuses.filter(s => s === 200).length
  t.is(limited + ok, N, `only 200 or 429: ${[...new Set(statuses)].join(',')}`)
  t.true(limited > N / 4, `${limited} of ${N} limited`)
  t.true(ok >= Number(settings.GATEWAY_BURST), `${ok} served (at least the burst)`)
  await new Promise(resolve => setTimeout(resolve, 2500))
  t.is((await nginx.get('/', { host })).status, 200, 'served again once the flood is over')
})
