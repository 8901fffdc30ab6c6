// `ipfs-csi gateway publish|unpublish|ls|sync`: what the public gateway serves. Thin: flags are
// validated (all problems at once), then GatewayPublisher does the work. Exit 0 only when every
// gateway Kubo got the change; a partial failure exits 1 naming the gateways (safe to re-run).
import path from 'node:path'
import { readFile } from 'node:fs/promises'
import type { CID } from 'multiformats/cid'
import { ConfigError, intOption, readFlags, validateKuboApi } from '../driver/config.js'
import { parseCid } from '../driver/content-ref.js'
import { CsiError } from '../driver/errors.js'
import { Kubo } from '../driver/kubo.js'
import { GatewayPublisher } from './publisher.js'
import { parsePublishedList } from './published-list.js'

const FLAGS = {
  'storage-kubo-api': { type: 'string' },
  'storage-kubo-api-token-file': { type: 'string' },
  'gateway-kubo-api': { type: 'string' },
  'gateway-kubo-api-token-file': { type: 'string' },
  published: { type: 'string' },
  'copy-timeout-ms': { type: 'string', default: String(3_600_000) },
  'kubo-timeout-ms': { type: 'string', default: String(60_000) },
  help: { type: 'boolean', short: 'h' }
} as const

export const GATEWAY_USAGE = `usage: ipfs-csi gateway <publish|unpublish> CID... | ls | sync --published FILE
       ipfs-csi gateway exporter [flags]       nginx's metrics for Prometheus (see gateway exporter --help)
       ipfs-csi gateway kubo-metrics [flags]   a gateway Kubo's own metrics, off its RPC port
  --gateway-kubo-api URL[,URL...]       every gateway-tier Kubo (RPC)
  --gateway-kubo-api-token-file FILE    its publisher token
  --storage-kubo-api URL                the storage tier's Kubo (publish, sync: dag/export)
  --storage-kubo-api-token-file FILE    its publisher token
  --published FILE                      sync: one CID per line (# comments); the gateways end up
                                        holding exactly these
  --copy-timeout-ms N (3600000)         deadline for copying one DAG to one gateway
  --kubo-timeout-ms N (60000)           deadline for every other Kubo call
Every flag can also be set as IPFS_CSI_<FLAG>.`

export interface GatewayCommandConfig {
  action: 'publish' | 'unpublish' | 'ls' | 'sync'
  cids: CID[]
  gateways: string[]
  gatewayTokenFile?: string
  storage?: string
  storageTokenFile?: string
  published?: string
  copyTimeoutMs: number
  kuboTimeoutMs: number
}

export function parseGatewayCommand (argv: string[], env: NodeJS.ProcessEnv = process.env): GatewayCommandConfig | 'help' {
  let read
  try {
    read = readFlags(argv, FLAGS, env)
  } catch (err) {
    throw new ConfigError([(err as Error).message, GATEWAY_USAGE])
  }
  const v = read.values
  if (v.help === true) return 'help'
  const [action, ...args] = read.positionals
  const problems: string[] = []
  if (action !== 'publish' && action !== 'unpublish' && action !== 'ls' && action !== 'sync') {
    throw new ConfigError([`unknown gateway command ${JSON.stringify(action ?? '')}`, GATEWAY_USAGE])
  }
  const cids: CID[] = []
  if (action === 'publish' || action === 'unpublish') {
    if (args.length === 0) problems.push(`${action} needs at least one CID`)
    for (const a of args) {
      try { cids.push(parseCid(a)) } catch (err) { problems.push((err as Error).message) }
    }
  } else if (args.length > 0) problems.push(`unexpected arguments: ${args.join(' ')}`)
  const gwRaw = String(v['gateway-kubo-api'] ?? '')
  const gateways = gwRaw === '' ? [] : gwRaw.split(',').map(u => validateKuboApi(problems, u.trim(), 'gateway-kubo-api'))
  if (gateways.length === 0) problems.push('--gateway-kubo-api URL[,URL...] is required')
  const needsStorage = action === 'publish' || action === 'sync'
  const storageRaw = v['storage-kubo-api'] as string | undefined
  let storage: string | undefined
  if (storageRaw !== undefined) storage = validateKuboApi(problems, storageRaw, 'storage-kubo-api')
  else if (needsStorage) problems.push(`--storage-kubo-api URL is required for ${action}`)
  const files: Record<string, string | undefined> = {
    'gateway-kubo-api-token-file': v['gateway-kubo-api-token-file'] as string | undefined,
    'storage-kubo-api-token-file': v['storage-kubo-api-token-file'] as string | undefined,
    published: v.published as string | undefined
  }
  for (const [k, f] of Object.entries(files)) if (f !== undefined && !path.isAbsolute(f)) problems.push(`--${k} must be an absolute path`)
  if (action === 'sync' && files.published === undefined) problems.push('sync needs --published FILE')
  const copyTimeoutMs = intOption(problems, 'copy-timeout-ms', v['copy-timeout-ms'], 1000, 24 * 3_600_000)
  const kuboTimeoutMs = intOption(problems, 'kubo-timeout-ms', v['kubo-timeout-ms'], 100, 3_600_000)
  if (problems.length > 0) throw new ConfigError([...problems, GATEWAY_USAGE])
  return {
    action,
    cids,
    gateways,
    copyTimeoutMs,
    kuboTimeoutMs,
    ...(files['gateway-kubo-api-token-file'] !== undefined ? { gatewayTokenFile: files['gateway-kubo-api-token-file'] } : {}),
    ...(storage !== undefined ? { storage } : {}),
    ...(files['storage-kubo-api-token-file'] !== undefined ? { storageTokenFile: files['storage-kubo-api-token-file'] } : {}),
    ...(files.published !== undefined ? { published: files.published } : {})
  }
}

