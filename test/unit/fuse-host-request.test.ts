// fuse-host request validation: only specs in <stateDir>/volumes/<dir>/spec.json and logs next to
// them are accepted; the --fuse-launcher serve flag.
import test from 'ava'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { checkSpawnPaths, checkSpecShape, MAX_STOP_GRACE_MS, parseRequest, RequestError } from '../../node-plugin/fuse-host.js'
import { ConfigError, parseServeConfig } from '../../driver/config.js'

let base: string
let state: string
let vol: string
let outside: string

test.before(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-fuse-host-unit-'))
  state = path.join(base, 'state')
  vol = path.join(state, 'volumes', '0123456789abcdef0123456789abcdef')
  outside = path.join(base, 'outside')
  await mkdir(vol, { recursive: true })
  await mkdir(outside, { recursive: true })
  await writeFile(path.join(vol, 'spec.json'), '{}')
  await writeFile(path.join(outside, 'spec.json'), '{}')
  await writeFile(path.join(state, 'spec.json'), '{}')
})

test.after.always(async () => { await rm(base, { recursive: true, force: true }) })

const refused = async (t: any, specPath: string, logPath: string, match: RegExp): Promise<void> => {
  const err = await t.throwsAsync(checkSpawnPaths(state, specPath, logPath), { instanceOf: RequestError })
  t.regex(err.message, match)
}

test('parseRequest: ping and a well-formed spawn', (t) => {
  t.deepEqual(parseRequest('{"op":"ping"}'), { op: 'ping' })
  t.deepEqual(parseRequest(JSON.stringify({ op: 'spawn', specPath: '/s/volumes/k/spec.json', logPath: '/s/volumes/k/fuse-server.log' })),
    { op: 'spawn', specPath: '/s/volumes/k/spec.json', logPath: '/s/volumes/k/fuse-server.log' })
})

test('parseRequest: bad JSON, non-objects, unknown ops and bad path fields are refused', (t) => {
  for (const line of ['', '{', 'null', '[]', '"spawn"', '42', '{"op":"exec"}', '{}']) {
    t.throws(() => parseRequest(line), { instanceOf: RequestError }, line)
  }
  const spawn = (specPath: unknown, logPath: unknown = '/s/volumes/k/x.log'): string => JSON.stringify({ op: 'spawn', specPath, logPath })
  for (const bad of [spawn(undefined), spawn(''), spawn(7), spawn('relative/spec.json'), spawn('/s/volumes/k/../k/spec.json'),
    spawn('/s/volumes/../../etc/spec.json'), spawn('/s//volumes/k/spec.json'), spawn('/s/volumes/k/./spec.json'),
    spawn('/s/volumes/k/spec.json\0'), spawn('/s/volumes/k/spec.json', '../x.log'), spawn('/' + 'a'.repeat(5000))]) {
    t.throws(() => parseRequest(bad), { instanceOf: RequestError }, bad)
  }
})

test('parseRequest: status and stop name a spec.json; stop takes an optional pid and a bounded grace', (t) => {
  const spec = '/s/volumes/k/spec.json'
  t.deepEqual(parseRequest(JSON.stringify({ op: 'status', specPath: spec })), { op: 'status', specPath: spec })
  t.deepEqual(parseRequest(JSON.stringify({ op: 'stop', specPath: spec, graceMs: 0 })), { op: 'stop', specPath: spec, graceMs: 0 })
  t.deepEqual(parseRequest(JSON.stringify({ op: 'stop', specPath: spec, pid: 42, graceMs: 5000 })), { op: 'stop', specPath: spec, pid: 42, graceMs: 5000 })
  const bad = [
    { op: 'status' }, { op: 'status', specPath: '/s/volumes/k/state.json' }, { op: 'status', specPath: '/s/volumes/../k/spec.json' },
    { op: 'stop', specPath: spec }, { op: 'stop', specPath: spec, graceMs: -1 }, { op: 'stop', specPath: spec, graceMs: MAX_STOP_GRACE_MS + 1 },
    { op: 'stop', specPath: spec, graceMs: 1.5 }, { op: 'stop', specPath: spec, graceMs: '10' }, { op: 'stop', specPath: spec, graceMs: 10, pid: 1 },
    { op: 'stop', specPath: spec, graceMs: 10, pid: -5 }, { op: 'stop', specPath: spec, graceMs: 10, pid: '42' }
  ]
  for (const r of bad) t.throws(() => parseRequest(JSON.stringify(r)), { instanceOf: RequestError }, JSON.stringify(r))
})

