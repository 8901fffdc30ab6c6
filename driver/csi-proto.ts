// Loads csi.proto (fetched by `make setup`, never committed) into grpc-js service definitions.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import type { ProtoGrpcType } from '../proto/gen/csi.js'

/** Options matching the generated types in proto/gen (keepCase, string longs and enums). */
export const PROTO_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }

export function protoPath (): string {
  const fromEnv = process.env.IPFS_CSI_PROTO
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  const p = fileURLToPath(new URL('../../proto/csi.proto', import.meta.url))
  if (!existsSync(p)) throw new Error(`csi.proto not found at ${p}: run \`make setup\``)
  return p
}

let cached: ProtoGrpcType | undefined
export function loadCsi (): ProtoGrpcType {
  cached ??= grpc.loadPackageDefinition(protoLoader.loadSync(protoPath(), PROTO_OPTIONS)) as unknown as ProtoGrpcType
  return cached
}
