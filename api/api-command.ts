// `ipfs-csi api serve`: wires configuration, Kubo (and IPFS Cluster), authentication, the pin
// service and the HTTP server.
import { parseApiConfig, API_USAGE, type ApiConfig } from './config.js'
import { createRegistry, HttpMetrics, registerKuboUp, renderRegistry } from '../driver/metrics.js'
import { startMetricsServer } from '../driver/metrics-server.js'
import { CLIENT_USAGE } from './client-command.js'
import { createLogger, type Logger } from '../driver/logger.js'
import { Kubo } from '../driver/kubo.js'
import { ClusterClient } from '../driver/cluster-client.js'
import { startHttpServer, type HttpServer } from './http/server.js'
import { routes } from './app.js'
import { Authenticator } from './auth/authenticator.js'
import { ApiTokens } from './auth/api-tokens.js'
import { Policy } from './auth/policy.js'
import { createTokenVerifier } from './auth/service-account-token.js'
import { PinIndex } from './pins/pin-index.js'
import { ClusterPinBackend, KuboPinBackend, type PinBackend } from './pins/pin-backend.js'
import { PinService } from './pins/pin-service.js'
import { OriginPolicy } from './pins/origins.js'
import { ModelIndex } from './models/model-index.js'
import { modelRoutes } from './models/model-routes.js'
import { LoadShedder, MemoryRateLimiter, RedisRateLimiter, guards, type RateLimiter } from './http/rate-limit.js'

export interface RunningApi {
  url: string
  http: HttpServer
  close: () => Promise<void>
}

export async function startApi (config: ApiConfig, log: Logger): Promise<RunningApi> {
  const kubo = new Kubo({ url: config.kuboApi, ...(config.kuboApiTokenFile !== undefined ? { tokenFile: config.kuboApiTokenFile } : {}), timeoutMs: config.kuboTimeoutMs })
  const index = new PinIndex(kubo)
  let pins: PinService | undefined
  const backendDeps = { index, kubo, log, pinTimeoutMs: config.pinTimeoutMs, concurrency: config.pinConcurrency, onPinned: (e: Parameters<PinService['onPinned']>[0]) => pins?.onPinned(e), origins: new OriginPolicy(config.originsAllow) }
  const backend: PinBackend = config.clusterApi !== undefined
    ? new ClusterPinBackend({
      ...backendDeps,
      cluster: new ClusterClient({ url: config.clusterApi, ...(config.clusterBasicAuthFile !== undefined ? { basicAuthFile: config.clusterBasicAuthFile } : {}), timeoutMs: config.kuboTimeoutMs }),
      ...(config.replicationMin !== undefined ? { replicationMin: config.replicationMin } : {}),
      ...(config.replicationMax !== undefined ? { replicationMax: config.replicationMax } : {})
    })
    : new KuboPinBackend(backendDeps)
  pins = new PinService({ index, backend, kubo, log, delegates: config.delegates })
  const policy = new Policy(config.policyFile, (msg) => log.error(msg))
  const tokens = new ApiTokens(index.records)
  const auth = new Authenticator({ verifier: createTokenVerifier(config.auth), tokens, policy })
  await pins.start(AbortSignal.timeout(config.kuboTimeoutMs))
  const models = new ModelIndex({ records: index.records, log, timeoutMs: config.kuboTimeoutMs })
  const limiter: RateLimiter = config.redisUrl !== undefined ? new RedisRateLimiter(config.redisUrl, log) : new MemoryRateLimiter()
  const shedder = new LoadShedder(config.limits.maxEventLoopLagMs)
  const g = guards(limiter, shedder, config.limits)
  // --metrics-listen: request counts and latency by route and status (IpfsCsiApiErrors, IpfsCsiApiRateLimited).
  const registry = config.metricsListen !== undefined ? createRegistry('api') : undefined
  if (registry !== undefined) registerKuboUp(registry, kubo)
  const http = await startHttpServer({
    ...(registry !== undefined ? { metrics: new HttpMetrics(registry, 'api') } : {}),
    host: config.host,
    port: config.port,
    routes: routes({ auth, tokens, pins, afterAuth: g.afterAuth, extra: (authed) => modelRoutes(models, authed, config.modelIndexTimeoutMs) }),
    limits: config.limits,
    log,
    guard: g.beforeAuth
  })
  const metricsServer = registry !== undefined && config.metricsListen !== undefined
    ? await startMetricsServer({ listen: config.metricsListen, log, metrics: async () => await renderRegistry(registry) })
    : undefined
  log.info('api serving', { url: http.url, kuboApi: config.kuboApi, clusterApi: config.clusterApi, auth: config.auth.kind })
  return {
    url: http.url,
    http,
    close: async () => {
      await metricsServer?.close()
      pins?.stop()
      await http.close()
      models.close()
      shedder.stop()
      await limiter.close()
    }
  }
}

export async function apiCommand (argv: string[]): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help' || (sub === 'serve' && (rest.includes('--help') || rest.includes('-h')))) {
    console.log(`${API_USAGE}\n\n${CLIENT_USAGE}`)
    return sub === undefined ? 2 : 0
  }
  if (sub === 'token' || sub === 'model') return await (await import('./client-command.js')).clientCommand(sub, rest)
  if (sub !== 'serve') {
    console.error(`unknown api command ${JSON.stringify(sub)}\n\n${API_USAGE}`)
    return 2
  }
  const config = parseApiConfig(rest)
  const log = createLogger(config.logLevel, 'ipfs-csi-api')
  const api = await startApi(config, log)
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string): void => { log.info('stopping', { signal: sig }); resolve() }
    process.once('SIGTERM', () => onSignal('SIGTERM'))
    process.once('SIGINT', () => onSignal('SIGINT'))
  })
  await api.close()
  return 0
}
