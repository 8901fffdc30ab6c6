// The allowed-paths files (deploy/base/kubo/allowed-paths/) follow the code: every Kubo RPC command
// a component's source calls is on its client's line, so a new call cannot ship unscoped (its token
// would get 403 in the cluster). A static scan of the call sites; the integration test
// deploy-kubo-config checks the same lines against a real Kubo.
import test from 'ava'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { ROOT } from '../helpers/repo.js'
import { readAllowedPaths } from '../helpers/deploy-kubo.js'

const CALL = /\.(?:post|postJson|stream|kuboCall|httpCall|raw|json)(?:<[^>]*>)?\(\s*'([a-z]+(?:\/[a-z-]+)*)'/g
const URL_LITERAL = /\/api\/v0\/([a-z]+(?:\/[a-z-]+)*)\?/g

async function sources (rel: string): Promise<string[]> {
  const abs = path.join(ROOT, rel)
  if (rel.endsWith('.ts')) return [abs]
  return (await readdir(abs, { recursive: true })).filter(f => f.endsWith('.ts')).map(f => path.join(abs, f))
}

async function commandsIn (rels: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const rel of rels) {
    for (const f of await sources(rel)) {
      const text = await readFile(f, 'utf8')
      for (const re of [CALL, URL_LITERAL]) for (const m of text.matchAll(re)) out.set(m[1], path.relative(ROOT, f))
    }
  }
  return out
}

// Which code runs with which token (client) against which tier's Kubo. Where one component talks
// to two Kubos (the node plugin: its node-local Kubo and the storage tier's MFS), its commands must
// be on one of the two lines.
const COMPONENTS: Array<{ name: string, code: string[], clients: Array<['storage' | 'node' | 'gateway', string]> }> = [
  { name: 'controller', code: ['controller', 'driver/record-store.ts'], clients: [['storage', 'controller']] },
  { name: 'node plugin and FUSE servers', code: ['node-plugin', 'content'], clients: [['node', 'node'], ['storage', 'node']] },
  { name: 'writable volumes (storage MFS)', code: ['node-plugin/fuse/writable'], clients: [['storage', 'node']] },
  { name: 'preloader', code: ['preloader'], clients: [['node', 'preloader']] },
  { name: 'gateway publisher', code: ['gateway'], clients: [['gateway', 'publisher'], ['storage', 'publisher']] },
  { name: 'API', code: ['api'], clients: [['storage', 'api']] }
]

for (const c of COMPONENTS) {
  test(`every Kubo command the ${c.name} calls is on its allowed-paths line`, async (t) => {
    const used = await commandsIn(c.code)
    t.true(used.size > 0, 'the scan found call sites')
    const lines = await Promise.all(c.clients.map(async ([tier, client]) => (await readAllowedPaths(tier))[client] ?? []))
    // Kubo matches by prefix: "files/stat" is allowed by a "files/stat" (or "files") entry.
    const allowed = (cmd: string): boolean => lines.some(l => l.some(p => cmd === p || cmd.startsWith(`${p}/`)))
    for (const [cmd, file] of used) t.true(allowed(cmd), `${file} calls ${cmd}, which no line of ${c.clients.map(x => x.join('/')).join(' or ')} allows`)
    // Kubo.reachable() (Probe, health) calls id with every client's token.
    for (const l of lines) t.true(l.includes('id'))
  })
}