export async function gatewayCommand (argv: string[]): Promise<number> {
  if (argv[0] === 'exporter') return await (await import('./exporter-command.js')).exporterCommand(argv.slice(1))
  if (argv[0] === 'kubo-metrics') return await (await import('./kubo-metrics-command.js')).kuboMetricsCommand(argv.slice(1))
  const cfg = parseGatewayCommand(argv)
  if (cfg === 'help') { console.log(GATEWAY_USAGE); return 0 }
  const kubo = (url: string, tokenFile?: string): Kubo => new Kubo({ url, timeoutMs: cfg.kuboTimeoutMs, ...(tokenFile !== undefined ? { tokenFile } : {}) })
  // ls and unpublish never touch the storage tier: any URL would do, none is called.
  const storage = kubo(cfg.storage ?? cfg.gateways[0], cfg.storage !== undefined ? cfg.storageTokenFile : cfg.gatewayTokenFile)
  const publisher = new GatewayPublisher({ storage, gateways: cfg.gateways.map(u => kubo(u, cfg.gatewayTokenFile)), copyTimeoutMs: cfg.copyTimeoutMs })
  const ac = new AbortController()
  const stop = (): void => { ac.abort() }
  process.once('SIGINT', stop).once('SIGTERM', stop)
  try {
    switch (cfg.action) {
      case 'publish':
        for (const c of cfg.cids) { await publisher.publish(c, ac.signal); console.log(`published ${c.toString()} on ${cfg.gateways.length} gateway(s)`) }
        return 0
      case 'unpublish':
        for (const c of cfg.cids) { await publisher.unpublish(c, ac.signal); console.log(`unpublished ${c.toString()} on ${cfg.gateways.length} gateway(s)`) }
        return 0
      case 'ls': {
        const all = await publisher.list(ac.signal)
        const union = new Set([...all.values()].flatMap(s => [...s]))
        for (const c of [...union].sort()) {
          const missing = [...all].filter(([, s]) => !s.has(c)).map(([u]) => u)
          console.log(missing.length === 0 ? c : `${c}\tmissing on ${missing.join(',')}`)
        }
        return 0
      }
      case 'sync': {
        const desired = parsePublishedList(await readFile(cfg.published as string, 'utf8'))
        const report = await publisher.reconcile(desired, ac.signal)
        for (const r of report) console.log(`${r.gateway}: +${r.added.length} -${r.removed.length}${r.added.length + r.removed.length > 0 ? ` (${[...r.added.map(c => `+${c}`), ...r.removed.map(c => `-${c}`)].join(' ')})` : ''}`)
        return 0
      }
    }
  } catch (err) {
    if (err instanceof CsiError) { console.error(`ipfs-csi gateway ${cfg.action}: ${err.message}`); return 1 }
    throw err
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop)
  }
}
