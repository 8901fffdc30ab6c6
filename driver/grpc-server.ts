// The gRPC server on a unix socket. A stale socket from a dead process is removed first.
import { mkdirSync, rmSync, chmodSync } from 'node:fs'
import path from 'node:path'
import * as grpc from '@grpc/grpc-js'

export interface ServiceBinding {
  definition: grpc.ServiceDefinition
  implementation: grpc.UntypedServiceImplementation
}

export async function startGrpcServer (socketPath: string, services: ServiceBinding[]): Promise<grpc.Server> {
  mkdirSync(path.dirname(socketPath), { recursive: true })
  rmSync(socketPath, { force: true })
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 })
  for (const s of services) server.addService(s.definition, s.implementation)
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => err != null ? reject(err) : resolve())
  })
  chmodSync(socketPath, 0o660)
  return server
}

export async function stopGrpcServer (server: grpc.Server, graceMs = 5000): Promise<void> {
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => { server.forceShutdown(); resolve() }, graceMs)
    server.tryShutdown(() => { clearTimeout(t); resolve() })
  })
}
