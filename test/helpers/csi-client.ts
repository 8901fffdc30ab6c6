// A CSI gRPC client for tests and the demo: promise-returning calls on the driver's socket.
import * as grpc from '@grpc/grpc-js'
import { loadCsi } from '../../driver/csi-proto.js'

type Unary = (req: unknown, opts?: { deadlineMs?: number, metadata?: grpc.Metadata }) => Promise<any>
export interface CsiClient {
  identity: Record<string, Unary>
  controller: Record<string, Unary>
  node: Record<string, Unary>
  close: () => void
}

function promisify (client: grpc.Client): Record<string, Unary> {
  return new Proxy({}, {
    get (_t, method: string) {
      const fn = (client as unknown as Record<string, Function>)[method]
      if (typeof fn !== 'function') throw new Error(`no RPC ${method}`)
      return async (req: unknown, opts: { deadlineMs?: number } = {}) => await new Promise((resolve, reject) => {
        fn.call(client, req ?? {}, new grpc.Metadata(), { deadline: Date.now() + (opts.deadlineMs ?? 120_000) }, (err: grpc.ServiceError | null, res: unknown) => err != null ? reject(err) : resolve(res))
      })
    }
  })
}

export function csiClient (socketPath: string): CsiClient {
  const csi = loadCsi().csi.v1
  const addr = `unix://${socketPath}`
  const creds = grpc.credentials.createInsecure()
  const clients = [new csi.Identity(addr, creds), new csi.Controller(addr, creds), new csi.Node(addr, creds)]
  return {
    identity: promisify(clients[0] as grpc.Client),
    controller: promisify(clients[1] as grpc.Client),
    node: promisify(clients[2] as grpc.Client),
    close: () => { for (const c of clients) c.close() }
  }
}

/** Asserts-friendly: the gRPC code of a rejected call, or 'ok'. */
export async function codeOf (p: Promise<unknown>): Promise<number | 'ok'> {
  try { await p; return 'ok' } catch (err) { return (err as grpc.ServiceError).code }
}

export const mountCap = (mode = 'SINGLE_NODE_WRITER', fsType = ''): Record<string, unknown> => ({ mount: { fs_type: fsType, mount_flags: [] }, access_mode: { mode } })
export { grpc }
