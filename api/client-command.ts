// `ipfs-csi api token|model ...`: the API from a shell, through the generated SDK.
import { readFile } from 'node:fs/promises'
import { ConfigError, readFlags } from '../driver/config.js'
import { createApiClient, unwrap } from '../sdk/index.js'

export const CLIENT_USAGE = `usage: ipfs-csi api token create --url URL --token-file FILE --device NAME [--scopes s1,s2]
        exchange the service-account token in FILE for an API token (printed once, on stdout)
       ipfs-csi api token revoke ID --url URL --token-file FILE
       ipfs-csi api model resolve NAME[:TAG|VERSION] --url URL --token-file FILE [--json]
        print the CID a model tag or version names (or its whole manifest with --json)
--token-file defaults to /var/run/secrets/tokens/ipfs-csi-api; --help shows this text.
Flags can also be set as IPFS_CSI_<FLAG> (IPFS_CSI_URL, IPFS_CSI_TOKEN_FILE).`

export const CLIENT_FLAGS = {
  url: { type: 'string' },
  'token-file': { type: 'string', default: '/var/run/secrets/tokens/ipfs-csi-api' },
  device: { type: 'string' },
  scopes: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

export async function clientCommand (what: 'token' | 'model', argv: string[]): Promise<number> {
  let read
  try { read = readFlags(argv, CLIENT_FLAGS as unknown as Parameters<typeof readFlags>[1]) } catch (err) { throw new ConfigError([(err as Error).message, CLIENT_USAGE]) }
  const v = read.values
  const [verb, arg] = read.positionals
  if (v.help === true || verb === undefined) { console.log(CLIENT_USAGE); return v.help === true ? 0 : 2 }
  const problems: string[] = []
  if (typeof v.url !== 'string' || !/^https?:\/\//.test(v.url)) problems.push('--url must be the API\'s http(s) URL')
  if (what === 'token' && verb === 'create' && (typeof v.device !== 'string' || v.device === '')) problems.push('--device is required')
  if ((what === 'token' && verb === 'revoke') || what === 'model') { if (arg === undefined) problems.push(`${what} ${verb} needs an argument`) }
  if (!(what === 'token' ? ['create', 'revoke'] : ['resolve']).includes(verb)) problems.push(`unknown ${what} command ${JSON.stringify(verb)}`)
  if (problems.length > 0) throw new ConfigError([...problems, CLIENT_USAGE])
  // Read at each use: projected tokens are rotated by the kubelet.
  const tokenFile = String(v['token-file'])
  const api = createApiClient({ baseUrl: String(v.url), token: async () => (await readFile(tokenFile, 'utf8')).trim() })
  if (what === 'token' && verb === 'create') {
    const scopes = typeof v.scopes === 'string' ? v.scopes.split(',').map(s => s.trim()).filter(s => s !== '') : undefined
    const made = unwrap(await api.POST('/v1/tokens', { body: { device: String(v.device), ...(scopes !== undefined ? { scopes: scopes as Array<'pins:read' | 'pins:write' | 'models:write'> } : {}) } }))
    console.error(`API token ${made.id} for ${made.subject} on device ${made.device} (${made.scopes.join(', ')})`)
    console.log(made.token)
    return 0
  }
  if (what === 'token') {
    const r = await api.DELETE('/v1/tokens/{id}', { params: { path: { id: arg as string } } })
    unwrap({ ...r, data: undefined })
    return 0
  }
  const ref = arg as string
  const i = ref.indexOf(':')
  const name = i < 0 ? ref : ref.slice(0, i)
  const tag = i < 0 ? 'latest' : ref.slice(i + 1)
  // A tag wins over a version of the same name (as the CSI driver resolves `model:`).
  let r = await api.GET('/v1/models/{name}/tags/{tag}', { params: { path: { name, tag } } })
  if (r.response.status === 404) r = await api.GET('/v1/models/{name}/versions/{version}', { params: { path: { name, version: tag } } })
  const m = unwrap(r)
  console.log(v.json === true ? JSON.stringify(m, null, 2) : m.cid)
  return 0
}
