// The TypeScript client of the ipfs-csi API: openapi-fetch typed by the types generated from the
// API's OpenAPI document (schema.d.ts, `make sdk`). Used by the tests and by `ipfs-csi api`.
import createClient, { type Client } from 'openapi-fetch'
import type { components, paths } from './schema.js'

export type { components, paths }
export type Schemas = components['schemas']
export type Pin = Schemas['Pin']
export type PinStatus = Schemas['PinStatus']
export type PinResults = Schemas['PinResults']
export type ModelVersion = Schemas['ModelVersion']
export type Failure = Schemas['Failure']
export type ApiClient = Client<paths>

export interface ClientOptions {
  /** e.g. http://ipfs-csi-api.ipfs-csi.svc:8080 */
  baseUrl: string
  /** A service-account token or an API token; a function is called per request (projected tokens rotate). */
  token?: string | (() => string | Promise<string>)
  fetch?: typeof globalThis.fetch
}

export function createApiClient (o: ClientOptions): ApiClient {
  const client = createClient<paths>({ baseUrl: o.baseUrl.replace(/\/$/, ''), ...(o.fetch !== undefined ? { fetch: o.fetch } : {}) })
  if (o.token !== undefined) {
    const token = o.token
    client.use({
      async onRequest ({ request }) {
        request.headers.set('authorization', `Bearer ${typeof token === 'function' ? await token() : token}`)
        return request
      }
    })
  }
  return client
}

/** An API error as an Error: status and the service's Failure reason. */
export class ApiError extends Error {
  constructor (readonly status: number, readonly reason: string, details?: string) {
    super(`${status} ${reason}${details !== undefined ? `: ${details}` : ''}`)
    this.name = 'ApiError'
  }
}

/** The data of an openapi-fetch answer, or an ApiError. */
export function unwrap<T> (r: { data?: T, error?: unknown, response: Response }): T {
  if (r.error !== undefined || !r.response.ok) {
    const f = r.error as Failure | undefined
    throw new ApiError(r.response.status, f?.error?.reason ?? 'UNKNOWN', f?.error?.details)
  }
  return r.data as T
}
