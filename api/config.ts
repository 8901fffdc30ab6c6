// Typed configuration for `ipfs-csi api serve`, from flags then IPFS_CSI_* environment variables,
// validated once at start-up with every problem reported together (as `serve` does).
import path from 'node:path'
import { parseListen, type ListenAddress } from '../driver/metrics-server.js'
import { ConfigError, intOption, readFlags, validateKuboApi } from '../driver/config.js'
import { parseCidrs } from './pins/origins.js'

export interface ApiConfig {
  /** `--metrics-listen`: Prometheus metrics of this API process. */
  metricsListen?: ListenAddress
  host: string
  port: number
  kuboApi: string
  kuboApiTokenFile?: string
  kuboTimeoutMs: number
  /** How long one pin request may take to fetch its DAG before it is marked failed. */
  pinTimeoutMs: number
  /** Pins fetched at once (the rest wait as `queued`). */
  pinConcurrency: number
  /** Deadline of indexing one model version (reads every byte once). */
  modelIndexTimeoutMs: number
  clusterApi?: string
  clusterBasicAuthFile?: string
  replicationMin?: number
  replicationMax?: number
  /** Multiaddrs returned as PinStatus.delegates; empty: the backing Kubo's own addresses. */
  delegates: string[]
  /** CIDRs of special-purpose ranges (private, loopback, ...) whose origins Kubo may still dial. */
  originsAllow: string[]
  auth: AuthConfig
  policyFile?: string
  redisUrl?: string
  limits: LimitsConfig
  logLevel: string
}

export type AuthConfig =
  | { kind: 'jwks-file', issuer: string, audience: string, jwksFile: string }
  | { kind: 'jwks-url', issuer: string, audience: string, jwksUrl: string, caFile?: string }
  | { kind: 'tokenreview', audience: string, url: string, tokenFile: string, caFile?: string }

export interface LimitsConfig {
  maxBodyBytes: number
  maxHeaderBytes: number
  requestTimeoutMs: number
  /** Requests per minute per identity, and per client IP (before authentication). */
  identityPerMinute: number
  ipPerMinute: number
  /** Event-loop lag above which new requests are shed with 503. */
  maxEventLoopLagMs: number
}

export const API_FLAGS = {
  listen: { type: 'string', default: '0.0.0.0:8080' },
  'kubo-api': { type: 'string', default: 'http://127.0.0.1:5001' },
  'kubo-api-token-file': { type: 'string' },
  'kubo-timeout-ms': { type: 'string', default: '30000' },
  'pin-timeout-ms': { type: 'string', default: String(60 * 60_000) },
  'pin-concurrency': { type: 'string', default: '4' },
  'model-index-timeout-ms': { type: 'string', default: String(30 * 60_000) },
  'cluster-api': { type: 'string' },
  'cluster-basic-auth-file': { type: 'string' },
  'replication-min': { type: 'string' },
  'replication-max': { type: 'string' },
  delegates: { type: 'string' },
  'origins-allow': { type: 'string' },
  'oidc-issuer': { type: 'string' },
  'oidc-jwks-file': { type: 'string' },
  'oidc-jwks-url': { type: 'string' },
  'oidc-ca-file': { type: 'string' },
  'tokenreview-url': { type: 'string' },
  'tokenreview-token-file': { type: 'string', default: '/var/run/secrets/kubernetes.io/serviceaccount/token' },
  'tokenreview-ca-file': { type: 'string' },
  audience: { type: 'string' },
  policy: { type: 'string' },
  redis: { type: 'string' },
  'max-body-bytes': { type: 'string', default: String(64 * 1024) },
  'max-header-bytes': { type: 'string', default: String(16 * 1024) },
  'request-timeout-ms': { type: 'string', default: '30000' },
  'rate-limit-identity': { type: 'string', default: '600' },
  'rate-limit-ip': { type: 'string', default: '1200' },
  'max-event-loop-lag-ms': { type: 'string', default: '200' },
  'log-level': { type: 'string', default: 'info' },
  'metrics-listen': { type: 'string' }
} as const

