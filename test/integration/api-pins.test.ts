// The Pinning Service API against a real client: Kubo's own `ipfs pin remote` commands, talking to
// `ipfs-csi api serve` (a child process) backed by another real Kubo. Content added on the client
// Kubo is fetched by the service's Kubo through the origins/delegates exchange.
import test from 'ava'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { CLI, ROOT } from '../helpers/repo.js'
import { createApiClient, unwrap } from '../../sdk/index.js'
import { tmpdir } from 'node:os'
import { createServer } from 'node:net'
import path from 'node:path'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { ApiProcess, AUDIENCE, ISSUER, saToken, signingKey, writeJwks, type SigningKey } from '../helpers/api-process.js'

let service: KuboDaemon
let client: KuboDaemon
let api: ApiProcess
let work: string
let key: SigningKey
let apiToken: string

const noRouting = { 'Routing.Type': 'none', 'Discovery.MDNS.Enabled': false }

async function call (method: string, p: string, token: string | undefined, body?: unknown): Promise<{ status: number, json: any }> {
  const headers: Record<string, string> = {}
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(api.url + p, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
  const text = await res.text()
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
}

/** An API token for a device, through the generated SDK. */
async function exchange (ns: string, name: string, device: string): Promise<string> {
  const sdk = createApiClient({ baseUrl: api.url, token: await saToken(key, { namespace: ns, name }) })
  return unwrap(await sdk.POST('/v1/tokens', { body: { device } })).token
}

async function remote (args: string[], timeoutMs = 120_000): Promise<string> {
  return await client.cli(['pin', 'remote', ...args], undefined, timeoutMs)
}

interface LsLine { Status: string, Cid: string, Name: string }
async function remoteLs (status: string, extra: string[] = []): Promise<LsLine[]> {
  const out = await remote(['ls', '--service=csi', `--status=${status}`, '--enc=json', ...extra])
  return out.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as LsLine)
}

async function waitFor<T> (what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
}

/** Recursive pins of the service Kubo whose DAG contains `cid` (the request roots that hold it). */
async function serviceHolds (cid: string): Promise<boolean> {
  const out = await service.cli(['pin', 'ls', '--type=all', cid]).catch(() => '')
  return out.includes(cid)
}

const apiArgs = (): string[] => ['--kubo-api', service.apiUrl, '--oidc-issuer', ISSUER, '--audience', AUDIENCE, '--oidc-jwks-file', path.join(work, 'jwks.json'), '--policy', path.join(work, 'policy.yaml'), '--pin-timeout-ms', '20000']

test.before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-api-'))
  service = await KuboDaemon.start({ name: 'api-service', config: noRouting })
  client = await KuboDaemon.start({ name: 'api-client', config: noRouting })
  key = await signingKey('key-1')
  await writeJwks(path.join(work, 'jwks.json'), [key])
  await writeFile(path.join(work, 'policy.yaml'), [
    'serviceAccounts:',
    '  system:serviceaccount:ml:trainer: [pins:read, pins:write, models:write]',
    '  system:serviceaccount:ml:viewer: [pins:read]',
    '  system:serviceaccount:other-team:*: [pins:read, pins:write]'
  ].join('\n'))
  // The client Kubo is on loopback and its addresses are the origins: loopback must be allowed
  // (by default only public addresses are dialled; see the origins test below).
  api = await ApiProcess.start([...apiArgs(), '--origins-allow', '127.0.0.0/8'])
  // The token Kubo stores is made the way a person would: `ipfs-csi api token create` (the SDK underneath).
  await writeFile(path.join(work, 'sa-token'), await saToken(key))
  const made = await promisify(execFile)(process.execPath, [CLI, 'api', 'token', 'create', '--url', api.url, '--token-file', path.join(work, 'sa-token'), '--device', 'kubo-laptop'])
  apiToken = made.stdout.trim()
  await client.cli(['pin', 'remote', 'service', 'add', 'csi', `${api.url}/api/v1`, apiToken])
})

