// Kubelet plugin registration (k8s.io/kubelet pluginregistration/v1), served by the driver itself
// so a node plugin needs no node-driver-registrar sidecar. Kubelet's plugin watcher sees the
// socket appear in its plugins_registry, calls GetInfo, then NotifyRegistrationStatus.
// api.proto is fetched from the k8s.io/kubelet module by `make setup`, like csi.proto.
import { existsSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import { PROTO_OPTIONS } from './csi-proto.js'
import { startGrpcServer, stopGrpcServer } from './grpc-server.js'
import { DRIVER_NAME } from './constants.js'
import type { Logger } from './logger.js'

/** CSI spec versions kubelet may use to talk to this plugin (kubelet accepts 1.x). */
export const SUPPORTED_VERSIONS = ['1.0.0']

export interface PluginInfo { type: string, name: string, endpoint: string, supported_versions: string[] }
export interface RegistrationStatus { plugin_registered: boolean, error: string }

export function registrationProtoPath (): string {
  const p = fileURLToPath(new URL('../../proto/pluginregistration.proto', import.meta.url))
  if (!existsSync(p)) throw new Error(`pluginregistration.proto not found at ${p}: run \`make setup\``)
  return p
}

let cached: grpc.ServiceDefinition | undefined
export function registrationServiceDefinition (): grpc.ServiceDefinition {
  if (cached === undefined) {
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(registrationProtoPath(), PROTO_OPTIONS)) as unknown as
      { pluginregistration: { Registration: { service: grpc.ServiceDefinition } } }
    cached = pkg.pluginregistration.Registration.service
  }
  return cached
}

export interface RegistrationOptions {
  /** Where the Registration service listens (a socket in kubelet's plugins_registry). */
  socketPath: string
  /** The CSI socket as kubelet sees it (a host path). */
  kubeletEndpoint: string
  log: Logger
  /** Delay before the socket is re-created after kubelet refused the registration (doubles, capped). */
  retryMs?: number
}

/**
 * Serves Registration until stop(). When kubelet reports a failed registration the socket is
 * re-created after a backoff: kubelet only retries on a new socket, and the upstream registrar
 * gets the same effect by exiting.
 */
export class KubeletRegistration {
  private server: grpc.Server | undefined
  private retryTimer: NodeJS.Timeout | undefined
  private stopped = false
  private retryMs: number
  private registered = false
  private created = 0

  constructor (private readonly opts: RegistrationOptions) {
    this.retryMs = opts.retryMs ?? 5000
  }

  /** How many times the socket was created (1 + re-creations after refusals). */
  get socketsCreated (): number { return this.created }

  /** True once kubelet reported a successful registration on the current socket. */
  get isRegistered (): boolean { return this.registered }

  info (): PluginInfo {
    return { type: 'CSIPlugin', name: DRIVER_NAME, endpoint: this.opts.kubeletEndpoint, supported_versions: SUPPORTED_VERSIONS }
  }

  async start (): Promise<void> {
    this.registered = false
    const handlers = {
      GetInfo: (_call: unknown, cb: grpc.sendUnaryData<PluginInfo>) => {
        this.opts.log.debug('kubelet asked for plugin info', { endpoint: this.opts.kubeletEndpoint })
        cb(null, this.info())
      },
      NotifyRegistrationStatus: (call: grpc.ServerUnaryCall<RegistrationStatus, object>, cb: grpc.sendUnaryData<object>) => {
        cb(null, {})
        this.onStatus(call.request)
      }
    }
    this.server = await startGrpcServer(this.opts.socketPath, [{ definition: registrationServiceDefinition(), implementation: handlers }])
    this.created++
    this.opts.log.info('kubelet registration socket ready', { socket: this.opts.socketPath })
  }

  private onStatus (status: RegistrationStatus): void {
    if (status.plugin_registered) {
      this.registered = true
      this.retryMs = this.opts.retryMs ?? 5000
      this.opts.log.info('registered with kubelet', { driver: DRIVER_NAME })
      return
    }
    this.opts.log.error('kubelet refused the registration; re-creating the socket', { error: status.error, retryMs: this.retryMs })
    if (this.stopped || this.retryTimer !== undefined) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      if (this.stopped) return
      void this.restart().catch((err: Error) => this.opts.log.error('registration socket restart failed', { error: err.message }))
    }, this.retryMs)
    this.retryTimer.unref()
    this.retryMs = Math.min(this.retryMs * 2, 300_000)
  }

  private async restart (): Promise<void> {
    await this.close()
    if (!this.stopped) await this.start()
  }

  private async close (): Promise<void> {
    if (this.server !== undefined) await stopGrpcServer(this.server, 2000)
    this.server = undefined
    // No socket left behind: kubelet deregisters the plugin when it disappears.
    rmSync(this.opts.socketPath, { force: true })
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    await this.close()
  }
}
