// Bad requests are refused before anything is resolved, spawned, mounted or created. Kubo
// points at a closed port: any request that got as far as Kubo would fail differently.
import test from 'ava'
import { mkdtemp, mkdir, readdir, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Code, CsiError } from '../../driver/errors.js'
import { CTX } from '../../driver/constants.js'
import { Kubo } from '../../driver/kubo.js'
import { createLogger } from '../../driver/logger.js'
import { parseServeConfig } from '../../driver/config.js'
import { NodeVolumes } from '../../node-plugin/node-volumes.js'
import { wireNode, type WireNode } from '../helpers/node-wire.js'
import { serverFailureCode } from '../../node-plugin/fuse-process.js'

const CID = 'bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354'
const RO = { mount: {}, access_mode: { mode: 'MULTI_NODE_READER_ONLY' } }
const RW = { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }

async function setup (t: { teardown: (fn: () => Promise<void>) => void }): Promise<{ v: WireNode, root: string, kubelet: string, state: string }> {
  const root = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-nodeval-'))
  t.teardown(async () => await rm(root, { recursive: true, force: true }))
  const kubelet = path.join(root, 'kubelet')
  const state = path.join(root, 'state')
  await mkdir(kubelet)
  const config = parseServeConfig(['--node-id', 'n1', '--endpoint', `unix://${root}/csi.sock`, '--kubo-api', 'http://127.0.0.1:9', '--state-dir', state, '--kubelet-dir', kubelet, '--kubo-timeout-ms', '500'], {})
  const log = createLogger('error')
  const v = wireNode(new NodeVolumes({ log, kubo: new Kubo({ url: config.kuboApi, timeoutMs: 500 }), config }))
  return { v, root, kubelet, state }
}

async function code (p: Promise<unknown>): Promise<number | 'ok'> {
  try { await p; return 'ok' } catch (err) { return err instanceof CsiError ? err.code : -1 }
}

const signal = new AbortController().signal

test('stage refuses bad input with INVALID_ARGUMENT and creates nothing', async (t) => {
  const { v, root, kubelet, state } = await setup(t)
  await symlink('/etc', path.join(kubelet, 'link'))
  const sp = path.join(kubelet, 'staging', 'vol')
  const cases: Array<[string, Record<string, unknown>]> = [
    ['no id', { staging_target_path: sp, volume_capability: RO }],
    ['no staging path', { volume_id: CID, volume_capability: RO }],
    ['no capability', { volume_id: CID, staging_target_path: sp }],
    ['block', { volume_id: CID, staging_target_path: sp, volume_capability: { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } } }],
    ['invalid cid', { volume_id: 'bafybeinvalid', staging_target_path: sp, volume_capability: RO }],
    ['dotdot', { volume_id: `${CID}/../x`, staging_target_path: sp, volume_capability: RO }],
    ['comma', { volume_id: `${CID}/a,b`, staging_target_path: sp, volume_capability: RO }],
    ['outside kubelet', { volume_id: CID, staging_target_path: path.join(root, 'elsewhere'), volume_capability: RO }],
    ['dotdot path', { volume_id: CID, staging_target_path: `${kubelet}/../escape`, volume_capability: RO }],
    ['through symlink', { volume_id: CID, staging_target_path: path.join(kubelet, 'link', 'x'), volume_capability: RO }],
    ['relative', { volume_id: CID, staging_target_path: 'staging/vol', volume_capability: RO }],
    ['bad context cid', { volume_id: 'pv-1', staging_target_path: sp, volume_capability: RO, volume_context: { [CTX.cid]: 'nope' } }]
  ]
  for (const [name, req] of cases) t.is(await code(v.stage(req, signal)), Code.INVALID_ARGUMENT, name)
  t.deepEqual(await readdir(kubelet), ['link'], 'nothing created under the kubelet dir')
  t.deepEqual(await readdir(state).catch(() => []), [], 'no state written')
})

