// Renders deploy/components/monitoring/dashboard.json as a PNG from a running Prometheus: each
// panel's PromQL is asked with query_range and drawn as a line chart in the dashboard's own grid
// (SVG, then rsvg-convert from Debian's librsvg2-bin). Grafana does not run here; this shows what
// it would, from the same expressions. Used by test/integration/monitoring.test.ts, whose
// Prometheus scraped a real driver under reads; docs/dashboard.png is one of its renders.
//   node dist/scripts/render-dashboard.js --prometheus http://127.0.0.1:9090 --minutes 5 --out docs/dashboard.png
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { DASHBOARD, grafanaToPromql } from './monitoring.js'

const execFileP = promisify(execFile)

interface Target { expr: string, legendFormat?: string }
interface Panel { type: string, title: string, gridPos: { x: number, y: number, w: number, h: number }, targets?: Target[], fieldConfig?: { defaults?: { unit?: string } } }
export interface Series { name: string, points: Array<[number, number]> }
export interface PanelData { panel: Panel, series: Series[] }

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f']
const COL = 60 // px per grid column (24 columns)
const ROW = 34 // px per grid row
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

async function queryRange (prom: string, expr: string, start: number, end: number, step: number): Promise<Array<{ metric: Record<string, string>, values: Array<[number, string]> }>> {
  const u = new URL('/api/v1/query_range', prom)
  u.search = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(step) }).toString()
  const res = await fetch(u, { signal: AbortSignal.timeout(30_000) })
  const body = await res.json() as { status: string, error?: string, data?: { result: Array<{ metric: Record<string, string>, values: Array<[number, string]> }> } }
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? res.status}`)
  return body.data?.result ?? []
}

/** Every panel's series over [start, end] (Unix seconds). `rateInterval` stands in for $__rate_interval. */
export async function panelData (prom: string, start: number, end: number, rateInterval: string, dashboard = DASHBOARD): Promise<PanelData[]> {
  const dash = JSON.parse(await readFile(dashboard, 'utf8')) as { panels: Panel[] }
  const step = Math.max(1, Math.round((end - start) / 240))
  const out: PanelData[] = []
  for (const panel of dash.panels) {
    const series: Series[] = []
    for (const t of panel.targets ?? []) {
      for (const r of await queryRange(prom, grafanaToPromql(t.expr, rateInterval), start, end, step)) {
        // A label the series lacks (a mount's series have no `volume`) falls back to its job, as a name.
        const name = (t.legendFormat ?? '').replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, k: string) => r.metric[k] ?? r.metric.job ?? '').trim() || (r.metric.job ?? JSON.stringify(r.metric))
        series.push({ name, points: r.values.map(([ts, v]) => [ts, Number(v)] as [number, number]).filter(([, v]) => Number.isFinite(v)) })
      }
    }
    out.push({ panel, series })
  }
  return out
}

function fmtValue (v: number, unit: string): string {
  const abs = Math.abs(v)
  const si = (suffixes: string[], base: number): string => {
    let i = 0
    let x = abs
    while (x >= base && i < suffixes.length - 1) { x /= base; i++ }
    return `${v < 0 ? '-' : ''}${x >= 100 || x === Math.round(x) ? x.toFixed(0) : x.toFixed(1)}${suffixes[i] ?? ''}`
  }
  switch (unit) {
    case 'bytes': return si([' B', ' KiB', ' MiB', ' GiB', ' TiB'], 1024)
    case 'Bps': return si([' B/s', ' KiB/s', ' MiB/s', ' GiB/s'], 1024)
    case 'percentunit': return `${(v * 100).toFixed(abs >= 0.1 ? 0 : 1)}%`
    case 's': return abs === 0 ? '0' : abs < 0.001 ? `${(v * 1e6).toFixed(0)} µs` : abs < 1 ? `${(v * 1000).toFixed(abs < 0.01 ? 1 : 0)} ms` : `${v.toFixed(1)} s`
    case 'ops': case 'reqps': return si(['/s', 'k/s', 'M/s'], 1000)
    default: return si(['', 'k', 'M', 'G'], 1000)
  }
}

function renderPanel (d: PanelData, x0: number, y0: number, w: number, h: number, start: number, end: number): string {
  const unit = d.panel.fieldConfig?.defaults?.unit ?? 'short'
  const parts: string[] = [`<rect x="${x0 + 4}" y="${y0 + 4}" width="${w - 8}" height="${h - 8}" rx="4" fill="#ffffff" stroke="#d0d4da"/>`,
    `<text x="${x0 + 14}" y="${y0 + 24}" font-size="14" font-weight="bold" fill="#222">${esc(d.panel.title)}</text>`]
  const legendRows = Math.min(3, Math.ceil(Math.min(d.series.length, 9) / 3))
  const left = x0 + 74
  const right = x0 + w - 16
  const top = y0 + 36
  const bottom = y0 + h - 28 - legendRows * 16
  const all = d.series.flatMap(s => s.points.map(p => p[1]))
  if (all.length === 0) {
    parts.push(`<text x="${x0 + w / 2}" y="${(top + bottom) / 2}" font-size="13" fill="#999" text-anchor="middle">no data</text>`)
    return parts.join('')
  }
  let max = Math.max(...all, 0)
  const min = Math.min(...all, 0)
  if (unit === 'percentunit') max = Math.max(max, 1)
  if (max === min) max = min + 1
  const sx = (t: number): number => left + (t - start) / (end - start) * (right - left)
  const sy = (v: number): number => bottom - (v - min) / (max - min) * (bottom - top)
  for (let i = 0; i <= 4; i++) {
    const v = min + (max - min) * i / 4
    parts.push(`<line x1="${left}" y1="${sy(v)}" x2="${right}" y2="${sy(v)}" stroke="#eceef1"/>`,
      `<text x="${left - 6}" y="${sy(v) + 4}" font-size="10" fill="#555" text-anchor="end">${esc(fmtValue(v, unit))}</text>`)
  }
  for (let i = 0; i <= 4; i++) {
    const t = start + (end - start) * i / 4
    const label = new Date(t * 1000).toISOString().slice(11, 19)
    parts.push(`<text x="${sx(t)}" y="${bottom + 14}" font-size="10" fill="#555" text-anchor="${i === 0 ? 'start' : i === 4 ? 'end' : 'middle'}">${label}</text>`)
  }
  d.series.slice(0, 9).forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string
    const pts = s.points.map(([t, v]) => `${sx(t).toFixed(1)},${sy(v).toFixed(1)}`).join(' ')
    if (s.points.length === 1) parts.push(`<circle cx="${sx((s.points[0] as [number, number])[0])}" cy="${sy((s.points[0] as [number, number])[1])}" r="2.5" fill="${color}"/>`)
    else parts.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"/>`)
    const lx = x0 + 14 + (i % 3) * ((w - 28) / 3)
    const ly = bottom + 30 + Math.floor(i / 3) * 16
    const name = s.name.length > 34 ? s.name.slice(0, 16) + '…' + s.name.slice(-16) : s.name
    parts.push(`<rect x="${lx}" y="${ly - 8}" width="10" height="10" fill="${color}"/>`, `<text x="${lx + 14}" y="${ly + 1}" font-size="10" fill="#333">${esc(name)}</text>`)
  })
  return parts.join('')
}