test('checkSpecShape: status and stop only for <state>/volumes/<dir>/spec.json, existing or not', (t) => {
  t.notThrows(() => checkSpecShape(state, path.join(vol, 'spec.json')))
  t.notThrows(() => checkSpecShape(state, path.join(state, 'volumes', 'gone', 'spec.json')))
  for (const p of [path.join(outside, 'spec.json'), path.join(state, 'spec.json'), path.join(vol, 'sub', 'spec.json'), path.join(vol, 'state.json')]) {
    t.throws(() => checkSpecShape(state, p), { instanceOf: RequestError }, p)
  }
})

test('checkSpawnPaths accepts the volume spec and a log next to it', async (t) => {
  await t.notThrowsAsync(checkSpawnPaths(state, path.join(vol, 'spec.json'), path.join(vol, 'fuse-server.log')))
})

test('checkSpawnPaths refuses specs outside <state>/volumes/<dir>/', async (t) => {
  await refused(t, path.join(outside, 'spec.json'), path.join(outside, 'fuse-server.log'), /is not <state-dir>/)
  await refused(t, path.join(state, 'spec.json'), path.join(state, 'fuse-server.log'), /is not <state-dir>/)
  await refused(t, path.join(vol, 'state.json'), path.join(vol, 'fuse-server.log'), /does not exist|is not <state-dir>/)
  await refused(t, path.join(vol, 'missing', 'spec.json'), path.join(vol, 'fuse-server.log'), /does not exist/)
  // `..` resolved by realpath still lands outside.
  await refused(t, `${vol}/../../../outside/spec.json`, path.join(outside, 'x.log'), /is not <state-dir>/)
})

test('checkSpawnPaths follows symlinks: a link inside pointing outside is refused', async (t) => {
  const linkDir = path.join(state, 'volumes', 'linked')
  await symlink(outside, linkDir)
  await refused(t, path.join(linkDir, 'spec.json'), path.join(linkDir, 'fuse-server.log'), /is not <state-dir>/)
  const vol2 = path.join(state, 'volumes', 'fedcba9876543210fedcba9876543210')
  await mkdir(vol2)
  await symlink(path.join(outside, 'spec.json'), path.join(vol2, 'spec.json'))
  await refused(t, path.join(vol2, 'spec.json'), path.join(vol2, 'fuse-server.log'), /is not <state-dir>/)
})

test('checkSpawnPaths refuses logs elsewhere, non-.log names and symlinked logs', async (t) => {
  const spec = path.join(vol, 'spec.json')
  await refused(t, spec, path.join(outside, 'fuse-server.log'), /same directory/)
  await refused(t, spec, path.join(vol, 'spec.json'), /\*\.log/)
  await refused(t, spec, path.join(vol, 'state.json'), /\*\.log/)
  await refused(t, spec, path.join(vol, 'nodir', 'fuse-server.log'), /does not exist/)
  await symlink(path.join(outside, 'evil.log'), path.join(vol, 'evil.log'))
  await refused(t, spec, path.join(vol, 'evil.log'), /not a regular file/)
  await mkdir(path.join(vol, 'dir.log'))
  await refused(t, spec, path.join(vol, 'dir.log'), /not a regular file/)
})

test('--fuse-launcher: local by default, unix:///abs accepted, anything else refused', (t) => {
  const base = ['--node-id', 'n1']
  t.is(parseServeConfig(base, {}).fuseLauncher, 'local')
  t.is(parseServeConfig([...base, '--fuse-launcher', 'unix:///run/ipfs-csi/fuse-host.sock'], {}).fuseLauncher, 'unix:///run/ipfs-csi/fuse-host.sock')
  t.is(parseServeConfig(base, { IPFS_CSI_FUSE_LAUNCHER: 'unix:///x.sock' }).fuseLauncher, 'unix:///x.sock')
  for (const bad of ['unix://rel.sock', 'tcp://127.0.0.1:1', '', 'remote']) {
    const err = t.throws(() => parseServeConfig([...base, '--fuse-launcher', bad], {}), { instanceOf: ConfigError })
    t.regex(err.message, /--fuse-launcher/)
  }
})

test('--fuse-kubo-api: the Kubo FUSE servers reach, --kubo-api by default, an http(s) URL or refused', (t) => {
  const base = ['--node-id', 'n1', '--kubo-api', 'http://ipfs-node-kubo:5001']
  t.is(parseServeConfig(base, {}).fuseKuboApi, 'http://ipfs-node-kubo:5001')
  t.is(parseServeConfig(base, { IPFS_CSI_FUSE_KUBO_API: 'http://127.0.0.1:5001' }).fuseKuboApi, 'http://127.0.0.1:5001')
  t.is(parseServeConfig(base, { IPFS_CSI_FUSE_KUBO_API: 'http://127.0.0.1:5001' }).kuboApi, 'http://ipfs-node-kubo:5001')
  const err = t.throws(() => parseServeConfig([...base, '--fuse-kubo-api', 'ftp://x'], {}), { instanceOf: ConfigError })
  t.regex(err.message, /--fuse-kubo-api must be an http\(s\) URL/)
})
