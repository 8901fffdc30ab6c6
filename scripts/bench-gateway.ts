// `make bench` group "gw": the public gateway's nginx (the shipped template, warm cache, TLS)
// against a bare Kubo gateway serving the same file from its blockstore, in the same run, same
// client concurrency. Throughput of whole-file downloads (curl) and p99 latency of 256 KiB range
// reads (Node clients, one request at a time per client).
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import http from 'node:http'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { KuboDaemon } from '../test/helpers/kubo-daemon.js'
import { GatewayNginx } from '../test/helpers/gateway-nginx.js'

const MiB = 1024 * 1024
const execFileP = promisify(execFile)

export interface GatewayFigure {
  id: string
  name: string
  unit: string
  ours: number
  baseline: number
  baselineName: string
  check: { on: 'ratio', op: '>=' | '<=', value: number }
  samples?: { ours?: number[], baseline?: number[] }
}

type Get = (range?: string) => Promise<number>

/** Runs `total` requests with `clients` in parallel; returns each request's duration (ms). */
async function load (get: Get, total: number, clients: number, range?: () => string): Promise<{ ms: number, each: number[], bytes: number }> {
  const each: number[] = []
  let bytes = 0
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < total) {
      next++
      const s = performance.now()
      bytes += await get(range?.())
      each.push(performance.now() - s)
    }
  }))
  return { ms: performance.now() - t0, each, bytes }
}

/** `count` downloads of one URL by one curl process, `parallel` at a time; bytes as curl counted them. */
async function curlDownloads (url: string, extra: string[], count: number, parallel: number): Promise<{ ms: number, bytes: number }> {
  const args = ['-s', '-f', '--parallel', '--parallel-max', String(parallel), '-w', '%{size_download}\\n', ...extra]
  for (let i = 0; i < count; i++) args.push('-o', '/dev/null', url)
  const t0 = performance.now()
  const { stdout } = await execFileP('curl', args, { maxBuffer: 1024 * 1024, timeout: 600_000 })
  const ms = performance.now() - t0
  return { ms, bytes: stdout.trim().split('\n').reduce((n, l) => n + Number(l), 0) }
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = Math.floor(s.length / 2); return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2 }
const p99 = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)] as number }

