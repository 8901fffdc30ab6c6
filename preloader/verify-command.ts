// `ipfs-csi verify <cid> --kubo-api URL [--offline] [--json]`: exit 0 when every block re-hashes
// to its CID and every manifest entry matches, 1 when anything is wrong, 2 on bad usage.
import path from 'node:path'
import { CID } from 'multiformats/cid'
import { ConfigError, intOption, readFlags, validateKuboApi } from '../driver/config.js'
import { DEFAULTS } from '../driver/constants.js'
import { Kubo } from '../driver/kubo.js'
import { createLogger } from '../driver/logger.js'
import { BlockFetcher } from '../content/block-fetcher.js'
import { ContentTree } from '../content/content-tree.js'
import { verifyDag, type VerifyReport } from './verify.js'
import { humanBytes, Progress } from '../driver/progress.js'

export const VERIFY_FLAGS = {
  'kubo-api': { type: 'string', default: DEFAULTS.kuboApi },
  'kubo-api-token-file': { type: 'string' },
  'timeout-ms': { type: 'string', default: String(DEFAULTS.kuboTimeoutMs) },
  'total-timeout-ms': { type: 'string', default: String(6 * 3600_000) },
  concurrency: { type: 'string', default: '16' },
  offline: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  'log-level': { type: 'string', default: 'warn' }
} as const

const USAGE = 'usage: ipfs-csi verify <cid> --kubo-api URL [--offline] [--json] [--timeout-ms N] [--concurrency N]'

export async function verifyCommand (argv: string[]): Promise<number> {
  let read
  try {
    read = readFlags(argv, VERIFY_FLAGS)
  } catch (err) {
    throw new ConfigError([(err as Error).message, USAGE])
  }
  const v = read.values
  const problems: string[] = []
  let cid: CID | undefined
  if (read.positionals.length !== 1) problems.push(`expected one <cid>, got ${read.positionals.length} argument(s)`)
  else {
    try { cid = CID.parse((read.positionals[0] as string).replace(/^\/ipfs\//, '')) } catch (err) { problems.push(`${JSON.stringify(read.positionals[0])} is not a valid CID: ${(err as Error).message}`) }
  }
  const kuboApi = validateKuboApi(problems, v['kubo-api'])
  const tokenFile = v['kubo-api-token-file'] as string | undefined
  if (tokenFile !== undefined && !path.isAbsolute(tokenFile)) problems.push('--kubo-api-token-file must be an absolute path')
  const timeoutMs = intOption(problems, 'timeout-ms', v['timeout-ms'], 100, 600_000)
  const totalTimeoutMs = intOption(problems, 'total-timeout-ms', v['total-timeout-ms'], 1000, 7 * 24 * 3600_000)
  const concurrency = intOption(problems, 'concurrency', v.concurrency, 1, 256)
  const logLevel = String(v['log-level'])
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel)) problems.push(`--log-level must be error, warn, info or debug (got ${JSON.stringify(logLevel)})`)
  if (problems.length > 0 || cid === undefined) throw new ConfigError([...problems, USAGE])
  // Corrupt blocks are expected findings here, not driver errors: keep the fetcher's error logs quiet unless asked.
  const log = createLogger(logLevel === 'warn' ? 'error' : logLevel, 'verify')
  if (logLevel === 'warn') log.silent = true
  const kubo = new Kubo({ url: kuboApi, ...(tokenFile !== undefined ? { tokenFile } : {}), timeoutMs })
  const fetcher = new BlockFetcher({ kubo, timeoutMs, cacheBytes: 64 * 1024 * 1024, log })
  const tree = new ContentTree({ fetcher, log })
  const progress = new Progress()
  let report: VerifyReport
  try {
    report = await verifyDag({
      kubo, fetcher, tree, log, offline: v.offline === true, concurrency, timeoutMs,
      onProgress: (p) => progress.update(`verifying ${cid?.toString() ?? ''}: ${p.blocks} blocks, ${humanBytes(p.bytes)} re-hashed, ${p.queued} queued`)
    }, cid, AbortSignal.timeout(totalTimeoutMs))
  } finally {
    fetcher.close()
    progress.done()
  }
  if (v.json === true) console.log(JSON.stringify(report, null, 2))
  else console.log(formatReport(report))
  return report.ok ? 0 : 1
}

export function formatReport (r: VerifyReport): string {
  const out = [`${r.cid}: ${r.blocks} block(s), ${r.bytes} bytes re-hashed`]
  for (const p of r.blockProblems) out.push(`  ${p.kind.toUpperCase()} block ${p.cid}: ${p.error}`)
  for (const m of r.manifests) out.push(`  manifest ${m.name}: ${m.files} file(s), ${m.ok ? 'all match' : 'MISMATCH'}`)
  for (const p of r.fileProblems) out.push(`  BAD ${p.manifest} ${p.file}: ${p.error}`)
  out.push(r.ok ? 'OK' : `FAILED: ${r.blockProblems.length} block problem(s), ${r.fileProblems.length} file problem(s)`)
  return out.join('\n')
}
