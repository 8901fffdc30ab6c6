// CSI Identity service: name, capabilities, and Probe (not ready while Kubo is unreachable).
import type { IdentityHandlers } from '../proto/gen/csi/v1/Identity.js'
import { DRIVER_NAME, DRIVER_VERSION } from './constants.js'
import type { Kubo } from './kubo.js'
import { unary, type RpcDeps } from './rpc-wrapper.js'

export function identityService (deps: RpcDeps & { kubo: Kubo, hasController: boolean }): IdentityHandlers {
  return {
    GetPluginInfo: unary(deps, 'GetPluginInfo', async () => ({ name: DRIVER_NAME, vendor_version: DRIVER_VERSION, manifest: {} })),
    GetPluginCapabilities: unary(deps, 'GetPluginCapabilities', async () => ({
      capabilities: [
        ...(deps.hasController ? [{ service: { type: 'CONTROLLER_SERVICE' as const } }] : []),
        { volume_expansion: { type: 'OFFLINE' as const } }
      ]
    })),
    Probe: unary(deps, 'Probe', async (_req, ctx) => ({ ready: { value: await deps.kubo.reachable(ctx.signal) } }))
  }
}
