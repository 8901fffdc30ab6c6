// The public gateway and the API seen by a real Prometheus (Debian's package), with the rules of
// deploy/monitoring/ipfs-csi.rules.yaml: the gateway's nginx (the deployed template) sends its
// access-log lines to `ipfs-csi gateway exporter`, which also reads stub_status; a gateway Kubo
// set up by kubo-init.sh (API.Authorizations on) is scraped through `ipfs-csi gateway
// kubo-metrics`, the relay sidecar; an `ipfs-csi api serve` serves --metrics-listen. Real requests give 200s (cache MISS
// then HIT), 429s (over the rate limit), 502s (the gateway Kubo stopped) and API 503s (its Kubo
// stopped); the series move, the gateway and API alerts go pending or fire, and the gateway
// dashboard is rendered from this data with every panel drawn.
import test from 'ava'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import dgram from 'node:dgram'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ApiProcess, AUDIENCE, ISSUER, saToken, signingKey, writeJwks } from '../helpers/api-process.js'
import { allowedPathsFile, baseSettings, initEnv, runKuboInit, startDeployedKubo, writeSecretDir, type DeployedKubo } from '../helpers/deploy-kubo.js'
import { freePort } from '../helpers/free-port.js'
import { GatewayNginx } from '../helpers/gateway-nginx.js'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { GATEWAY_FAMILIES } from '../helpers/metric-families.js'
import { Prometheus, startLogged, waitFor } from '../helpers/prometheus.js'
import { CLI, RESULTS_DIR } from '../helpers/repo.js'
import { stopProcess } from '../helpers/stop-process.js'
import { Kubo } from '../../driver/kubo.js'
import { GatewayPublisher } from '../../gateway/publisher.js'
import { GATEWAY_DASHBOARD, RULES } from '../../scripts/monitoring.js'
import { renderDashboard } from '../../scripts/render-dashboard.js'

const DOMAIN = 'gw.test'
const TOKEN = randomBytes(24).toString('hex')
const children: ChildProcess[] = []
const cleanups: Array<() => Promise<void>> = []

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))
const startChild = (name: string, args: string[]): void => { children.push(startLogged(`monitoring-gateway-${name}`, args)) }

test.after.always(async () => {
  for (const c of children.reverse()) await stopProcess(c, 10_000).catch(() => {})
  for (const c of cleanups.reverse()) await c().catch(() => {})
})

