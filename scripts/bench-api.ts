// `make bench` group "api": p99 latency of the API at a fixed request rate (open loop: requests
// leave on schedule whatever the answers do), against the Kubo RPC call each answer is built on,
// at the same rate, in the same run. GET /api/v1/pins/{id} (an API token checked, the request's
// pins looked up) vs one `pin/ls --names --name` on the same Kubo.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import path from 'node:path'
import { KuboDaemon } from '../test/helpers/kubo-daemon.js'
import { ApiProcess, AUDIENCE, ISSUER, saToken, signingKey, writeJwks } from '../test/helpers/api-process.js'
import { createApiClient, unwrap } from '../sdk/index.js'
import type { GatewayFigure } from './bench-gateway.js'

const p99 = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)] as number }

/** Sends `rate` requests per second for `seconds`, each on its own schedule; returns latencies (ms). */
async function openLoop (rate: number, seconds: number, call: (i: number) => Promise<void>): Promise<number[]> {
  const total = rate * seconds
  const t0 = performance.now()
  const each: number[] = []
  const inflight: Array<Promise<void>> = []
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
    inflight.push((async () => {
      const s = performance.now()
      await call(i)
      each.push(performance.now() - s)
    })())
  }
  await Promise.all(inflight)
  return each
}

export async function benchApi (work: string, opts: { pins: number, rate: number, seconds: number }, log: (m: string) => void): Promise<GatewayFigure[]> {
  const dir = await mkdtemp(path.join(work, 'api-'))
  const kubo = await KuboDaemon.start({ offline: true, name: 'bench-api' })
  let api: ApiProcess | undefined
  try {
    const key = await signingKey('bench')
    await writeJwks(path.join(dir, 'jwks.json'), [key])
    // Limits far above the load: this measures serving, not the limiter.
    api = await ApiProcess.start(['--kubo-api', kubo.apiUrl, '--oidc-issuer', ISSUER, '--audience', AUDIENCE, '--oidc-jwks-file', path.join(dir, 'jwks.json'), '--rate-limit-identity', '1000000', '--rate-limit-ip', '1000000', '--log-level', 'warn'])
    const token = unwrap(await createApiClient({ baseUrl: api.url, token: await saToken(key) }).POST('/v1/tokens', { body: { device: 'bench' } })).token
    const sdk = createApiClient({ baseUrl: api.url, token })
    const ids: string[] = []
    for (let i = 0; i < opts.pins; i++) {
      const cid = await kubo.addBytes(randomBytes(1024), ['--cid-version=1', '--pin=false'])
      ids.push(unwrap(await sdk.POST('/api/v1/pins', { body: { cid, name: `bench-${i}` } })).requestid)
    }
    const deadline = Date.now() + 120_000
    while (unwrap(await sdk.GET('/api/v1/pins', { params: { query: { limit: 1 } } })).count < opts.pins) {
      if (Date.now() > deadline) throw new Error('bench pins did not all become pinned')
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    const get = async (i: number): Promise<void> => {
      const r = await sdk.GET('/api/v1/pins/{requestid}', { params: { path: { requestid: ids[i % ids.length] as string } } })
      if (r.response.status !== 200) throw new Error(`API answered ${r.response.status}`)
    }
    const pinLs = async (i: number): Promise<void> => {
      const res = await fetch(`${kubo.apiUrl}/api/v0/pin/ls?type=direct&names=true&name=${encodeURIComponent(`ipfs-csi/api/pin/ml/${ids[i % ids.length] as string}`)}`, { method: 'POST' })
      await res.arrayBuffer()
      if (!res.ok) throw new Error(`Kubo answered ${res.status}`)
    }
    await openLoop(opts.rate, 1, get) // warm-up: token and record caches, keep-alive sockets
    await openLoop(opts.rate, 1, pinLs)
    const ours = await openLoop(opts.rate, opts.seconds, get)
    const base = await openLoop(opts.rate, opts.seconds, pinLs)
    log(`api: GET /api/v1/pins/{id} p99 ${p99(ours).toFixed(1)} ms, Kubo pin/ls p99 ${p99(base).toFixed(1)} ms at ${opts.rate} req/s`)
    return [{
      id: 'api-get-pin-p99',
      name: `10. API: p99 of GET /api/v1/pins/{id} at ${opts.rate} req/s for ${opts.seconds} s (${opts.pins} pins, API token) vs one Kubo pin/ls --name at the same rate`,
      unit: 'ms',
      ours: p99(ours),
      baseline: p99(base),
      baselineName: 'Kubo pin/ls',
      // One answer costs three pin listings (request, pinned, failed) run in parallel and a cached record.
      check: { on: 'ratio', op: '<=', value: 4 }
    }]
  } finally {
    await api?.stop()
    await kubo.dispose()
    await rm(dir, { recursive: true, force: true })
  }
}