export async function benchGateway (work: string, opts: { fileMiB: number, downloads: number, ranges: number, clients: number }, log: (m: string) => void): Promise<GatewayFigure[]> {
  const domain = 'gw.test'
  const config = { 'Gateway.PublicGateways': { [domain]: { UseSubdomains: true, Paths: ['/ipfs'], NoDNSLink: true } }, 'Gateway.NoFetch': true }
  const backend = await KuboDaemon.start({ offline: true, name: 'bench-gateway', config })
  let nginx: GatewayNginx | undefined
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.clients })
  try {
    const size = opts.fileMiB * MiB
    const file = path.join(work, 'gateway-bench.bin')
    await writeFile(file, randomBytes(size))
    const cid = await backend.add(file, ['--cid-version=1', '--raw-leaves', '--chunker=size-1048576'])
    // Limits far above the load: this measures the cache and proxy path, not the rate limiter.
    nginx = await GatewayNginx.start({ backends: [new URL(backend.gatewayUrl).host], domain, rate: '100000r/s', burst: 100000, conn: 10000, workers: 2 })
    const gw = nginx
    const host = gw.contentHost(cid)
    // Both clients count the bytes as they arrive (no buffering), over keep-alive connections.
    const viaNginx: Get = async (range) => {
      const r = await gw.count('/', { host, headers: range !== undefined ? { range } : {} })
      if (r.status !== 200 && r.status !== 206) throw new Error(`nginx answered ${r.status}`)
      return r.bytes
    }
    const kubo = new URL(backend.gatewayUrl)
    const viaKubo: Get = async (range) => await new Promise((resolve, reject) => {
      const req = http.request({ host: kubo.hostname, port: kubo.port, path: `/ipfs/${cid}`, agent, headers: range !== undefined ? { range } : {} }, (res) => {
        let n = 0
        res.on('data', (c: Buffer) => { n += c.length })
        res.on('end', () => { res.statusCode === 200 || res.statusCode === 206 ? resolve(n) : reject(new Error(`kubo answered ${res.statusCode ?? 0}`)) })
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end()
    })
    // Warm nginx's cache (every slice) and Kubo's blockstore pages alike, then check the bytes.
    if (await viaNginx() !== size || await viaKubo() !== size) throw new Error('a warm-up read returned the wrong size')
    // Rounds alternate the two sides, so load from elsewhere on the machine hits both alike; each
    // figure is the median over the rounds (throughput) or the p99 over all requests (latency).
    const figures: GatewayFigure[] = []
    const ROUNDS = 5
    const tOurs: number[] = []
    const tBase: number[] = []
    const per = Math.max(opts.clients, Math.round(opts.downloads / ROUNDS))
    // Whole-file downloads with curl (a C client, --parallel over 8 connections): a Node client
    // tops out far below either server and would measure itself.
    await writeFile(path.join(work, 'gateway-ca.pem'), gw.ca.caCert)
    const nginxUrl = `https://${host}:${gw.port}/`
    const curlNginx = ['--cacert', path.join(work, 'gateway-ca.pem'), '--resolve', `${host}:${gw.port}:127.0.0.1`]
    const kuboUrl = `${backend.gatewayUrl}/ipfs/${cid}`
    for (let i = 0; i < ROUNDS; i++) {
      const o = await curlDownloads(nginxUrl, curlNginx, per, opts.clients)
      const b = await curlDownloads(kuboUrl, [], per, opts.clients)
      if (o.bytes !== per * size || b.bytes !== per * size) throw new Error(`curl fetched ${o.bytes} and ${b.bytes} bytes, not ${per * size}`)
      tOurs.push(o.bytes / MiB / (o.ms / 1000))
      tBase.push(b.bytes / MiB / (b.ms / 1000))
    }
    log(`gateway throughput per round: nginx ${tOurs.map(x => x.toFixed(0)).join(' ')} MiB/s, bare Kubo ${tBase.map(x => x.toFixed(0)).join(' ')} MiB/s`)
    figures.push({ id: 'gateway-throughput', name: `9. gateway: ${per * ROUNDS} downloads of a ${opts.fileMiB} MiB file, ${opts.clients} clients, nginx (TLS, warm cache) vs a bare Kubo gateway`, unit: 'MiB/s', ours: median(tOurs), baseline: median(tBase), baselineName: 'bare Kubo gateway', check: { on: 'ratio', op: '>=', value: 1.0 }, samples: { ours: tOurs, baseline: tBase } })
    const span = 256 * 1024
    const offsets = Array.from({ length: opts.ranges }, () => Math.floor(Math.random() * (size - span)))
    const rangeOf = (list: number[]): () => string => { let i = 0; return () => { const o = list[i++ % list.length] as number; return `bytes=${o}-${o + span - 1}` } }
    const lOurs: number[] = []
    const lBase: number[] = []
    const perRanges = Math.ceil(opts.ranges / ROUNDS)
    for (let i = 0; i < ROUNDS; i++) {
      const slice = offsets.slice(i * perRanges, (i + 1) * perRanges)
      lOurs.push(...(await load(viaNginx, slice.length, opts.clients, rangeOf(slice))).each)
      lBase.push(...(await load(viaKubo, slice.length, opts.clients, rangeOf(slice))).each)
    }
    figures.push({ id: 'gateway-p99', name: `9. gateway: p99 of ${opts.ranges} random 256 KiB range reads, ${opts.clients} clients, nginx (slices cached) vs a bare Kubo gateway`, unit: 'ms', ours: p99(lOurs), baseline: p99(lBase), baselineName: 'bare Kubo gateway', check: { on: 'ratio', op: '<=', value: 1.0 } })
    return figures
  } finally {
    agent.destroy()
    await nginx?.stop()
    await backend.dispose()
  }
}
