// `ipfs-csi serve`: wires config, logging, Kubo and the CSI services onto one socket.
import * as grpc from '@grpc/grpc-js'
import { parseServeConfig, type ServeConfig } from './config.js'
import { createLogger, type Logger } from './logger.js'
import { Kubo } from './kubo.js'
import { VolumeLocks } from './volume-locks.js'
import { loadCsi } from './csi-proto.js'
import { startGrpcServer, stopGrpcServer, type ServiceBinding } from './grpc-server.js'
import { identityService } from './identity-service.js'
import { controllerService } from '../controller/controller-service.js'
import { NodeService } from '../node-plugin/node-service.js'
import { KubeletRegistration } from './registration-service.js'
import { NodeMetrics } from '../node-plugin/node-metrics.js'
import { createRegistry, registerKuboUp, renderRegistry, RpcMetrics, type Registry } from './metrics.js'
import { clusterPinnerFor } from '../controller/cluster-pinner.js'
import { registerClusterMetrics } from '../controller/cluster-metrics.js'
import { startMetricsServer, type MetricsServer } from './metrics-server.js'

export interface Served {
  server: grpc.Server
  registry: Registry
  /** Set with --metrics-listen. */
  metricsServer?: MetricsServer
  stop: () => Promise<void>
}

export async function serve (config: ServeConfig, log: Logger): Promise<Served> {
  const kubo = new Kubo({ url: config.kuboApi, ...(config.kuboApiTokenFile !== undefined ? { tokenFile: config.kuboApiTokenFile } : {}), timeoutMs: config.kuboTimeoutMs })
  const locks = new VolumeLocks()
  const csi = loadCsi().csi.v1
  const registry = createRegistry(config.mode === 'all' ? 'csi' : config.mode)
  registerKuboUp(registry, kubo)
  const deps = { log, locks, kubo, config, metrics: new RpcMetrics(registry) }
  const hasController = config.mode !== 'node'
  const hasNode = config.mode !== 'controller'
  const services: ServiceBinding[] = [{ definition: csi.Identity.service, implementation: identityService({ ...deps, log: log.child({ component: 'identity' }), hasController }) as unknown as grpc.UntypedServiceImplementation }]
  if (hasController) services.push({ definition: csi.Controller.service, implementation: controllerService({ ...deps, log: log.child({ component: 'controller' }) }) as unknown as grpc.UntypedServiceImplementation })
  let node: NodeService | undefined
  if (hasNode) {
    node = new NodeService(deps)
    await node.start() // reconcile staged volumes before answering any RPC
    services.push({ definition: csi.Node.service, implementation: node.handlers() as unknown as grpc.UntypedServiceImplementation })
  }
  const nodeMetrics = node !== undefined ? new NodeMetrics(registry, node) : undefined
  const clusterClient = hasController ? clusterPinnerFor(config, kubo, log)?.client : undefined
  const clusterMetrics = clusterClient !== undefined ? registerClusterMetrics(registry, clusterClient, log) : undefined
  const server = await startGrpcServer(config.socketPath, services)
  let metricsServer: MetricsServer | undefined
  if (config.metricsListen !== undefined) {
    try {
      metricsServer = await startMetricsServer({ listen: config.metricsListen, log, metrics: async () => await (nodeMetrics?.render(registry) ?? renderRegistry(registry)) })
    } catch (err) {
      await stopGrpcServer(server)
      node?.stop()
      throw new Error(`cannot serve metrics on ${config.metricsListen.host}:${config.metricsListen.port}: ${(err as Error).message}`)
    }
  }
  log.info('serving', { mode: config.mode, endpoint: config.endpoint, nodeId: config.nodeId, kuboApi: config.kuboApi, ...(metricsServer !== undefined ? { metrics: metricsServer.url } : {}) })
  // Registered with kubelet only once the CSI socket answers.
  let registration: KubeletRegistration | undefined
  if (hasNode && config.registrationSocket !== undefined && config.kubeletRegistrationPath !== undefined) {
    registration = new KubeletRegistration({ socketPath: config.registrationSocket, kubeletEndpoint: config.kubeletRegistrationPath, log })
    await registration.start()
  }
  return {
    server,
    registry,
    ...(metricsServer !== undefined ? { metricsServer } : {}),
    stop: async () => {
      await registration?.stop()
      clusterMetrics?.stop()
      await metricsServer?.close()
      await stopGrpcServer(server)
      // FUSE servers are left running on purpose: pods keep their mounts across restarts.
      node?.stop()
    }
  }
}

export async function serveCommand (argv: string[]): Promise<number> {
  const config = parseServeConfig(argv)
  const log = createLogger(config.logLevel)
  const served = await serve(config, log)
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string): void => { log.info('stopping', { signal: sig }); resolve() }
    process.once('SIGTERM', () => onSignal('SIGTERM'))
    process.once('SIGINT', () => onSignal('SIGINT'))
  })
  await served.stop()
  return 0
}
