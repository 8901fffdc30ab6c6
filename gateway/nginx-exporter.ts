// The gateway's nginx as Prometheus metrics. nginx OSS has no metrics endpoint and its
// stub_status page knows nothing of status codes, which the gateway's alerts need (5xx, 429). So
// nginx sends one short access-log line per request over syslog (UDP on the pod's loopback) to
// this exporter, which counts them by status and cache outcome, and reads stub_status at each
// scrape for the connection counts.
import dgram from 'node:dgram'
import { deadline } from '../driver/deadline.js'
import { client, createRegistry, type Registry } from '../driver/metrics.js'
import type { ListenAddress } from '../driver/metrics-server.js'
import type { Logger } from '../driver/logger.js'
import { CACHE_STATES, parseGatewayLogLine, parseStubStatus, type StubStatus } from './nginx-status.js'

/** Seconds: a cached slice is served in a millisecond, a cold multi-GiB stream in minutes. */
const GATEWAY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
const STUB_TIMEOUT_MS = 2000
/** A syslog datagram of ours is under 200 bytes; anything much longer is not ours. */
const MAX_DATAGRAM = 2048

export interface NginxExporterInit {
  /** UDP address nginx's `access_log syslog:server=...` sends to. */
  logListen: ListenAddress
  /** http://127.0.0.1:PORT/stub_status of the same nginx. */
  stubStatusUrl: string
  log: Logger
}

export class NginxExporter {
  readonly registry: Registry
  private readonly socket: dgram.Socket
  private readonly requests: client.Counter<'code' | 'cache'>
  private readonly duration: client.Histogram<'cache'>
  private readonly bytes: client.Counter<'cache'>
  private readonly rejected: client.Counter
  private rejectedWarned = false
  /** The UDP port nginx sends to (the one asked for, or the one given for port 0). */
  logPort = 0

  private constructor (private readonly init: NginxExporterInit) {
    this.registry = createRegistry('gateway-exporter')
    const registers = [this.registry]
    this.requests = new client.Counter({ name: 'ipfs_csi_gateway_requests_total', help: 'Requests the gateway\'s nginx answered, by HTTP status code and cache outcome (HIT, MISS, BYPASS... or none).', labelNames: ['code', 'cache'], registers })
    this.duration = new client.Histogram({ name: 'ipfs_csi_gateway_request_duration_seconds', help: 'Time nginx took to answer a gateway request (to its last byte), by cache outcome.', labelNames: ['cache'], buckets: GATEWAY_BUCKETS, registers })
    this.bytes = new client.Counter({ name: 'ipfs_csi_gateway_response_bytes_total', help: 'Bytes the gateway\'s nginx sent to clients (headers included), by cache outcome.', labelNames: ['cache'], registers })
    this.rejected = new client.Counter({ name: 'ipfs_csi_gateway_log_lines_rejected_total', help: 'Datagrams on the log socket that were not a gateway access-log line (nothing else should send there).', registers })
    // Every status class and cache state starts at 0, so rate() sees the first 5xx or 429.
    for (const code of ['200', '404', '429', '500', '502', '504']) this.requests.inc({ code, cache: 'none' }, 0)
    for (const cache of CACHE_STATES) { this.bytes.inc({ cache }, 0) }
    let stub: Promise<StubStatus | undefined> | undefined
    // One stub_status read per scrape, shared by the gauges below.
    const readStub = async (): Promise<StubStatus | undefined> => await (stub ??= this.fetchStub().finally(() => { setImmediate(() => { stub = undefined }) }))
    // eslint-disable-next-line no-new
    new client.Gauge({ name: 'ipfs_csi_gateway_nginx_up', help: '1 when nginx\'s stub_status answered at this scrape, else 0.', registers, async collect () { this.set(await readStub() !== undefined ? 1 : 0) } })
    // eslint-disable-next-line no-new
    new client.Gauge({
      name: 'ipfs_csi_gateway_connections',
      help: 'Client connections of nginx now: active (all), reading (request headers), writing (answering), waiting (idle keep-alive).',
      labelNames: ['state'],
      registers,
      async collect () {
        const s = await readStub()
        this.reset()
        if (s !== undefined) for (const state of ['active', 'reading', 'writing', 'waiting'] as const) this.set({ state }, s[state])
      }
    })
    const stubCounter = (name: string, help: string, key: 'accepted' | 'handled'): void => {
      // eslint-disable-next-line no-new
      new client.Counter({ name, help, registers, async collect () { const s = await readStub(); this.reset(); if (s !== undefined) this.inc(s[key]) } })
    }
    stubCounter('ipfs_csi_gateway_connections_accepted_total', 'Client connections nginx accepted since it started.', 'accepted')
    stubCounter('ipfs_csi_gateway_connections_handled_total', 'Client connections nginx handled since it started (fewer than accepted: some were dropped at a limit).', 'handled')
    this.socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 })
    this.socket.on('message', (msg) => { this.record(msg) })
    this.socket.on('error', (err) => { init.log.error('log socket error', { error: err.message }) })
  }

  static async start (init: NginxExporterInit): Promise<NginxExporter> {
    const e = new NginxExporter(init)
    await new Promise<void>((resolve, reject) => {
      e.socket.once('error', reject)
      e.socket.bind(init.logListen.port, init.logListen.host, () => { e.socket.off('error', reject); resolve() })
    })
    e.logPort = e.socket.address().port
    init.log.info('gateway log socket listening', { udp: `${init.logListen.host}:${e.logPort}`, stubStatus: init.stubStatusUrl })
    return e
  }

  private record (msg: Buffer): void {
    const r = msg.length <= MAX_DATAGRAM ? parseGatewayLogLine(msg.toString('latin1')) : undefined
    if (r === undefined) {
      this.rejected.inc()
      if (!this.rejectedWarned) {
        this.rejectedWarned = true
        this.init.log.warn('a datagram on the gateway log socket is not a gateway access-log line (log_format gw_metrics); counting it as rejected', { bytes: msg.length })
      }
      return
    }
    this.requests.inc({ code: r.code, cache: r.cache })
    this.duration.observe({ cache: r.cache }, r.seconds)
    this.bytes.inc({ cache: r.cache }, r.bytes)
  }

  private async fetchStub (): Promise<StubStatus | undefined> {
    const d = deadline(STUB_TIMEOUT_MS)
    try {
      const res = await fetch(this.init.stubStatusUrl, { signal: d.signal })
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      return parseStubStatus(await res.text())
    } catch (err) {
      this.init.log.warn('nginx stub_status unreadable', { url: this.init.stubStatusUrl, error: (err as Error).message })
      return undefined
    } finally {
      d.clear()
    }
  }

  async close (): Promise<void> {
    await new Promise<void>((resolve) => { this.socket.close(() => resolve()) })
  }
}
