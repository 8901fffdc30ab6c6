// The model index against a real Kubo: PUT walks the DAG with the content/ reader and records a
// manifest with a SHA-256 per file, stored as dag-json and pinned; versions never change; tags move.
import test from 'ava'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { DriverProcess } from '../helpers/driver-process.js'
import { cleanupMounts } from '../helpers/cleanup-mounts.js'
import { CTX } from '../../driver/constants.js'
import { readFile } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { CLI } from '../helpers/repo.js'
import { createApiClient, unwrap } from '../../sdk/index.js'
import { codeOf, mountCap } from '../helpers/csi-client.js'
import { Code } from '../../driver/errors.js'
import { POD_NAMESPACE_KEY } from '../../node-plugin/inline-policy.js'
import { policyPath, writePolicy } from '../helpers/inline-policy.js'
import { ApiProcess, AUDIENCE, ISSUER, saToken, signingKey, writeJwks, type SigningKey } from '../helpers/api-process.js'

let kubo: KuboDaemon
let api: ApiProcess
let work: string
let key: SigningKey
let writer: string
const files: Record<string, Buffer> = {}

async function call (method: string, p: string, token: string, body?: unknown): Promise<{ status: number, json: any }> {
  const res = await fetch(api.url + p, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
  const text = await res.text()
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
}

async function modelDir (name: string, sizes: Record<string, number>): Promise<string> {
  const dir = path.join(work, name)
  for (const [rel, size] of Object.entries(sizes)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true })
    const data = randomBytes(size)
    files[`${name}/${rel}`] = data
    await writeFile(path.join(dir, rel), data)
  }
  return await kubo.add(dir, ['--cid-version=1', '--chunker=size-65536', '--pin=false'])
}

test.before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-api-models-'))
  kubo = await KuboDaemon.start({ name: 'api-models', offline: true })
  key = await signingKey('m1')
  await writeJwks(path.join(work, 'jwks.json'), [key])
  await writeFile(path.join(work, 'policy.yaml'), 'serviceAccounts:\n  system:serviceaccount:ml:publisher: [models:write]\n  system:serviceaccount:ml:*: [pins:read]\n')
  api = await ApiProcess.start(['--kubo-api', kubo.apiUrl, '--oidc-issuer', ISSUER, '--audience', AUDIENCE, '--oidc-jwks-file', path.join(work, 'jwks.json'), '--policy', path.join(work, 'policy.yaml')])
  writer = await saToken(key, { namespace: 'ml', name: 'publisher' })
})

