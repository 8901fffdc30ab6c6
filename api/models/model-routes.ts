// HTTP routes of the model index: thin handlers over ModelIndex.
import type { AuthedRoute } from '../app.js'
import type { Route } from '../http/server.js'
import { requireScope } from '../auth/authenticator.js'
import { CsiError, Code, invalid } from '../../driver/errors.js'
import { versionView, type ModelIndex } from './model-index.js'

const SEG = '([^/]+)'

function paging (q: URLSearchParams): { limit: number, after: string | undefined } {
  for (const k of q.keys()) if (k !== 'limit' && k !== 'after') throw invalid(`unknown query parameter ${JSON.stringify(k.slice(0, 64))}`)
  const l = q.get('limit')
  if (l !== null && (!/^\d{1,4}$/.test(l) || Number(l) < 1 || Number(l) > 1000)) throw invalid('limit must be an integer from 1 to 1000')
  const after = q.get('after') ?? undefined
  if (after !== undefined && after.length > 128) throw invalid('after is at most 128 characters')
  return { limit: l === null ? 100 : Number(l), after }
}

const missing = (what: string): CsiError => new CsiError(Code.NOT_FOUND, what)

/** Routes; `indexTimeoutMs` bounds a PUT of a new version (it reads every byte of the model). */
export function modelRoutes (models: ModelIndex, authed: AuthedRoute, indexTimeoutMs: number): Route[] {
  const put: Route = authed('PUT', new RegExp(`^/v1/models/${SEG}/versions/${SEG}$`), async (ctx, id) => {
    requireScope(id, 'models:write')
    const [name, version] = ctx.params as [string, string]
    const body = await ctx.json()
    const r = await models.putVersion(name, version, body, ctx.signal)
    return { status: r.created ? 201 : 200, body: r.view }
  })
  return [
    { ...put, timeoutMs: indexTimeoutMs },
    authed('PUT', new RegExp(`^/v1/models/${SEG}/tags/${SEG}$`), async (ctx, id) => {
      requireScope(id, 'models:write')
      const [name, tag] = ctx.params as [string, string]
      const body = await ctx.json() as { version?: unknown } | null
      if (body === null || typeof body !== 'object' || typeof body.version !== 'string' || Object.keys(body).some(k => k !== 'version')) throw invalid('the body must be {"version": VERSION}')
      return { status: 200, body: await models.setTag(name, tag, body.version, ctx.signal) }
    }),
    authed('GET', /^\/v1\/models$/, async (ctx) => {
      const p = paging(ctx.url.searchParams)
      return { status: 200, body: await models.listModels(p.limit, p.after, ctx.signal) }
    }),
    authed('GET', new RegExp(`^/v1/models/${SEG}$`), async (ctx) => {
      const p = paging(ctx.url.searchParams)
      const d = await models.describe(ctx.params[0] as string, p.limit, p.after, ctx.signal)
      if (d === undefined) throw missing(`no model ${ctx.params[0] as string}`)
      return { status: 200, body: d }
    }),
    authed('GET', new RegExp(`^/v1/models/${SEG}/versions/${SEG}$`), async (ctx) => {
      const [name, version] = ctx.params as [string, string]
      const v = await models.lookups.getVersion(name, version, ctx.signal)
      if (v === undefined) throw missing(`${name} has no version ${version}`)
      return { status: 200, body: versionView(v.m, v.record) }
    }),
    authed('GET', new RegExp(`^/v1/models/${SEG}/tags/${SEG}$`), async (ctx) => {
      const [name, tag] = ctx.params as [string, string]
      const v = await models.lookups.getTag(name, tag, ctx.signal)
      if (v === undefined) throw missing(`${name} has no tag ${tag}`)
      return { status: 200, body: versionView(v.m, v.record) }
    })
  ]
}
