// A real Prometheus (Debian's package) for the monitoring tests: started on a config the test
// writes, queried through its HTTP API. Plus the polling helpers those tests share.
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { stringify } from 'yaml'
import { logFile } from './repo.js'
import { freePort } from './free-port.js'

const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** Polls `fn` until it returns something other than undefined (errors count as undefined). */
export async function waitFor<T> (what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(250)
  }
}

/** Spawns a long-running child whose output goes to test-results/logs/<name>-*.log. */
export function startLogged (name: string, args: string[], bin = process.execPath): ChildProcess {
  const out = createWriteStream(logFile(name))
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout?.pipe(out)
  child.stderr?.pipe(out)
  return child
}

export interface Sample { metric: Record<string, string>, value: [number, string] }

/** Series of a selector or expression that were above zero at some second of the last 10 minutes. */
export const nonZero = (q: string): string => `max_over_time((${q})[10m:1s]) > 0`

export class Prometheus {
  private constructor (readonly url: string, readonly child: ChildProcess) {}

  /** Prometheus scraping `jobs` (name → host:port, or with a metrics path) every second, evaluating `ruleFiles`. */
  static async start (dir: string, jobs: Record<string, string>, ruleFiles: string[], name: string): Promise<Prometheus> {
    const port = await freePort()
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: ruleFiles,
      scrape_configs: Object.entries(jobs).map(([job, target]) => {
        const u = new URL(`http://${target}`)
        return { job_name: job, static_configs: [{ targets: [u.host] }], ...(u.pathname !== '/' ? { metrics_path: u.pathname } : {}) }
      })
    }
    await writeFile(path.join(dir, 'prometheus.yml'), stringify(config))
    const child = startLogged(`${name}-prometheus`, ['--config.file', path.join(dir, 'prometheus.yml'), '--storage.tsdb.path', path.join(dir, 'tsdb'), '--web.listen-address', `127.0.0.1:${port}`, '--log.level', 'warn'], 'prometheus')
    const p = new Prometheus(`http://127.0.0.1:${port}`, child)
    await waitFor('Prometheus ready', async () => (await fetch(`${p.url}/-/ready`)).ok ? true : undefined)
    return p
  }

  async query (q: string): Promise<Sample[]> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(10_000) })
    const body = await res.json() as { status: string, error?: string, data: { result: Sample[] } }
    if (body.status !== 'success') throw new Error(`${q}: ${body.error ?? ''}`)
    return body.data.result
  }

  /** Waits until `count` targets are up; on timeout the error names each target's health and last error. */
  async allUp (count: number, timeoutMs = 60_000): Promise<void> {
    await waitFor(`${count} targets up`, async () => {
      const up = await this.query('up == 1')
      return up.length === count ? true : undefined
    }, timeoutMs).catch(async (err: Error) => {
      const t = await (await fetch(`${this.url}/api/v1/targets`)).json() as { data: { activeTargets: Array<{ labels: { job: string }, health: string, lastError: string }> } }
      throw new Error(`${err.message}: ${JSON.stringify(t.data.activeTargets.map(x => [x.labels.job, x.health, x.lastError]))}`)
    })
  }

  /** Waits until `q` has a result (Prometheus scraped what the test just did). */
  async scraped (what: string, q: string, timeoutMs = 60_000): Promise<void> {
    await waitFor(what, async () => (await this.query(q)).length > 0 ? true : undefined, timeoutMs)
  }

  /** The families (name → selector) with no series above zero in the last 10 minutes, after waiting up to `timeoutMs` for them. */
  async missing (families: Record<string, string>, timeoutMs: number): Promise<string[]> {
    const check = async (): Promise<string[]> => {
      const bad: string[] = []
      for (const [what, q] of Object.entries(families)) if ((await this.query(nonZero(q))).length === 0) bad.push(`${what}: ${q}`)
      return bad
    }
    return await waitFor('every family non-zero', async () => { const b = await check(); return b.length === 0 ? b : undefined }, timeoutMs).catch(check)
  }

  /** Names of alerts pending or firing at some point of the last 10 minutes. */
  async alertsSeen (): Promise<string[]> {
    return [...new Set((await this.query('max_over_time(ALERTS[10m])')).map(s => s.metric.alertname as string))].sort()
  }
}
