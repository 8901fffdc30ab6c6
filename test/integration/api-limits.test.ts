// Abuse protection with real processes: two API replicas share per-IP and per-identity limits
// through a real redis-server (429, Retry-After, RateLimit headers); header, body and time limits;
// load shedding when the event loop lags; and a bounded flood that the process survives.
import test from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { freePort } from '../helpers/free-port.js'
import http from 'node:http'
import net from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { RedisServer } from '../helpers/redis-server.js'
import { ApiProcess, AUDIENCE, ISSUER, saToken, signingKey, writeJwks, type SigningKey } from '../helpers/api-process.js'
import { LoadShedder, MemoryRateLimiter, guards } from '../../api/http/rate-limit.js'
import { startHttpServer } from '../../api/http/server.js'
import { createLogger } from '../../driver/logger.js'

let kubo: KuboDaemon
let redis: RedisServer
let a: ApiProcess
let b: ApiProcess
let work: string
let key: SigningKey
let metricsPort = 0

const IP_LIMIT = 60
const ID_LIMIT = 10

test.before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-api-limits-'))
  kubo = await KuboDaemon.start({ name: 'api-limits', offline: true })
  redis = await RedisServer.start()
  key = await signingKey('l1')
  await writeJwks(path.join(work, 'jwks.json'), [key])
  const args = ['--kubo-api', kubo.apiUrl, '--oidc-issuer', ISSUER, '--audience', AUDIENCE, '--oidc-jwks-file', path.join(work, 'jwks.json'),
    '--redis', redis.url, '--rate-limit-ip', String(IP_LIMIT), '--rate-limit-identity', String(ID_LIMIT), '--max-header-bytes', '8192', '--request-timeout-ms', '3000']
  metricsPort = await freePort()
  a = await ApiProcess.start([...args, '--metrics-listen', `127.0.0.1:${metricsPort}`])
  b = await ApiProcess.start(args)
})