export const API_USAGE = `usage: ipfs-csi api serve [flags]

The Pinning Service API (/api/v1/pins), API tokens (/v1/tokens) and the model index (/v1/models),
behind Kubernetes service-account tokens. Every flag can also be set as IPFS_CSI_<FLAG>.

  --listen HOST:PORT              where to serve HTTP (default 0.0.0.0:8080)
  --kubo-api URL                  Kubo RPC API holding pins and records (default http://127.0.0.1:5001)
  --kubo-api-token-file FILE      bearer token for Kubo's API.Authorizations
  --kubo-timeout-ms N             deadline of each control Kubo call (default 30000)
  --pin-timeout-ms N              a pin still fetching after this long is marked failed (default 3600000)
  --pin-concurrency N             pins fetched at once; the rest are queued (default 4)
  --model-index-timeout-ms N      deadline of a PUT of a model version (default 1800000)
  --cluster-api URL               pin through IPFS Cluster (replicated) instead of Kubo alone
  --cluster-basic-auth-file FILE  user:password for the Cluster REST API
  --replication-min N, --replication-max N   Cluster replication of each pin
  --delegates MA,MA               multiaddrs returned as delegates (default: the Kubo's own)
  --origins-allow CIDR,CIDR       private/loopback/... ranges whose origins Kubo may dial (default:
                                  public addresses only; DNS names and relays are never dialled)
  --oidc-issuer ISS --audience AUD and one of:
    --oidc-jwks-file FILE         the cluster's JWKS (re-read when it changes)
    --oidc-jwks-url URL           fetched, re-fetched on an unknown kid (rotation); --oidc-ca-file FILE
  --tokenreview-url URL --audience AUD   verify tokens with a TokenReview instead
    --tokenreview-token-file FILE   this pod's token (default the projected service-account token)
    --tokenreview-ca-file FILE      CA of the API server
  --policy FILE                   service account → scopes (YAML/JSON, re-read when it changes)
  --redis URL                     share rate limits between replicas (redis://HOST:PORT)
  --max-body-bytes N (65536)  --max-header-bytes N (16384)  --request-timeout-ms N (30000)
  --rate-limit-identity N (600/min)  --rate-limit-ip N (1200/min)  --max-event-loop-lag-ms N (200)
  --metrics-listen HOST:PORT      Prometheus metrics (ipfs_csi_http_requests_total{server="api"}...)
  --log-level error|warn|info|debug`

type FlagSpec = Parameters<typeof readFlags>[1]

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '') ? v : undefined

function absFile (problems: string[], flag: string, v: unknown): string | undefined {
  const s = str(v)
  if (s === undefined) return undefined
  if (!path.isAbsolute(s)) { problems.push(`--${flag} must be an absolute path (got ${JSON.stringify(s)})`); return undefined }
  return s
}

/** A multiaddr as the Pinning Service API uses it: /proto/value/... ending in /p2p/<peer id>. */
export function isP2pMultiaddr (s: string): boolean {
  return s.length <= 1024 && /^(\/[a-z0-9-]+\/[^/\s]+)*\/p2p\/[1-9A-HJ-NP-Za-km-z]{46,60}$/.test(s)
}

