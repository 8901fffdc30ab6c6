// The OpenAPI document: linted with Redocly's recommended rules, and in step with the routes the
// server really has (every route documented, every documented operation served).
import test from 'ava'
import { createConfig, lintFromString } from '@redocly/openapi-core'
import { OPENAPI, docsHtml } from '../../api/openapi.js'
import { routes } from '../../api/app.js'
import { modelRoutes } from '../../api/models/model-routes.js'
import type { AppDeps } from '../../api/app.js'

const none = undefined as unknown
const all = routes({ auth: none, tokens: none, pins: none, extra: (authed) => modelRoutes(none as never, authed, 1000) } as AppDeps)
const METHODS = ['get', 'put', 'post', 'delete']
const sample = (template: string): string => template.replace(/\{[^}]+\}/g, 'abc123')

test('the OpenAPI document passes Redocly lint (recommended rules) without errors', async (t) => {
  const config = await createConfig({ extends: ['recommended'] })
  const problems = await lintFromString({ source: JSON.stringify(OPENAPI), absoluteRef: '/openapi.json', config })
  const errors = problems.filter(p => p.severity === 'error')
  for (const p of problems) t.log(`${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? ''}`)
  t.deepEqual(errors.map(e => `${e.ruleId}: ${e.message}`), [])
})

test('every documented operation is served, and every route is documented', (t) => {
  for (const [p, item] of Object.entries(OPENAPI.paths)) {
    for (const m of Object.keys(item).filter(k => METHODS.includes(k))) {
      t.true(all.some(r => r.method === m.toUpperCase() && r.path.test(sample(p))), `${m.toUpperCase()} ${p} has a route`)
    }
  }
  for (const r of all) {
    const documented = Object.entries(OPENAPI.paths).some(([p, item]) => r.path.test(sample(p)) && Object.keys(item).includes(r.method.toLowerCase()))
    t.true(documented, `route ${r.method} ${String(r.path)} is documented`)
  }
})

test('the pins part keeps the Pinning Service API v1.0.0 shapes', (t) => {
  const s = OPENAPI.components.schemas
  t.deepEqual([...s.PinStatus.required], ['requestid', 'status', 'created', 'pin', 'delegates'])
  t.deepEqual([...s.Status.enum], ['queued', 'pinning', 'pinned', 'failed'])
  t.deepEqual([...s.Failure.required], ['error'])
  t.is(OPENAPI.components.parameters.cid.explode, false)
  t.is(OPENAPI.components.parameters.limit.schema.maximum, 1000)
  t.deepEqual(Object.keys(OPENAPI.paths['/api/v1/pins/{requestid}']).filter(k => METHODS.includes(k)).sort(), ['delete', 'get', 'post'])
})

test('/docs is HTML without any script, escaping what it shows', (t) => {
  const html = docsHtml()
  t.regex(html, /<table>/)
  t.false(/<script/i.test(html))
  t.true(html.includes('/api/v1/pins/{requestid}'))
})
