// `make bench` group "gw": the public gateway's nginx (the shipped template, warm cache, TLS)
// against a bare Kubo gateway serving the same file from its blockstore, in the same run, same
// client concurrency. Throughput of whole-file downloads and p99 latency of 256 KiB range reads.
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { KuboDaemon } from '../test/helpers/kubo-daemon.js'
import { GatewayNginx } from '../test/helpers/gateway-nginx.js'

const MiB = 1024 * 1024

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
    const viaNginx: Get = async (range) => {
      const r = await gw.get('/', { host, headers: range !== undefined ? { range } : {} })
      if (r.status !== 200 && r.status !== 206) throw new Error(`nginx answered ${r.status}`)
      return r.body.length
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
    const figures: GatewayFigure[] = []
    const ours = await load(viaNginx, opts.downloads, opts.clients)
    const base = await load(viaKubo, opts.downloads, opts.clients)
    log(`gateway throughput: nginx ${(ours.bytes / MiB / (ours.ms / 1000)).toFixed(0)} MiB/s, bare Kubo ${(base.bytes / MiB / (base.ms / 1000)).toFixed(0)} MiB/s`)
    figures.push({ id: 'gateway-throughput', name: `9. gateway: ${opts.downloads} downloads of a ${opts.fileMiB} MiB file, ${opts.clients} clients, nginx (TLS, warm cache) vs a bare Kubo gateway`, unit: 'MiB/s', ours: ours.bytes / MiB / (ours.ms / 1000), baseline: base.bytes / MiB / (base.ms / 1000), baselineName: 'bare Kubo gateway', check: { on: 'ratio', op: '>=', value: 1.0 } })
    const span = 256 * 1024
    const offsets = Array.from({ length: opts.ranges }, () => Math.floor(Math.random() * (size - span)))
    const rangeOf = (list: number[]): () => string => { let i = 0; return () => { const o = list[i++ % list.length] as number; return `bytes=${o}-${o + span - 1}` } }
    const rOurs = await load(viaNginx, opts.ranges, opts.clients, rangeOf(offsets))
    const rBase = await load(viaKubo, opts.ranges, opts.clients, rangeOf(offsets))
    figures.push({ id: 'gateway-p99', name: `9. gateway: p99 of ${opts.ranges} random 256 KiB range reads, ${opts.clients} clients, nginx (slices cached) vs a bare Kubo gateway`, unit: 'ms', ours: p99(rOurs.each), baseline: p99(rBase.each), baselineName: 'bare Kubo gateway', check: { on: 'ratio', op: '<=', value: 1.0 } })
    return figures
  } finally {
    agent.destroy()
    await nginx?.stop()
    await backend.dispose()
  }
}