/** Writes the PNG (and the SVG next to it); returns the panels with the number of series each drew. */
export async function renderDashboard (prom: string, start: number, end: number, outPng: string, rateInterval = '30s', dashboard = DASHBOARD): Promise<Array<{ title: string, series: number }>> {
  const data = await panelData(prom, start, end, rateInterval, dashboard)
  const title = (JSON.parse(await readFile(dashboard, 'utf8')) as { title?: string }).title ?? 'ipfs-csi'
  const bottomRow = Math.max(...data.map(d => d.panel.gridPos.y + d.panel.gridPos.h))
  const W = 24 * COL
  const H = 60 + bottomRow * ROW + 10
  const parts = [`<rect width="${W}" height="${H}" fill="#f4f5f7"/>`,
    `<text x="16" y="34" font-size="22" font-weight="bold" fill="#222">${esc(title)}</text>`,
    `<text x="${24 + title.length * 13}" y="34" font-size="13" fill="#555">${esc(`deploy/components/monitoring/${path.basename(dashboard)}, rendered from Prometheus · ${new Date(start * 1000).toISOString().slice(0, 19)}Z to ${new Date(end * 1000).toISOString().slice(11, 19)}Z · rate interval ${rateInterval}`)}</text>`]
  for (const d of data) {
    const g = d.panel.gridPos
    const x0 = g.x * COL
    const y0 = 50 + g.y * ROW
    if (d.panel.type === 'row') parts.push(`<text x="${x0 + 10}" y="${y0 + 24}" font-size="16" font-weight="bold" fill="#333">${esc(d.panel.title)}</text>`)
    else parts.push(renderPanel(d, x0, y0, g.w * COL, g.h * ROW, start, end))
  }
  const svgPath = outPng.replace(/\.png$/, '') + '.svg'
  await writeFile(svgPath, `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif">${parts.join('')}</svg>`)
  await execFileP('rsvg-convert', ['-f', 'png', '-o', outPng, svgPath])
  return data.filter(d => d.panel.type !== 'row').map(d => ({ title: d.panel.title, series: d.series.length }))
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const arg = (k: string, d?: string): string => { const i = process.argv.indexOf(k); const v = i >= 0 ? process.argv[i + 1] : d; if (v === undefined) throw new Error(`${k} is required`); return v }
  const end = Date.now() / 1000
  renderDashboard(arg('--prometheus'), end - Number(arg('--minutes', '15')) * 60, end, arg('--out', 'dashboard.png'), arg('--rate-interval', '1m'))
    .then(() => {}, (err: Error) => { console.error(err.message); process.exitCode = 1 })
}
