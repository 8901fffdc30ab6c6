// How the FUSE servers' metrics reach the scrape. Each FUSE server is its own process (it must
// outlive the node service) and answers /metrics.json on <volume dir>/metrics.sock. At each
// scrape of the node service, this reads every staged volume's socket (in parallel, each with
// a short deadline) and re-exports the families with a `volume` label, so Prometheus scrapes one
// endpoint per node and no port is opened per volume.
//
// Bounded labels: the first `maxVolumes` volumes seen get their own `volume` label (kept while
// the volume stays staged); any further ones are summed under volume="_other". Counters and
// histograms of servers that leave "_other" are kept in a retired total, so the "_other" series
// never go down (a drop would read as a counter reset and inflate rate()). A server that does
// not answer in time is reported with its last answer, and counted in
// ipfs_csi_node_fuse_servers{state="silent"}.
import http from 'node:http'
import type { Logger } from '../driver/logger.js'
import { client, type Registry } from '../driver/metrics.js'
import { metricsSocketOf } from './fuse/fuse-server.js'
import type { VolumeStateStore } from './volume-state.js'

type MetricJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number]

/** Volumes given their own label per node; the kubelet's default is at most 110 pods per node. */
export const MAX_LABELLED_VOLUMES = 128
const SCRAPE_TIMEOUT_MS = 2000
const MAX_ANSWER_BYTES = 1024 * 1024
export const OTHER_VOLUMES = '_other'

interface Snapshot { pid: number, label: string, metrics: MetricJson[] }

export class FuseMetricsCollector {
  private readonly store: VolumeStateStore
  private readonly log: Logger
  private readonly maxVolumes: number
  /** volume id → its label, sticky while staged. */
  private readonly labels = new Map<string, string>()
  private readonly last = new Map<string, Snapshot>()
  /** Counters and histograms of "_other" servers that are gone. */
  private retired: MetricJson[] = []
  private retiring: MetricJson[] = []
  /** Answering / silent servers at the last collection. */
  readonly servers = { answering: 0, silent: 0 }

  constructor (init: { store: VolumeStateStore, log: Logger, maxVolumes?: number }) {
    this.store = init.store
    this.log = init.log
    this.maxVolumes = init.maxVolumes ?? MAX_LABELLED_VOLUMES
  }

  private running?: Promise<Registry>

  /** One registry with every staged volume's FUSE metrics, labelled by volume; overlapping scrapes share one pass. */
  async collect (): Promise<Registry> {
    this.running ??= this.pass().finally(() => { this.running = undefined })
    return await this.running
  }

  private async pass (): Promise<Registry> {
    const { states } = await this.store.list()
    const ids = new Set(states.map(s => s.volumeId))
    for (const [id, snap] of this.last) if (!ids.has(id)) this.retire(id, snap)
    let answering = 0
    let silent = 0
    await Promise.all(states.map(async (s) => {
      const answer = await readSocket(metricsSocketOf(this.store.specPath(s.volumeId))).catch(() => undefined)
      const prev = this.last.get(s.volumeId)
      if (answer === undefined) {
        silent++
        return // the last answer (if any) stands in
      }
      answering++
      if (prev !== undefined && prev.pid !== answer.pid) this.retire(s.volumeId, prev, true)
      const label = this.labelFor(s.volumeId)
      this.last.set(s.volumeId, { pid: answer.pid, label, metrics: withLabel(answer.metrics, label) })
    }))
    this.servers.answering = answering
    this.servers.silent = silent
    if (this.retiring.length > 0) {
      this.retired = await client.AggregatorRegistry.aggregate([[...this.retired, ...this.retiring]]).getMetricsAsJSON()
      this.retiring = []
    }
    return client.AggregatorRegistry.aggregate([[...[...this.last.values()].flatMap(s => s.metrics), ...this.retired]])
  }

  private labelFor (id: string): string {
    let label = this.labels.get(id)
    if (label === undefined) {
      const own = [...this.labels.values()].filter(l => l !== OTHER_VOLUMES).length
      label = own < this.maxVolumes ? id : OTHER_VOLUMES
      this.labels.set(id, label)
      if (label === OTHER_VOLUMES) this.log.debug('volume metrics summed under _other (label cap reached)', { volumeId: id, cap: this.maxVolumes })
    }
    return label
  }

  /** A server is gone (volume unstaged, or restarted when `restarted`): fold its "_other" totals away. */
  private retire (id: string, snap: Snapshot, restarted = false): void {
    if (snap.label === OTHER_VOLUMES) {
      this.retiring.push(...snap.metrics.filter(m => String(m.type) === 'counter' || String(m.type) === 'histogram'))
    }
    this.last.delete(id)
    if (!restarted) this.labels.delete(id)
  }
}

function withLabel (metrics: MetricJson[], volume: string): MetricJson[] {
  return metrics.map(m => ({ ...m, values: m.values.map(v => ({ ...v, labels: { ...v.labels, volume } })) }))
}

/** GET /metrics.json over a FUSE server's unix socket, bounded in time and size. */
async function readSocket (socketPath: string): Promise<{ pid: number, metrics: MetricJson[] }> {
  return await new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: '/metrics.json', timeout: SCRAPE_TIMEOUT_MS }, (res) => {
      let size = 0
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => {
        size += c.length
        if (size > MAX_ANSWER_BYTES) { req.destroy(new Error('answer too large')); return }
        chunks.push(c)
      })
      res.on('error', reject)
      res.on('end', () => {
        if (res.statusCode !== 200) { reject(new Error(`HTTP ${res.statusCode ?? '?'}`)); return }
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { pid?: unknown, metrics?: unknown }
          if (typeof body.pid !== 'number' || !Array.isArray(body.metrics)) throw new Error('not a FUSE server metrics answer')
          resolve({ pid: body.pid, metrics: (body.metrics as MetricJson[]).filter(m => typeof m?.name === 'string' && m.name.startsWith('ipfs_csi_fuse_') && Array.isArray(m.values)) })
        } catch (err) { reject(err) }
      })
    })
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', reject)
  })
}