test.after.always(async () => {
  await api?.stop()
  await client?.dispose()
  await service?.dispose()
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

test.serial('ipfs pin remote add --background=false returns once the service Kubo holds the whole DAG', async (t) => {
  const cid = await client.addBytes(randomBytes(600 * 1024), ['--cid-version=1', '--chunker=size-65536'])
  t.false(await serviceHolds(cid))
  await remote(['add', '--service=csi', '--name=model-a', '--background=false', cid])
  t.true(await serviceHolds(cid), 'the content is pinned in the service Kubo')
  // Every block is local on the service side: an offline walk of the DAG succeeds.
  await service.cli(['refs', '-r', '--offline', cid])
  const pinned = await remoteLs('pinned', ['--name=model-a'])
  t.deepEqual(pinned.map(p => [p.Cid, p.Status, p.Name]), [[cid, 'pinned', 'model-a']])
})

test.serial('ipfs pin remote add --background=true is listed queued/pinning, then pinned', async (t) => {
  const cid = await client.addBytes(randomBytes(300 * 1024), ['--cid-version=1'])
  const out = await remote(['add', '--service=csi', '--name=model-b', '--background=true', '--enc=json', cid])
  const added = JSON.parse(out) as LsLine
  t.is(added.Cid, cid)
  t.true(['queued', 'pinning', 'pinned'].includes(added.Status))
  const all = await remoteLs('queued,pinning,pinned', ['--name=model-b'])
  t.is(all.length, 1)
  await waitFor('model-b pinned', async () => (await remoteLs('pinned', ['--name=model-b'])).length === 1 ? true : undefined)
  t.true(await serviceHolds(cid))
})

test.serial('ipfs pin remote rm --force removes every request for the CID and the service Kubo lets the content go', async (t) => {
  const cid = await client.addBytes(randomBytes(100 * 1024), ['--cid-version=1'])
  await remote(['add', '--service=csi', '--name=twice-1', '--background=false', cid])
  await remote(['add', '--service=csi', '--name=twice-2', '--background=false', cid])
  t.is((await remoteLs('pinned', [`--cid=${cid}`])).length, 2)
  // Without --force Kubo refuses to remove more than one match.
  await t.throwsAsync(remote(['rm', '--service=csi', `--cid=${cid}`]))
  await remote(['rm', '--service=csi', `--cid=${cid}`, '--force'])
  t.deepEqual(await remoteLs('queued,pinning,pinned,failed', [`--cid=${cid}`]), [])
  t.false(await serviceHolds(cid), 'no pin on the service Kubo holds the content any more')
})

test.serial('two requests for one CID: removing one keeps the content pinned for the other', async (t) => {
  const cid = await client.addBytes(randomBytes(50 * 1024), ['--cid-version=1'])
  await remote(['add', '--service=csi', '--name=keep', '--background=false', cid])
  await remote(['add', '--service=csi', '--name=drop', '--background=false', cid])
  await remote(['rm', '--service=csi', '--name=drop'])
  t.deepEqual((await remoteLs('pinned', [`--cid=${cid}`])).map(p => p.Name), ['keep'])
  t.true(await serviceHolds(cid))
  await remote(['rm', '--service=csi', '--name=keep'])
  t.false(await serviceHolds(cid))
})

test.serial('a CID nobody provides ends as failed, listed with ls --status=failed', async (t) => {
  // A valid CID of content that exists nowhere.
  const cid = 'bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqk3b4akba'
  await remote(['add', '--service=csi', '--name=ghost', '--background=true', cid])
  const failed = await waitFor('ghost failed', async () => { const f = await remoteLs('failed', ['--name=ghost']); return f.length === 1 ? f : undefined }, 90_000)
  t.is(failed[0]?.Cid, cid)
  await remote(['rm', '--service=csi', '--name=ghost', '--status=failed'])
  t.deepEqual(await remoteLs('failed', ['--name=ghost']), [])
})

test.serial('pins of one namespace are invisible to another: 404 on get and delete, empty list', async (t) => {
  const cid = await client.addBytes(randomBytes(10 * 1024), ['--cid-version=1'])
  const mine = await call('POST', '/api/v1/pins', apiToken, { cid, name: 'private' })
  t.is(mine.status, 202)
  const id = mine.json.requestid as string
  const other = await exchange('other-team', 'reader', 'laptop')
  t.is((await call('GET', `/api/v1/pins/${id}`, other)).status, 404)
  const del = await call('DELETE', `/api/v1/pins/${id}`, other)
  t.is(del.status, 404)
  t.is(del.json.error.reason, 'NOT_FOUND')
  const list = await call('GET', '/api/v1/pins?status=queued,pinning,pinned,failed', other)
  t.deepEqual(list.json, { count: 0, results: [] })
  // Still there for its owner.
  t.is((await call('GET', `/api/v1/pins/${id}`, apiToken)).status, 200)
  t.is((await call('DELETE', `/api/v1/pins/${id}`, apiToken)).status, 202)
  t.is((await call('GET', `/api/v1/pins/${id}`, apiToken)).status, 404)
})

test.serial('replace: the new request takes over, the old one disappears, the content of both stays pinned meanwhile', async (t) => {
  const a = await client.addBytes(randomBytes(20 * 1024), ['--cid-version=1'])
  const b = await client.addBytes(randomBytes(20 * 1024), ['--cid-version=1'])
  const origins = (await client.cli(['id', '-f', '<addrs>'])).trim().split('\n').filter(x => x.startsWith('/ip4/127.0.0.1/'))
  const first = await call('POST', '/api/v1/pins', apiToken, { cid: a, name: 'rolling', origins })
  await waitFor('a pinned', async () => (await call('GET', `/api/v1/pins/${first.json.requestid as string}`, apiToken)).json.status === 'pinned' ? true : undefined)
  const second = await call('POST', `/api/v1/pins/${first.json.requestid as string}`, apiToken, { cid: b, name: 'rolling', origins })
  t.is(second.status, 202)
  t.not(second.json.requestid, first.json.requestid)
  t.is((await call('GET', `/api/v1/pins/${first.json.requestid as string}`, apiToken)).status, 404)
  await waitFor('b pinned', async () => (await call('GET', `/api/v1/pins/${second.json.requestid as string}`, apiToken)).json.status === 'pinned' ? true : undefined)
  t.true(await serviceHolds(b))
  await waitFor('a released', async () => (await serviceHolds(a)) ? undefined : true)
  await call('DELETE', `/api/v1/pins/${second.json.requestid as string}`, apiToken)
})

test.serial('bad input gets a 4xx Failure body, never a 500', async (t) => {
  const cases: Array<[string, string, unknown, number]> = [
    ['POST', '/api/v1/pins', { cid: 'not-a-cid' }, 400],
    ['POST', '/api/v1/pins', { cid: 'bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqk3b4akba', name: 'x'.repeat(256) }, 400],
    ['POST', '/api/v1/pins', { cid: 'bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqk3b4akba', origins: ['/ip4/1.2.3.4/tcp/1'] }, 400],
    ['POST', '/api/v1/pins', { cid: 'bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqk3b4akba', meta: { a: 1 } }, 400],
    ['POST', '/api/v1/pins', [1, 2], 400],
    ['GET', '/api/v1/pins?limit=0', undefined, 400],
    ['GET', '/api/v1/pins?limit=1001', undefined, 400],
    ['GET', '/api/v1/pins?status=done', undefined, 400],
    ['GET', '/api/v1/pins?before=yesterday', undefined, 400],
    ['GET', '/api/v1/pins?meta=%7Bnot-json', undefined, 400],
    ['GET', '/api/v1/pins?match=fuzzy&name=a', undefined, 400],
    ['GET', '/api/v1/pins?cid=a,b', undefined, 400],
    ['GET', '/api/v1/pins/not-an-id', undefined, 400],
    ['GET', '/api/v1/pins/%E0%A4%A', undefined, 400],
    ['GET', '/api/v1/pins/00000000-0000-4000-8000-000000000000', undefined, 404],
    ['PUT', '/api/v1/pins', undefined, 405],
    ['GET', '/api/v1/nothing', undefined, 404]
  ]
  for (const [method, p, body, want] of cases) {
    const r = await call(method, p, apiToken, body)
    t.is(r.status, want, `${method} ${p} ${JSON.stringify(body)?.slice(0, 60) ?? ''}`)
    t.is(typeof r.json?.error?.reason, 'string', `${method} ${p} has a Failure body`)
  }
  const raw = await fetch(`${api.url}/api/v1/pins`, { method: 'POST', headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' }, body: '{"cid":' })
  t.is(raw.status, 400)
  const big = await fetch(`${api.url}/api/v1/pins`, { method: 'POST', headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ cid: 'x', meta: { k: 'v'.repeat(200_000) } }) })
  t.is(big.status, 413)
  t.is((await call('GET', '/api/v1/pins', undefined)).status, 401)
})

test.serial('API tokens survive a restart of the API; a revoked token is refused', async (t) => {
  const extra = await exchange('ml', 'trainer', 'ci-runner')
  await api.restart()
  t.is((await call('GET', '/api/v1/pins', apiToken)).status, 200, 'the token Kubo stored still works after a restart')
  t.is((await call('GET', '/api/v1/pins', extra)).status, 200)
  const listed = await call('GET', '/v1/tokens', extra)
  const devices = listed.json.results.map((r: { device: string }) => r.device) as string[]
  t.true(devices.includes('ci-runner') && devices.includes('kubo-laptop'), `tokens of the namespace are listed: ${devices.join(', ')}`)
  t.true(listed.json.results.every((r: Record<string, unknown>) => r.token === undefined && r.hash === undefined), 'listing never shows a secret')
  const id = (extra.split('_')[1]) as string
  t.is((await call('DELETE', `/v1/tokens/${id}`, extra)).status, 204)
  const after = await call('GET', '/api/v1/pins', extra)
  t.is(after.status, 401)
  t.is(after.json.error.reason, 'UNAUTHORIZED')
  t.is((await call('GET', '/api/v1/pins', apiToken)).status, 200, 'other devices keep working')
  const log = await readFile(api.logPath, 'utf8')
  for (const secret of [apiToken, extra]) t.false(log.includes(secret.split('_')[2] as string), 'no token secret in the API log')
})

test.serial('the policy decides scopes: a read-only service account gets 403 on writes, one without an entry gets 403 on reads', async (t) => {
  const viewer = await saToken(key, { namespace: 'ml', name: 'viewer' })
  t.is((await call('GET', '/api/v1/pins', viewer)).status, 200)
  const w = await call('POST', '/api/v1/pins', viewer, { cid: 'bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqk3b4akba' })
  t.is(w.status, 403)
  t.is(w.json.error.reason, 'FORBIDDEN')
  const stranger = await saToken(key, { namespace: 'web', name: 'frontend' })
  t.is((await call('GET', '/api/v1/pins', stranger)).status, 403)
  // An API token cannot ask for more than its service account has.
  t.is((await call('POST', '/v1/tokens', viewer, { device: 'd', scopes: ['pins:write'] })).status, 403)
  // Service-account tokens work directly as bearer tokens too.
  t.is((await call('GET', '/api/v1/pins', await saToken(key))).status, 200)
})

test.serial('ipfs-csi api serve --help prints the usage; a bad configuration exits 2 listing every problem', async (t) => {
  const run = promisify(execFile)
  const help = await run(process.execPath, [CLI, 'api', 'serve', '--help'])
  t.regex(help.stdout, /--oidc-jwks-file/)
  t.regex(help.stdout, /--tokenreview-url/)
  const err = await run(process.execPath, [CLI, 'api', 'serve', '--listen', 'x', '--kubo-api', 'nope'], { env: { ...process.env, IPFS_CSI_AUDIENCE: '' } }).catch((e: { code: number, stderr: string }) => e)
  t.is((err as { code: number }).code, 2)
  t.regex((err as { stderr: string }).stderr, /--listen[\s\S]*--kubo-api[\s\S]*exactly one of/)
})

test.serial('/openapi.json serves the document the committed SDK was generated from; /docs is script-free HTML', async (t) => {
  const served = await (await fetch(`${api.url}/openapi.json`)).json()
  const committed = JSON.parse(await readFile(path.join(ROOT, 'sdk', 'openapi.json'), 'utf8'))
  t.deepEqual(served, committed)
  const docs = await fetch(`${api.url}/docs`)
  t.is(docs.status, 200)
  t.regex(docs.headers.get('content-type') ?? '', /text\/html/)
  t.regex(docs.headers.get('content-security-policy') ?? '', /default-src 'none'/)
  t.false(/<script/i.test(await docs.text()))
})

test.serial('origins: a loopback origin is never dialled by default, and is with --origins-allow 127.0.0.0/8', async (t) => {
  // A listener on loopback stands for any service beside the storage Kubo (metadata server, API
  // server, a database): a dial from Kubo is a connection to it.
  let connections = 0
  const server = createServer((s) => { connections++; s.destroy() })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const origin = `/ip4/127.0.0.1/tcp/${port}/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf`
  // Content the service Kubo holds: the request is pinned at once, after its origins were dialled.
  const cid = await service.addBytes(randomBytes(4096), ['--cid-version=1'])
  const token = await saToken(key)
  const pinVia = async (url: string): Promise<void> => {
    const add = await fetch(`${url}/api/v1/pins`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ cid, origins: [origin] }) })
    t.is(add.status, 202)
    const id = ((await add.json()) as { requestid: string }).requestid
    await waitFor('pinned', async () => {
      const st = await fetch(`${url}/api/v1/pins/${id}`, { headers: { authorization: `Bearer ${token}` } })
      return ((await st.json()) as { status: string }).status === 'pinned' ? true : undefined
    })
  }
  const strict = await ApiProcess.start(apiArgs())
  try {
    await pinVia(strict.url)
    t.is(connections, 0, 'the default API made Kubo dial a loopback origin')
  } finally {
    await strict.stop()
  }
  await pinVia(api.url)
  await waitFor('a dial to the allowed loopback origin', async () => connections > 0 ? true : undefined, 30_000)
  t.true(connections > 0)
  server.close()
})
