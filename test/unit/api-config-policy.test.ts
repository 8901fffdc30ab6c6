// `ipfs-csi api serve` configuration (flags, IPFS_CSI_* env, every problem at once), the policy
// file (scopes per service account, reloaded, broken versions refused) and the pin filters.
import test from 'ava'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseApiConfig } from '../../api/config.js'
import { ConfigError } from '../../driver/config.js'
import { Policy, parsePolicy, DEFAULT_SCOPES } from '../../api/auth/policy.js'
import { parseListQuery, parsePin, nameMatches } from '../../api/pins/pin-input.js'
import { Code, CsiError } from '../../driver/errors.js'

const base = ['--oidc-issuer', 'https://k8s', '--audience', 'api', '--oidc-jwks-file', '/etc/jwks.json']

test('flags and IPFS_CSI_* environment give a typed config', (t) => {
  const c = parseApiConfig([...base, '--listen', '127.0.0.1:9000'], { IPFS_CSI_KUBO_API: 'http://kubo:5001', IPFS_CSI_REDIS: 'redis://127.0.0.1:6379', IPFS_CSI_RATE_LIMIT_IP: '50' })
  t.is(c.host, '127.0.0.1')
  t.is(c.port, 9000)
  t.is(c.kuboApi, 'http://kubo:5001')
  t.is(c.redisUrl, 'redis://127.0.0.1:6379')
  t.is(c.limits.ipPerMinute, 50)
  t.deepEqual(c.auth, { kind: 'jwks-file', issuer: 'https://k8s', audience: 'api', jwksFile: '/etc/jwks.json' })
})

test('every configuration problem is reported at once', (t) => {
  const err = t.throws(() => parseApiConfig(['--listen', 'nope', '--kubo-api', 'ftp://x', '--oidc-jwks-file', 'rel.json', '--tokenreview-url', 'https://k8s', '--oidc-jwks-url', 'https://k8s/jwks', '--max-body-bytes', '1', '--redis', 'http://x', '--delegates', '/ip4/1.2.3.4/tcp/1'], {}), { instanceOf: ConfigError }) as ConfigError
  const text = err.problems.join('\n')
  for (const want of ['--listen', '--kubo-api', '--oidc-jwks-file must be an absolute', 'exactly one of', '--audience is required', '--max-body-bytes', '--redis', '--delegates']) t.true(text.includes(want), `reports ${want}`)
})

test('unknown flags are a configuration error', (t) => {
  t.throws(() => parseApiConfig([...base, '--no-such-flag'], {}), { instanceOf: ConfigError })
})

test('the policy maps service accounts (and NS:* wildcards) to scopes', (t) => {
  const p = parsePolicy('serviceAccounts:\n  system:serviceaccount:ml:trainer: [pins:write, models:write]\n  system:serviceaccount:ml:*: [pins:read]\n')
  t.deepEqual(p.serviceAccounts['system:serviceaccount:ml:trainer'], ['pins:write', 'models:write'])
  const err = t.throws(() => parsePolicy('serviceAccounts:\n  admin: [pins:read]\n  system:serviceaccount:a:b: [root]\n')) as CsiError
  t.regex(err.message, /admin/)
  t.regex(err.message, /scopes must be/)
})

test('Policy: own scopes plus the namespace wildcard; a broken new file keeps the last good one', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-policy-'))
  const file = path.join(dir, 'policy.yaml')
  await writeFile(file, 'serviceAccounts:\n  system:serviceaccount:ml:trainer: [models:write]\n  system:serviceaccount:ml:*: [pins:read]\n')
  const errors: string[] = []
  const p = new Policy(file, (m) => errors.push(m))
  t.deepEqual([...p.scopesFor('system:serviceaccount:ml:trainer', 'ml')].sort(), ['models:write', 'pins:read'])
  t.deepEqual([...p.scopesFor('system:serviceaccount:ml:other', 'ml')], ['pins:read'])
  t.deepEqual([...p.scopesFor('system:serviceaccount:web:x', 'web')], [])
  await writeFile(file, 'serviceAccounts: [oops')
  ;(p as unknown as { checkedAt: number }).checkedAt = 0
  t.deepEqual([...p.scopesFor('system:serviceaccount:ml:other', 'ml')], ['pins:read'], 'last good policy still applies')
  t.is(errors.length, 1)
  await writeFile(file, 'serviceAccounts:\n  system:serviceaccount:web:x: [pins:read, pins:write]\n')
  ;(p as unknown as { checkedAt: number }).checkedAt = 0
  t.deepEqual([...p.scopesFor('system:serviceaccount:web:x', 'web')].sort(), ['pins:read', 'pins:write'])
  t.deepEqual([...p.scopesFor('system:serviceaccount:ml:other', 'ml')], [])
  t.throws(() => new Policy(path.join(dir, 'missing.yaml')))
  t.deepEqual([...new Policy(undefined).scopesFor('system:serviceaccount:a:b', 'a')], DEFAULT_SCOPES)
  await rm(dir, { recursive: true, force: true })
})

test('GET /pins filters: comma or repeated arrays, defaults, bounds', (t) => {
  const q = parseListQuery(new URLSearchParams('cid=bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqk3b4akba,QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG&status=queued&status=pinning&limit=1000&before=2026-01-01T00:00:00.123456789Z&meta=%7B%22app%22%3A%22x%22%7D'))
  t.is(q.cids?.length, 2)
  t.deepEqual([...q.statuses], ['queued', 'pinning'])
  t.is(q.limit, 1000)
  t.is(q.before, Date.parse('2026-01-01T00:00:00.123Z'))
  t.deepEqual(q.meta, { app: 'x' })
  const d = parseListQuery(new URLSearchParams(''))
  t.deepEqual([...d.statuses], ['pinned'], 'no status filter: only pinned')
  t.is(d.limit, 10)
  for (const bad of ['limit=1.5', 'cid=' + Array(11).fill('bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqk3b4akba').join(','), 'name=' + 'n'.repeat(256), 'meta=%5B1%5D', 'after=2026-13-01', 'unknown=1']) {
    t.is((t.throws(() => parseListQuery(new URLSearchParams(bad))) as CsiError).code, Code.INVALID_ARGUMENT, bad.slice(0, 40))
  }
  t.true(nameMatches('Llama-3', 'llama', 'ipartial'))
  t.false(nameMatches('Llama-3', 'llama', 'partial'))
  t.true(nameMatches('Llama-3', 'LLAMA-3', 'iexact'))
  t.false(nameMatches(undefined, 'x', 'partial'))
})

test('Pin bodies: unknown fields, origins without /p2p/, more than 20 origins are refused', (t) => {
  const cid = 'bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqk3b4akba'
  const peer = '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf'
  t.is(parsePin({ cid, origins: [peer], meta: { a: 'b' } }).origins[0], peer)
  for (const bad of [{ cid, extra: 1 }, { cid, origins: ['/ip4/127.0.0.1/tcp/4001'] }, { cid, origins: Array(21).fill(peer) }, { cid, origins: [peer, peer] }, { cid: 5 }, null]) {
    t.is((t.throws(() => parsePin(bad)) as CsiError).code, Code.INVALID_ARGUMENT, JSON.stringify(bad)?.slice(0, 50))
  }
})
