// The API's routes: each handler checks the request, calls a domain service with the caller's
// namespace and the request's AbortSignal, and builds the reply.
import type { Reply, RequestContext, Route } from './http/server.js'
import type { Authenticator, Identity } from './auth/authenticator.js'
import { requireScope } from './auth/authenticator.js'
import type { ApiTokens } from './auth/api-tokens.js'
import type { PinService } from './pins/pin-service.js'
import { parseListQuery, parsePin } from './pins/pin-input.js'
import { invalid } from '../driver/errors.js'
import { OPENAPI, docsHtml } from './openapi.js'

const DOCS = docsHtml()

export interface AppDeps {
  auth: Authenticator
  tokens: ApiTokens
  pins: PinService
  /** Runs after authentication: per-identity limits. */
  afterAuth?: (ctx: RequestContext, id: Identity) => Promise<void>
  /** Extra routes (documents, model index). */
  extra?: (authed: AuthedRoute) => Route[]
}

export type AuthedHandler = (ctx: RequestContext, id: Identity) => Promise<Reply>
export type AuthedRoute = (method: Route['method'], path: RegExp, h: AuthedHandler) => Route

const REQ = '([^/]+)'

export function routes (d: AppDeps): Route[] {
  const authed: AuthedRoute = (method, path, h) => ({
    method,
    path,
    handler: async (ctx) => {
      const id = await d.auth.authenticate(ctx.req.headers.authorization, ctx.signal)
      if (d.afterAuth !== undefined) await d.afterAuth(ctx, id)
      return await h(ctx, id)
    }
  })
  return [
    { method: 'GET', path: /^\/healthz$/, handler: async () => ({ status: 200, body: { ok: true } }) },
    { method: 'GET', path: /^\/openapi\.json$/, handler: async () => ({ status: 200, body: OPENAPI, headers: { 'cache-control': 'public, max-age=300' } }) },
    // Plain HTML, no script: nothing here can run in a visitor's browser.
    { method: 'GET', path: /^\/docs$/, handler: async () => ({ status: 200, raw: { type: 'text/html; charset=utf-8', data: DOCS }, headers: { 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'" } }) },

    // The IPFS Pinning Service API v1.0.0.
    authed('GET', /^\/api\/v1\/pins$/, async (ctx, id) => {
      requireScope(id, 'pins:read')
      return { status: 200, body: await d.pins.list(id.namespace, parseListQuery(ctx.url.searchParams), ctx.signal) }
    }),
    authed('POST', /^\/api\/v1\/pins$/, async (ctx, id) => {
      requireScope(id, 'pins:write')
      return { status: 202, body: await d.pins.add(id.namespace, parsePin(await ctx.json()), ctx.signal) }
    }),
    authed('GET', new RegExp(`^/api/v1/pins/${REQ}$`), async (ctx, id) => {
      requireScope(id, 'pins:read')
      return { status: 200, body: await d.pins.get(id.namespace, ctx.params[0] as string, ctx.signal) }
    }),
    authed('POST', new RegExp(`^/api/v1/pins/${REQ}$`), async (ctx, id) => {
      requireScope(id, 'pins:write')
      const pin = parsePin(await ctx.json())
      return { status: 202, body: await d.pins.replace(id.namespace, ctx.params[0] as string, pin, ctx.signal) }
    }),
    authed('DELETE', new RegExp(`^/api/v1/pins/${REQ}$`), async (ctx, id) => {
      requireScope(id, 'pins:write')
      await d.pins.remove(id.namespace, ctx.params[0] as string, ctx.signal)
      return { status: 202 }
    }),

    // API tokens: made only from a service-account token; listed and revoked per namespace.
    {
      method: 'POST',
      path: /^\/v1\/tokens$/,
      handler: async (ctx) => {
        const sa = await d.auth.serviceAccount(ctx.req.headers.authorization, ctx.signal)
        if (d.afterAuth !== undefined) await d.afterAuth(ctx, { ...sa, scopes: new Set() })
        const body = await ctx.json()
        if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('the body must be {"device": NAME, "scopes": [...]}')
        const b = body as Record<string, unknown>
        for (const k of Object.keys(b)) if (k !== 'device' && k !== 'scopes') throw invalid(`unknown field ${JSON.stringify(k.slice(0, 64))}`)
        return { status: 201, body: await d.tokens.create(sa, b.device, b.scopes, d.auth.scopesFor(sa), ctx.signal) }
      }
    },
    authed('GET', /^\/v1\/tokens$/, async (ctx, id) => ({ status: 200, body: { results: await d.tokens.list(id.namespace, ctx.signal) } })),
    authed('DELETE', new RegExp(`^/v1/tokens/${REQ}$`), async (ctx, id) => {
      await d.tokens.revoke(id.namespace, ctx.params[0] as string, ctx.signal)
      return { status: 204 }
    }),
    ...(d.extra?.(authed) ?? [])
  ]
}