test.after.always(async () => {
  await a?.stop()
  await b?.stop()
  await redis?.stop()
  await kubo?.dispose()
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

test.serial('the per-identity limit is shared by both replicas through Redis: 429 with Retry-After and RateLimit headers', async (t) => {
  const token = await saToken(key, { namespace: 'ml', name: 'busy' })
  const statuses: number[] = []
  let last: Response | undefined
  for (let i = 0; i < ID_LIMIT + 3; i++) {
    last = await fetch(`${(i % 2 === 0 ? a : b).url}/api/v1/pins`, { headers: { authorization: `Bearer ${token}` } })
    statuses.push(last.status)
    if (i === 0) {
      t.is(last.headers.get('ratelimit-limit'), String(ID_LIMIT))
      t.is(last.headers.get('ratelimit-remaining'), String(ID_LIMIT - 1))
    }
    await last.arrayBuffer()
  }
  t.deepEqual(statuses, [...Array(ID_LIMIT).fill(200), 429, 429, 429], 'requests alternate between replicas, the count is one')
  // Replica a's --metrics-listen counts its answers by route and code (what IpfsCsiApiRateLimited reads).
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
  const count = (code: number): number => metrics.split('\n').filter(l => l.startsWith('ipfs_csi_http_requests_total{') && l.includes('server="api"') && /route="[^"]*pins\$"/.test(l) && l.includes('method="GET"') && l.includes(`code="${code}"`)).reduce((n, l) => n + Number(l.split(' ').pop()), 0)
  t.is(count(200), ID_LIMIT / 2)
  t.true(count(429) >= 1)
  t.regex(metrics, /ipfs_csi_http_request_duration_seconds_count\{server="api",route="[^"]+",method="GET"\} \d+/)
  const retry = Number(last?.headers.get('retry-after'))
  t.true(retry >= 1 && retry <= 60, `Retry-After ${String(retry)}`)
  t.is(last?.headers.get('ratelimit-remaining'), '0')
  // Another identity from the same address is not affected by that one's limit.
  t.is((await fetch(`${a.url}/api/v1/pins`, { headers: { authorization: `Bearer ${await saToken(key, { namespace: 'ml', name: 'calm' })}` } })).status, 200)
})

test.serial('the per-IP limit applies before authentication, across replicas; /healthz is never limited', async (t) => {
  // Probably fewer left this minute after the identity test: count until the first 429.
  let refused: Response | undefined
  let n = 0
  for (; n < IP_LIMIT + 5; n++) {
    const r = await fetch(`${(n % 2 === 0 ? a : b).url}/api/v1/pins`)
    await r.arrayBuffer()
    if (r.status === 429) { refused = r; break }
    t.is(r.status, 401)
  }
  t.truthy(refused, 'the IP limit was reached')
  t.true(n <= IP_LIMIT, `${n} unauthenticated requests passed before the 429`)
  t.truthy(refused?.headers.get('retry-after'))
  t.is((await fetch(`${b.url}/healthz`)).status, 200)
})

test.serial('headers larger than --max-header-bytes get 431; a request that never finishes its headers is cut off', async (t) => {
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(`${a.url}/healthz`, { headers: { 'x-big': 'y'.repeat(16 * 1024) } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', reject)
    req.end()
  })
  t.is(status, 431)
  // Slowloris: half a request line, then nothing. The server closes the socket on its own.
  const started = Date.now()
  const closed = await new Promise<string>((resolve) => {
    const s = net.connect(a.port, '127.0.0.1', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'))
    let data = ''
    s.on('data', (d: Buffer) => { data += d.toString() })
    s.on('close', () => resolve(data))
    setTimeout(() => { s.destroy(); resolve('still open') }, 30_000)
  })
  t.not(closed, 'still open')
  // --request-timeout-ms is 3000; Node looks at it every second.
  t.true(Date.now() - started < 15_000, `cut off after ${Date.now() - started} ms`)
})

/**
 * A LoadShedder(50 ms, sampled every 20 ms) in a process of its own: `report` answers the largest
 * lag it saw since the last report, `busy` runs a CPU-bound burst of 300 ms (of CPU time: on a
 * loaded machine it takes longer than that).
 */
function shedderProcess (): { child: ChildProcess, ask: (line: string) => Promise<string> } {
  const module = new URL('../../api/http/rate-limit.js', import.meta.url).href
  const script = `
    const { LoadShedder } = await import(${JSON.stringify(module)})
    const shedder = new LoadShedder(50, 20)
    let max = 0
    setInterval(() => { max = Math.max(max, shedder.lag) }, 5)
    process.stdin.setEncoding('utf8')
    process.stdin.on('data', (d) => {
      for (const line of d.split('\\n').filter(Boolean)) {
        if (line === 'busy') { const c0 = process.cpuUsage(); for (let u = process.cpuUsage(c0); u.user + u.system < 300000; u = process.cpuUsage(c0)) {} ; process.stdout.write('done\\n') }
        if (line === 'report') { process.stdout.write(Math.max(max, shedder.lag).toFixed(1) + '\\n'); max = 0 }
      }
    })
    process.stdout.write('ready\\n')`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines: string[] = []
  let waiting: (() => void) | undefined
  let buf = ''
  child.stdout?.setEncoding('utf8')
  child.stdout?.on('data', (d: string) => {
    buf += d
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) { lines.push(buf.slice(0, i)); buf = buf.slice(i + 1) }
    waiting?.()
  })
  const next = async (): Promise<string> => {
    const deadline = Date.now() + 30_000
    while (lines.length === 0) {
      if (Date.now() > deadline) throw new Error('the shedder process did not answer within 30 s')
      await new Promise<void>(resolve => { waiting = resolve; setTimeout(resolve, 100) })
    }
    return lines.shift() as string
  }
  return { child, ask: async (line) => { if (line !== '') child.stdin?.write(line + '\n'); return await next() } }
}

test.serial('load shedding counts lag our own work causes, not time the kernel gave other processes: a stopped process is not shed, a busy one is', async (t) => {
  const { child, ask } = shedderProcess()
  t.teardown(() => { child.kill('SIGKILL') })
  t.is(await ask(''), 'ready')
  await new Promise(resolve => setTimeout(resolve, 200))
  await ask('report')
  // Not run for 400 ms (as a CPU-starved process is not): its timers fire late, but it was idle.
  child.kill('SIGSTOP')
  await new Promise(resolve => setTimeout(resolve, 400))
  child.kill('SIGCONT')
  await new Promise(resolve => setTimeout(resolve, 200))
  const stopped = Number(await ask('report'))
  t.true(stopped < 50, `a stopped process measured ${stopped} ms of lag`)
  // Its own 300 ms of CPU work: lag, above the 50 ms threshold.
  t.is(await ask('busy'), 'done')
  const busy = Number(await ask('report'))
  t.true(busy >= 50, `a busy loop measured only ${busy} ms of lag`)
})

test.serial('load shedding: while the event loop lags, requests get 503 with Retry-After; afterwards they pass', async (t) => {
  const shedder = new LoadShedder(50, 20)
  const g = guards(new MemoryRateLimiter(), shedder, { identityPerMinute: 1000, ipPerMinute: 1000 })
  const srv = await startHttpServer({ host: '127.0.0.1', port: 0, routes: [{ method: 'GET', path: /^\/x$/, handler: async () => ({ status: 200, body: {} }) }], limits: { maxBodyBytes: 1024, maxHeaderBytes: 8192, requestTimeoutMs: 5000 }, log: createLogger('error'), guard: g.beforeAuth })
  /** Asks until a request passes: the lag estimate decays once the loop is free. */
  const passes = async (): Promise<number> => {
    const deadline = Date.now() + 10_000
    let status = 0
    while (Date.now() < deadline && status !== 200) {
      status = (await fetch(`${srv.url}/x`)).status
      if (status !== 200) await new Promise(resolve => setTimeout(resolve, 100))
    }
    return status
  }
  try {
    // This process's own start-up work (loading, compiling) is lag too on a loaded machine: the
    // server passes requests once that is over.
    t.is(await passes(), 200)
    // Block the loop with 300 ms of CPU work (a CPU-bound burst), then ask at once.
    const c0 = process.cpuUsage()
    for (let u = process.cpuUsage(c0); u.user + u.system < 300_000; u = process.cpuUsage(c0)) { /* busy */ }
    const shed = await fetch(`${srv.url}/x`)
    t.is(shed.status, 503)
    t.is(shed.headers.get('retry-after'), '1')
    t.is(((await shed.json()) as { error: { reason: string } }).error.reason, 'SERVICE_UNAVAILABLE')
    t.is(await passes(), 200)
  } finally {
    shedder.stop()
    await srv.close()
  }
})

test.serial('a bounded flood (1500 requests, 40 at a time) never gets past the identity limit and the process stays up', async (t) => {
  const token = await saToken(key, { namespace: 'ml', name: 'flood' })
  const counts = new Map<number, number>()
  let errors = 0
  let next = 0
  const TOTAL = 1500
  const started = Date.now()
  await Promise.all(Array.from({ length: 40 }, async () => {
    while (next < TOTAL) {
      next++
      try {
        // A forged X-Forwarded-For buys no fresh per-IP budget: the socket address counts.
        const r = await fetch(`${b.url}/api/v1/pins`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '10.9.9.9' } })
        await r.arrayBuffer()
        counts.set(r.status, (counts.get(r.status) ?? 0) + 1)
      } catch { errors++ }
    }
  }))
  const summary = JSON.stringify(Object.fromEntries(counts))
  t.is(errors, 0, 'no connection was dropped')
  t.true((counts.get(200) ?? 0) <= ID_LIMIT, `at most ${ID_LIMIT} passed: ${summary}`)
  t.deepEqual([...counts.keys()].filter(s => s !== 200 && s !== 429 && s !== 503), [], `only 200, 429 and 503: ${summary}`)
  t.is(b.child?.exitCode, null, 'the replica is still running')
  t.is((await fetch(`${b.url}/healthz`)).status, 200)
  t.log(`${TOTAL} requests in ${Date.now() - started} ms: ${summary}`)
})

test.serial('with Redis gone the replicas fall back to their own counters: requests are still answered, never a 500', async (t) => {
  await redis.stop()
  const token = await saToken(key, { namespace: 'ml', name: 'after-redis' })
  // The shared IP window is used up; each replica now counts on its own, from zero.
  const r = await fetch(`${a.url}/api/v1/pins`, { headers: { authorization: `Bearer ${token}` } })
  t.is(r.status, 200)
  t.is(r.headers.get('ratelimit-remaining'), String(ID_LIMIT - 1))
})