test('publish refuses bad input, a read-write content publish, and an unstaged volume', async (t) => {
  const { v, kubelet, state } = await setup(t)
  const sp = path.join(kubelet, 'staging', 'vol')
  const tp = path.join(kubelet, 'pods', 'p', 'mount')
  const invalidCases: Array<[string, Record<string, unknown>]> = [
    ['no id', { staging_target_path: sp, target_path: tp, volume_capability: RO }],
    ['no target', { volume_id: CID, staging_target_path: sp, volume_capability: RO }],
    ['no staging', { volume_id: CID, target_path: tp, volume_capability: RO }],
    ['no capability', { volume_id: CID, staging_target_path: sp, target_path: tp }],
    ['block', { volume_id: CID, staging_target_path: sp, target_path: tp, volume_capability: { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } } }],
    ['content rw', { volume_id: CID, staging_target_path: sp, target_path: tp, volume_capability: RW, readonly: false }],
    ['target outside', { volume_id: CID, staging_target_path: sp, target_path: '/tmp/x', volume_capability: RO }],
    ['inline without cid', { volume_id: 'csi-123', target_path: tp, volume_capability: RW, volume_context: { [CTX.ephemeral]: 'true' } }],
    ['inline bad path', { volume_id: 'csi-123', target_path: tp, volume_capability: RW, volume_context: { [CTX.ephemeral]: 'true', [CTX.cid]: CID, [CTX.path]: '../x' } }]
  ]
  for (const [name, req] of invalidCases) t.is(await code(v.publish(req, signal)), Code.INVALID_ARGUMENT, name)
  t.is(await code(v.publish({ volume_id: CID, staging_target_path: sp, target_path: tp, volume_capability: RO, readonly: true }, signal)), Code.FAILED_PRECONDITION)
  t.deepEqual(await readdir(kubelet), [], 'nothing created under the kubelet dir')
  t.deepEqual(await readdir(state).catch(() => []), [])
})

test('unpublish, unstage and stats validate and are idempotent when nothing is there', async (t) => {
  const { v, kubelet } = await setup(t)
  const sp = path.join(kubelet, 'staging', 'vol')
  const tp = path.join(kubelet, 'pods', 'p', 'mount')
  t.is(await code(v.unpublish({ volume_id: CID })), Code.INVALID_ARGUMENT)
  t.is(await code(v.unpublish({ target_path: tp })), Code.INVALID_ARGUMENT)
  t.is(await code(v.unpublish({ volume_id: CID, target_path: '/etc' })), Code.INVALID_ARGUMENT)
  t.is(await code(v.unpublish({ volume_id: CID, target_path: tp })), 'ok')
  t.is(await code(v.unstage({ volume_id: CID })), Code.INVALID_ARGUMENT)
  t.is(await code(v.unstage({ volume_id: CID, staging_target_path: sp })), 'ok')
  t.is(await code(v.stats({ volume_id: CID }, signal)), Code.INVALID_ARGUMENT)
  t.is(await code(v.stats({ volume_path: sp }, signal)), Code.INVALID_ARGUMENT)
  t.is(await code(v.stats({ volume_id: CID, volume_path: sp }, signal)), Code.NOT_FOUND)
})

test('a FUSE server failure maps to the code it reported, INTERNAL when it reported none', (t) => {
  t.is(serverFailureCode({ pid: 10, failed: { code: Code.NOT_FOUND, message: 'no link named "x"' } }), Code.NOT_FOUND)
  t.is(serverFailureCode({ pid: 10, failed: { code: Code.DEADLINE_EXCEEDED } }), Code.DEADLINE_EXCEEDED)
  t.is(serverFailureCode({ pid: 10, failed: { code: 99 } }), Code.INTERNAL)
  t.is(serverFailureCode({ pid: 10, failed: { code: '5' } }), Code.INTERNAL)
  t.is(serverFailureCode({ pid: 10 }), Code.INTERNAL)
  t.is(serverFailureCode(undefined), Code.INTERNAL)
})