export function parseApiConfig (argv: string[], env: NodeJS.ProcessEnv = process.env): ApiConfig {
  let read
  try {
    read = readFlags(argv, API_FLAGS as unknown as FlagSpec, env)
  } catch (err) {
    throw new ConfigError([(err as Error).message])
  }
  const v = read.values
  const problems: string[] = []
  if (read.positionals.length > 0) problems.push(`unexpected arguments: ${read.positionals.join(' ')}`)

  const listen = String(v.listen)
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(listen)
  let host = ''
  let port = 0
  if (m == null || Number(m[2]) > 65535) problems.push(`--listen must be HOST:PORT (got ${JSON.stringify(listen)})`)
  else { host = (m[1] as string).replace(/^\[|\]$/g, ''); port = Number(m[2]) }

  const metricsListen = parseListen(problems, v['metrics-listen'])
  const kuboApi = validateKuboApi(problems, v['kubo-api'])
  const kuboApiTokenFile = absFile(problems, 'kubo-api-token-file', v['kubo-api-token-file'])
  const kuboTimeoutMs = intOption(problems, 'kubo-timeout-ms', v['kubo-timeout-ms'], 100, 600_000)
  const pinTimeoutMs = intOption(problems, 'pin-timeout-ms', v['pin-timeout-ms'], 1000, 7 * 24 * 3_600_000)
  const pinConcurrency = intOption(problems, 'pin-concurrency', v['pin-concurrency'], 1, 256)
  const modelIndexTimeoutMs = intOption(problems, 'model-index-timeout-ms', v['model-index-timeout-ms'], 1000, 24 * 3_600_000)
  const clusterApi = str(v['cluster-api']) !== undefined ? validateKuboApi(problems, v['cluster-api'], 'cluster-api') : undefined
  const clusterBasicAuthFile = absFile(problems, 'cluster-basic-auth-file', v['cluster-basic-auth-file'])
  const replicationMin = str(v['replication-min']) !== undefined ? intOption(problems, 'replication-min', v['replication-min'], 1, 1000) : undefined
  const replicationMax = str(v['replication-max']) !== undefined ? intOption(problems, 'replication-max', v['replication-max'], 1, 1000) : undefined
  if (replicationMin !== undefined && replicationMax !== undefined && replicationMin > replicationMax) problems.push('--replication-min must not exceed --replication-max')
  if ((replicationMin !== undefined || replicationMax !== undefined || clusterBasicAuthFile !== undefined) && clusterApi === undefined) problems.push('--replication-min/--replication-max/--cluster-basic-auth-file need --cluster-api')
  const delegates = (str(v.delegates) ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
  for (const d of delegates) if (!isP2pMultiaddr(d)) problems.push(`--delegates: ${JSON.stringify(d)} is not a multiaddr ending in /p2p/<peer id>`)
  if (delegates.length > 20) problems.push('--delegates takes at most 20 addresses')
  const originsAllow = (str(v['origins-allow']) ?? '').split(',').map(s => s.trim()).filter(s => s !== '')
  try { parseCidrs(originsAllow) } catch (err) { problems.push(`--origins-allow: ${(err as Error).message}`) }

  const audience = str(v.audience)
  const issuer = str(v['oidc-issuer'])
  const jwksFile = absFile(problems, 'oidc-jwks-file', v['oidc-jwks-file'])
  const jwksUrl = str(v['oidc-jwks-url'])
  const trUrl = str(v['tokenreview-url'])
  const chosen = [jwksFile, jwksUrl, trUrl].filter(x => x !== undefined).length
  if (chosen !== 1) problems.push('exactly one of --oidc-jwks-file, --oidc-jwks-url and --tokenreview-url is required')
  if (audience === undefined) problems.push('--audience is required (the audience of the projected service-account tokens)')
  if ((jwksFile !== undefined || jwksUrl !== undefined) && issuer === undefined) problems.push('--oidc-issuer is required with --oidc-jwks-file/--oidc-jwks-url')
  const httpsOrHttp = (flag: string, u: string): void => {
    try {
      const p = new URL(u).protocol
      if (p !== 'https:' && p !== 'http:') throw new Error('scheme')
    } catch { problems.push(`--${flag} must be an http(s) URL (got ${JSON.stringify(u)})`) }
  }
  if (jwksUrl !== undefined) httpsOrHttp('oidc-jwks-url', jwksUrl)
  if (trUrl !== undefined) httpsOrHttp('tokenreview-url', trUrl)
  const oidcCa = absFile(problems, 'oidc-ca-file', v['oidc-ca-file'])
  const trToken = absFile(problems, 'tokenreview-token-file', v['tokenreview-token-file'])
  const trCa = absFile(problems, 'tokenreview-ca-file', v['tokenreview-ca-file'])
  let auth: AuthConfig | undefined
  if (audience !== undefined) {
    if (jwksFile !== undefined && issuer !== undefined) auth = { kind: 'jwks-file', issuer, audience, jwksFile }
    else if (jwksUrl !== undefined && issuer !== undefined) auth = { kind: 'jwks-url', issuer, audience, jwksUrl, ...(oidcCa !== undefined ? { caFile: oidcCa } : {}) }
    else if (trUrl !== undefined && trToken !== undefined) auth = { kind: 'tokenreview', audience, url: trUrl, tokenFile: trToken, ...(trCa !== undefined ? { caFile: trCa } : {}) }
  }

  const policyFile = absFile(problems, 'policy', v.policy)
  const redisUrl = str(v.redis)
  if (redisUrl !== undefined) {
    try {
      const u = new URL(redisUrl)
      if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error('scheme')
    } catch { problems.push(`--redis must be redis://HOST:PORT (got ${JSON.stringify(redisUrl)})`) }
  }
  const limits: LimitsConfig = {
    maxBodyBytes: intOption(problems, 'max-body-bytes', v['max-body-bytes'], 1024, 16 * 1024 * 1024),
    maxHeaderBytes: intOption(problems, 'max-header-bytes', v['max-header-bytes'], 1024, 1024 * 1024),
    requestTimeoutMs: intOption(problems, 'request-timeout-ms', v['request-timeout-ms'], 100, 600_000),
    identityPerMinute: intOption(problems, 'rate-limit-identity', v['rate-limit-identity'], 1, 1_000_000),
    ipPerMinute: intOption(problems, 'rate-limit-ip', v['rate-limit-ip'], 1, 1_000_000),
    maxEventLoopLagMs: intOption(problems, 'max-event-loop-lag-ms', v['max-event-loop-lag-ms'], 10, 60_000)
  }
  const logLevel = String(v['log-level'])
  if (!['error', 'warn', 'info', 'debug'].includes(logLevel)) problems.push(`--log-level must be error, warn, info or debug (got ${JSON.stringify(logLevel)})`)
  if (problems.length > 0 || auth === undefined) throw new ConfigError(problems.length > 0 ? problems : ['no authentication configured'])
  return {
    ...(metricsListen !== undefined ? { metricsListen } : {}),
    host,
    port,
    kuboApi,
    ...(kuboApiTokenFile !== undefined ? { kuboApiTokenFile } : {}),
    kuboTimeoutMs,
    pinTimeoutMs,
    pinConcurrency,
    modelIndexTimeoutMs,
    ...(clusterApi !== undefined ? { clusterApi } : {}),
    ...(clusterBasicAuthFile !== undefined ? { clusterBasicAuthFile } : {}),
    ...(replicationMin !== undefined ? { replicationMin } : {}),
    ...(replicationMax !== undefined ? { replicationMax } : {}),
    delegates,
    originsAllow,
    auth,
    ...(policyFile !== undefined ? { policyFile } : {}),
    ...(redisUrl !== undefined ? { redisUrl } : {}),
    limits,
    logLevel
  }
}