test.after.always(async () => {
  await api?.stop()
  await kubo?.dispose()
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

test.serial('PUT a version records every file with its size, CID and SHA-256, as dag-json pinned in Kubo', async (t) => {
  const cid = await modelDir('llama-v1', { 'config.json': 300, 'weights/model-00001.safetensors': 200_000, 'weights/model-00002.safetensors': 150_000 })
  // Through the generated SDK, as clients do.
  const sdk = createApiClient({ baseUrl: api.url, token: writer })
  const put = await sdk.PUT('/v1/models/{name}/versions/{version}', { params: { path: { name: 'llama', version: '1.0' } }, body: { cid, annotations: { license: 'apache-2.0' }, tags: ['latest'] } })
  t.is(put.response.status, 201)
  const r = { json: unwrap(put) }
  t.is(r.json.cid, cid)
  t.is(r.json.totalSize, 350_300)
  t.deepEqual(r.json.annotations, { license: 'apache-2.0' })
  t.deepEqual(r.json.files.map((f: { path: string }) => f.path), ['config.json', 'weights/model-00001.safetensors', 'weights/model-00002.safetensors'])
  for (const f of r.json.files as Array<{ path: string, size: number, sha256: string, cid: string }>) {
    const data = files[`llama-v1/${f.path}`] as Buffer
    t.is(f.size, data.length)
    t.is(f.sha256, createHash('sha256').update(data).digest('hex'), `${f.path} sha256`)
    t.is((await kubo.cli(['resolve', '-r', `/ipfs/${cid}/${f.path}`])).trim(), `/ipfs/${f.cid}`)
  }
  // Stored in IPFS as dag-json, pinned recursively (so the model itself stays pinned).
  const stored = JSON.parse(await kubo.cli(['dag', 'get', r.json.record])) as { name: string, version: string, cid: { '/': string } }
  t.is(stored.name, 'llama')
  t.deepEqual(stored.cid, { '/': cid })
  t.true((await kubo.cli(['pin', 'ls', '--type=recursive', r.json.record])).includes(r.json.record))
  t.true((await kubo.cli(['pin', 'ls', '--type=indirect', cid])).includes(cid), 'the model content is pinned through the record')
})

test.serial('a version never changes: the same CID again is 200, another CID is 409', async (t) => {
  const first = await call('GET', '/v1/models/llama/versions/1.0', writer)
  const same = await call('PUT', '/v1/models/llama/versions/1.0', writer, { cid: first.json.cid })
  t.is(same.status, 200)
  t.is(same.json.record, first.json.record)
  const other = await modelDir('llama-other', { 'x.bin': 1000 })
  const clash = await call('PUT', '/v1/models/llama/versions/1.0', writer, { cid: other })
  t.is(clash.status, 409)
  t.is((await call('GET', '/v1/models/llama/versions/1.0', writer)).json.cid, first.json.cid)
})

test.serial('tags move: latest follows the newest version, GET by tag, by version and the model listing with paging', async (t) => {
  const v2 = await modelDir('llama-v2', { 'config.json': 310, 'weights/model.safetensors': 80_000 })
  t.is((await call('PUT', '/v1/models/llama/versions/2.0', writer, { cid: v2 })).status, 201)
  t.is((await call('GET', '/v1/models/llama/tags/latest', writer)).json.version, '1.0')
  t.is((await call('PUT', '/v1/models/llama/tags/latest', writer, { version: '2.0' })).status, 200)
  t.is((await call('PUT', '/v1/models/llama/tags/prod', writer, { version: '1.0' })).status, 200)
  const latest = await call('GET', '/v1/models/llama/tags/latest', writer)
  t.is(latest.json.version, '2.0')
  t.is(latest.json.cid, v2)
  // The CLI resolves name:tag through the SDK too.
  await writeFile(path.join(work, 'writer-token'), writer)
  const cli = await promisify(execFile)(process.execPath, [CLI, 'api', 'model', 'resolve', 'llama:latest', '--url', api.url, '--token-file', path.join(work, 'writer-token')])
  t.is(cli.stdout.trim(), v2)
  const model = await call('GET', '/v1/models/llama', writer)
  t.deepEqual(model.json.tags, { latest: '2.0', prod: '1.0' })
  t.deepEqual(model.json.versions.results.map((v: { version: string }) => v.version), ['1.0', '2.0'])
  const page1 = await call('GET', '/v1/models/llama?limit=1', writer)
  t.deepEqual(page1.json.versions.results.map((v: { version: string }) => v.version), ['1.0'])
  t.is(page1.json.versions.next, '1.0')
  const page2 = await call('GET', `/v1/models/llama?limit=1&after=${page1.json.versions.next as string}`, writer)
  t.deepEqual(page2.json.versions.results.map((v: { version: string }) => v.version), ['2.0'])
  t.is(page2.json.versions.next, undefined)
  await call('PUT', '/v1/models/bert/versions/1', writer, { cid: v2 })
  const list = await call('GET', '/v1/models?limit=1', writer)
  t.deepEqual(list.json.results, [{ name: 'bert', versions: 1 }])
  t.deepEqual((await call('GET', `/v1/models?after=${list.json.next as string}`, writer)).json.results, [{ name: 'llama', versions: 2 }])
})

test.serial('model writes need models:write; bad names are 400; unknown models, versions and tags are 404', async (t) => {
  const reader = await saToken(key, { namespace: 'ml', name: 'reader' })
  t.is((await call('PUT', '/v1/models/llama/versions/3.0', reader, { cid: 'bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqk3b4akba' })).status, 403)
  t.is((await call('GET', '/v1/models/llama/tags/latest', reader)).status, 200, 'reading needs no scope')
  t.is((await call('PUT', '/v1/models/Bad..Name/versions/1', writer, { cid: 'bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqk3b4akba' })).status, 400)
  t.is((await call('PUT', '/v1/models/llama/versions/-x', writer, { cid: 'bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqk3b4akba' })).status, 400)
  t.is((await call('PUT', '/v1/models/llama/versions/4', writer, { cid: 'nope' })).status, 400)
  t.is((await call('PUT', '/v1/models/llama/tags/x', writer, { version: '9.9' })).status, 404)
  t.is((await call('GET', '/v1/models/nothing', writer)).status, 404)
  t.is((await call('GET', '/v1/models/llama/versions/9', writer)).status, 404)
  t.is((await call('GET', '/v1/models/llama/tags/none', writer)).status, 404)
  t.is((await call('GET', '/v1/models?limit=0', writer)).status, 400)
})

test.serial('a StorageClass with model: name:tag gets the CID the tag points at, resolved once at CreateVolume', async (t) => {
  const driver = await DriverProcess.start({ kuboApi: kubo.apiUrl, mode: 'controller', name: 'api-models-controller' })
  try {
    const latest = (await call('GET', '/v1/models/llama/tags/latest', writer)).json as { cid: string }
    const v1 = (await call('GET', '/v1/models/llama/versions/1.0', writer)).json as { cid: string }
    const create = async (name: string, parameters: Record<string, string>): Promise<any> => (await driver.csi.controller.CreateVolume({ name, volume_capabilities: [mountCap('MULTI_NODE_READER_ONLY')], parameters })).volume
    const byTag = await create('pvc-model-latest', { model: 'llama:latest' })
    t.is(byTag.volume_context.cid, latest.cid)
    const weights = (await kubo.cli(['resolve', '-r', `/ipfs/${v1.cid}/weights`])).trim().replace('/ipfs/', '')
    t.is((await create('pvc-model-version', { model: 'llama:1.0', path: 'weights' })).volume_context.cid, weights, 'a version and a path inside it')
    t.is((await create('pvc-model-default', { model: 'llama' })).volume_context.cid, latest.cid, 'no tag means latest')
    // Moving the tag does not change a volume already made (resolved once, like ipns).
    await call('PUT', '/v1/models/llama/tags/latest', writer, { version: '1.0' })
    t.is((await create('pvc-model-latest', { model: 'llama:latest' })).volume_context.cid, latest.cid)
    t.is((await create('pvc-model-moved', { model: 'llama:latest' })).volume_context.cid, v1.cid)
    t.is(await codeOf(create('pvc-model-missing', { model: 'llama:nope' })), Code.NOT_FOUND)
    t.is(await codeOf(create('pvc-model-bad', { model: 'Bad Name' })), Code.INVALID_ARGUMENT)
  } finally {
    await driver.stop()
    await rm(driver.dir, { recursive: true, force: true })
  }
})

test.serial('an inline ephemeral volume with model: name:tag mounts the version the tag names (resolved at publish), for the namespaces the inline policy lets use that model', async (t) => {
  const policy = writePolicy(policyPath(), [{ namespaces: ['ml'], models: ['llama'] }])
  const driver = await DriverProcess.start({ kuboApi: kubo.apiUrl, mode: 'node', name: 'api-models-node', extraArgs: ['--heal-interval-ms', '0', '--inline-policy-file', policy] })
  t.teardown(async () => {
    await rm(path.dirname(policy), { recursive: true, force: true })
    await cleanupMounts(driver.dir)
    await driver.stop()
    await rm(driver.dir, { recursive: true, force: true })
  })
  // prod points at 1.0 (set above): its weights directory, mounted read-only, byte for byte.
  const id = 'csi-model-inline-1'
  const tp = driver.targetPath('pod-model', id)
  const req = { volume_id: id, target_path: tp, volume_capability: mountCap('SINGLE_NODE_WRITER'), readonly: false, volume_context: { [CTX.ephemeral]: 'true', [CTX.model]: 'llama:prod', [CTX.path]: 'weights', 'csi.storage.k8s.io/pod.name': 'pod-model', [POD_NAMESPACE_KEY]: 'ml' } }
  t.is(await codeOf(driver.csi.node.NodePublishVolume({ ...req, volume_context: { ...req.volume_context, [POD_NAMESPACE_KEY]: 'web' } })), Code.PERMISSION_DENIED, 'a namespace the policy does not name')
  await driver.csi.node.NodePublishVolume(req)
  t.true((await readFile(path.join(tp, 'model-00001.safetensors'))).equals(files['llama-v1/weights/model-00001.safetensors'] as Buffer))
  await driver.csi.node.NodeUnpublishVolume({ volume_id: id, target_path: tp })
  const missing = { ...req, volume_id: 'csi-model-inline-2', target_path: driver.targetPath('pod-model-2', 'csi-model-inline-2'), volume_context: { ...req.volume_context, [CTX.model]: 'llama:no-such-tag' } }
  t.is(await codeOf(driver.csi.node.NodePublishVolume(missing)), Code.NOT_FOUND)
  const bad = { ...missing, volume_context: { ...req.volume_context, [CTX.model]: 'Not A Model' } }
  t.is(await codeOf(driver.csi.node.NodePublishVolume(bad)), Code.INVALID_ARGUMENT)
})