test('Prometheus scrapes the gateway (nginx exporter, gateway Kubo) and the API under real requests: series by status move, the 5xx, 429 and down alerts go off, the dashboard renders', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-mon-gw-'))
  cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
  // Content published to one gateway Kubo (the deployed init script and daemon arguments).
  const storage = await KuboDaemon.start({ offline: true, name: 'mon-gw-storage' })
  cleanups.push(async () => { await storage.dispose() })
  await writeSecretDir(path.join(dir, 'gw-tokens'), { publisher: TOKEN })
  const env: NodeJS.ProcessEnv = {
    ...initEnv(dir),
    ...await baseSettings('ipfs-gateway-kubo-settings'),
    IPFS_PATH: path.join(dir, 'gw-0'),
    KUBO_TOKENS_DIR: path.join(dir, 'gw-tokens'),
    KUBO_ALLOWED_PATHS_FILE: allowedPathsFile('gateway'),
    KUBO_API_ADDR: '/ip4/127.0.0.1/tcp/0',
    KUBO_GATEWAY_ADDR: '/ip4/127.0.0.1/tcp/0',
    KUBO_GATEWAY_PUBLIC_HOSTNAME: DOMAIN
  }
  const init = await runKuboInit(env)
  if (init.code !== 0) throw new Error(`kubo-init.sh failed: ${init.out}`)
  const gwKubo: DeployedKubo = await startDeployedKubo('mon-gw-0', env, ['daemon', '--offline', '--migrate=true', '--enable-gc'])
  cleanups.push(async () => { await gwKubo.stop() })
  const data = randomBytes(3 * 1024 * 1024)
  const cid = await storage.addBytes(data, ['--cid-version=1', '--raw-leaves'])
  await writeFile(path.join(dir, 'gateway-token'), TOKEN)
  const gwApi = new Kubo({ url: gwKubo.api, tokenFile: path.join(dir, 'gateway-token'), timeoutMs: 60_000 })
  await new GatewayPublisher({ storage: new Kubo({ url: storage.apiUrl, timeoutMs: 60_000 }), gateways: [gwApi], copyTimeoutMs: 120_000 }).publish((await import('multiformats/cid')).CID.parse(cid), AbortSignal.timeout(120_000))

  // nginx with the deployed template, its log lines to the exporter's UDP port; 5 r/s per address.
  const [logPort, pExporter, pApiMetrics] = [await freePort(), await freePort(), await freePort()]
  const nginx = await GatewayNginx.start({ backends: [new URL(gwKubo.gateway).host], domain: DOMAIN, rate: '5r/s', burst: 10, conn: 64, metricsLog: `127.0.0.1:${logPort}` })
  cleanups.push(async () => { await nginx.stop() })
  startChild('exporter', [CLI, 'gateway', 'exporter', '--log-listen', `127.0.0.1:${logPort}`, '--stub-status-url', nginx.stubStatusUrl, '--metrics-listen', `127.0.0.1:${pExporter}`])

  // The API on a Kubo of its own (stopped later: its requests then fail with 503).
  const apiKubo = await KuboDaemon.start({ offline: true, name: 'mon-gw-api' })
  cleanups.push(async () => { await apiKubo.dispose() })
  const key = await signingKey('mon-1')
  await writeJwks(path.join(dir, 'jwks.json'), [key])
  await writeFile(path.join(dir, 'policy.yaml'), 'serviceAccounts:\n  system:serviceaccount:ml:trainer: [pins:read, pins:write]\n')
  const api = await ApiProcess.start(['--kubo-api', apiKubo.apiUrl, '--oidc-issuer', ISSUER, '--audience', AUDIENCE, '--oidc-jwks-file', path.join(dir, 'jwks.json'),
    '--policy', path.join(dir, 'policy.yaml'), '--rate-limit-ip', '60', '--kubo-timeout-ms', '3000', '--metrics-listen', `127.0.0.1:${pApiMetrics}`])
  cleanups.push(async () => { await api.stop() })
  const bearer = { authorization: `Bearer ${await saToken(key)}` }

  // The gateway Kubo's own metrics through the relay sidecar, as deployed (its RPC port stays closed).
  const pKuboRelay = await freePort()
  startChild('kubo-metrics', [CLI, 'gateway', 'kubo-metrics', '--kubo-api', gwKubo.api, '--metrics-listen', `127.0.0.1:${pKuboRelay}`])
  const jobs = { 'ipfs-gateway': `127.0.0.1:${pExporter}`, 'ipfs-gateway-kubo': `127.0.0.1:${pKuboRelay}`, 'ipfs-csi-api': `127.0.0.1:${pApiMetrics}` }
  const p = await Prometheus.start(dir, jobs, [RULES], 'monitoring-gateway')
  children.push(p.child)
  const started = Date.now() / 1000
  await p.allUp(3)
  const scraped = async (what: string, q: string): Promise<void> => {
    await p.scraped(what, q).catch(async (err: Error) => {
      const now = await p.query('{__name__=~"ipfs_csi_gateway_requests_total|ipfs_csi_http_requests_total"}')
      throw new Error(`${err.message}; series now: ${JSON.stringify(now.map(s => [s.metric, s.value[1]]))}`)
    })
  }

  // Gateway: reads within the rate limit (the first a cache MISS, then HITs), then a burst over it.
  const host = nginx.contentHost(cid)
  for (let i = 0; i < 12; i++) {
    const r = await nginx.get('/', { host })
    t.is(r.status, 200)
    t.true(r.body.equals(data))
    await sleep(250)
  }
  await scraped('gateway 200s', 'sum(ipfs_csi_gateway_requests_total{code="200",cache="HIT"}) >= 1 and sum(ipfs_csi_gateway_requests_total{code="200",cache="MISS"}) >= 1')
  // The rate-limit alerts ask for more than 1 refusal/s over 10 minutes: 700+ refusals.
  const burst: number[] = []
  for (let round = 0; round < 20; round++) {
    burst.push(...(await Promise.all(Array.from({ length: 40 }, async () => (await nginx.get('/', { host, method: 'HEAD' })).status))))
    if (round % 5 === 4) await sleep(300)
  }
  t.true(burst.filter(s => s === 429).length >= 700, `429s in the burst: ${burst.filter(s => s === 429).length}`)
  await scraped('gateway 429s', 'sum(ipfs_csi_gateway_requests_total{code="429"}) >= 700')
  // A datagram that is not nginx's: counted apart, never as a request.
  const udp = dgram.createSocket('udp4')
  await new Promise<void>((resolve, reject) => udp.send('<190>not a gateway line', logPort, '127.0.0.1', (err) => { if (err != null) reject(err); else resolve() }))
  udp.close()
  await scraped('the rejected datagram', 'ipfs_csi_gateway_log_lines_rejected_total >= 1')
  // The gateway Kubo stops: what nginx has not cached gets 502.
  await gwKubo.stop()
  await sleep(1200) // the rate limiter's bucket drains between phases
  // 70 of them: more than 5 % of all the requests (the 429s included), as IpfsGatewayErrors asks.
  const bad: number[] = []
  for (let i = 0; i < 70; i++) {
    bad.push((await nginx.get(`/?n=${i}`, { host: nginx.contentHost('bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqk3b4akba') })).status)
    await sleep(220)
  }
  t.true(bad.filter(s => s === 502).length >= 60, `502s with the gateway Kubo down: ${bad.join(',')}`)
  await scraped('gateway 502s', 'sum(ipfs_csi_gateway_requests_total{code="502"}) >= 60')

  // API: authenticated reads, then with its Kubo gone (503), then unauthenticated over the per-IP limit (429).
  for (let i = 0; i < 5; i++) t.is((await fetch(`${api.url}/api/v1/pins`, { headers: bearer })).status, 200)
  await apiKubo.dispose()
  const down: number[] = []
  for (let i = 0; i < 20; i++) { down.push((await fetch(`${api.url}/api/v1/pins`, { headers: bearer })).status); await sleep(100) }
  t.true(down.every(s => s >= 500), `API with its Kubo down: ${down.join(',')}`)
  // Spread over a few scrapes: a counter series that is born already high shows no rate.
  const flood: number[] = []
  for (let round = 0; round < 40; round++) {
    flood.push(...await Promise.all(Array.from({ length: 20 }, async () => (await fetch(`${api.url}/api/v1/pins`)).status)))
    if (round % 10 === 9) await sleep(300)
  }
  t.true(flood.filter(s => s === 429).length >= 700, `API 429s: ${flood.filter(s => s === 429).length}`)

  const missing = await p.missing(GATEWAY_FAMILIES, 30_000)
  t.deepEqual(missing, [], 'families with no non-zero series')

  // nginx stops: the exporter reports it down.
  await nginx.stop()
  await p.scraped('nginx down', 'ipfs_csi_gateway_nginx_up == 0')
  // The alerts' expressions hold on this data: pending (their `for` is minutes long) or firing.
  const expected = ['IpfsGatewayErrors', 'IpfsGatewayRateLimited', 'IpfsGatewayDown', 'IpfsCsiApiErrors', 'IpfsCsiApiRateLimited', 'IpfsKuboDown']
  const active = await waitFor('alerts pending or firing', async () => { const a = await p.alertsSeen(); return expected.every(x => a.includes(x)) ? a : undefined }, 60_000).catch(async () => await p.alertsSeen())
  t.deepEqual(expected.filter(a => !active.includes(a)), [], `alerts active: ${active.join(', ')}`)

  await mkdir(RESULTS_DIR, { recursive: true })
  const panels = await renderDashboard(p.url, started, Date.now() / 1000, path.join(RESULTS_DIR, 'dashboard-gateway.png'), '5s', GATEWAY_DASHBOARD)
  t.deepEqual(panels.filter(p => p.series === 0).map(p => p.title), [], 'gateway dashboard panels without data')
})
