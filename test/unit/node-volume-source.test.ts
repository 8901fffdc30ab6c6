import test from 'ava'
import { Code, CsiError } from '../../driver/errors.js'
import { CTX } from '../../driver/constants.js'
import { writableVolumeId, contentVolumeId } from '../../driver/volume-id.js'
import { checkCapability, checkVolumeId, describeSource, volumeSourceOf } from '../../node-plugin/volume-source.js'

const CID0 = 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn' // empty UnixFS dir
const CID1 = 'bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354'
const GiB = 1024 ** 3

const code = (fn: () => unknown): number | 'ok' => {
  try { fn(); return 'ok' } catch (err) { return err instanceof CsiError ? err.code : -1 }
}

test('static handles: <cid>, <cid>/path and /ipfs/<cid>/path', (t) => {
  const a = volumeSourceOf(CID1, {}, GiB)
  t.is(a.kind, 'content')
  t.is(describeSource(a), `/ipfs/${CID1}`)
  t.is(describeSource(volumeSourceOf(`${CID0}/sub/file.txt`, undefined, GiB)), `/ipfs/${CID0}/sub/file.txt`)
  t.is(describeSource(volumeSourceOf(`/ipfs/${CID1}/a b/c`, {}, GiB)), `/ipfs/${CID1}/a b/c`)
})

test('volume context cid + path wins over the id', (t) => {
  const s = volumeSourceOf(contentVolumeId('pvc-1'), { [CTX.kind]: 'content', [CTX.cid]: CID1, [CTX.path]: 'models/m1' }, GiB)
  t.is(describeSource(s), `/ipfs/${CID1}/models/m1`)
  const ipfsPrefixed = volumeSourceOf('any-static-name', { [CTX.cid]: `/ipfs/${CID0}` }, GiB)
  t.is(describeSource(ipfsPrefixed), `/ipfs/${CID0}`)
})

test('ipns attribute is kept for resolution at stage time', (t) => {
  const s = volumeSourceOf('pv-ipns', { [CTX.ipns]: 'example.com', [CTX.path]: 'x' }, GiB)
  t.is(s.kind, 'content')
  t.is(describeSource(s), '/ipns/example.com/x')
})

test('writable volumes: kind from context or w- id, capacity from context', (t) => {
  const id = writableVolumeId('pvc-w')
  const s = volumeSourceOf(id, { [CTX.kind]: 'writable', [CTX.capacity]: String(5 * 1024 * 1024) }, GiB)
  t.deepEqual(s, { kind: 'writable', mfsPath: `/ipfs-csi/volumes/${id}`, capacityBytes: 5 * 1024 * 1024 })
  const noCtx = volumeSourceOf(id, {}, GiB)
  t.is(noCtx.kind === 'writable' ? noCtx.capacityBytes : 0, GiB)
})

test('bad input is INVALID_ARGUMENT', (t) => {
  const bad: Array<[string, Record<string, string>]> = [
    ['', {}],
    [`${CID1}/../etc`, {}],
    [`/ipfs/${CID1}/a/../../b`, {}],
    [`${CID1},ro`, {}],
    ['bafybeinvalidcid', {}],
    ['/etc/passwd', {}],
    ['name-without-content', {}],
    ['x', { [CTX.cid]: 'not-a-cid' }],
    ['x', { [CTX.cid]: CID1, [CTX.path]: 'a/../b' }],
    ['x', { [CTX.cid]: CID1, [CTX.path]: 'a,b' }],
    ['x', { [CTX.path]: 'only/path' }],
    ['x', { [CTX.kind]: 'block' }],
    ['not-w-id', { [CTX.kind]: 'writable' }],
    [writableVolumeId('w'), { [CTX.kind]: 'writable', [CTX.capacity]: '-1' }],
    [writableVolumeId('w'), { [CTX.kind]: 'writable', [CTX.ephemeral]: 'true' }],
    ['csi-abc', { [CTX.ephemeral]: 'true' }],
    ['x', { [CTX.ipns]: 'not a name' }]
  ]
  for (const [id, ctx] of bad) t.is(code(() => volumeSourceOf(id, ctx, GiB)), Code.INVALID_ARGUMENT, `${id} ${JSON.stringify(ctx)}`)
})

test('checkVolumeId refuses .., commas and odd characters', (t) => {
  t.is(checkVolumeId('csi-0123abc'), 'csi-0123abc')
  t.is(code(() => checkVolumeId(undefined)), Code.INVALID_ARGUMENT)
  t.is(code(() => checkVolumeId('a..b')), Code.INVALID_ARGUMENT)
  t.is(code(() => checkVolumeId('a,b')), Code.INVALID_ARGUMENT)
  t.is(code(() => checkVolumeId('a b')), Code.INVALID_ARGUMENT)
  t.is(code(() => checkVolumeId('x'.repeat(2000))), Code.INVALID_ARGUMENT)
})

test('capabilities: mount only, known access modes', (t) => {
  t.is(checkCapability({ mount: {}, access_mode: { mode: 'MULTI_NODE_READER_ONLY' } }), 'MULTI_NODE_READER_ONLY')
  t.is(checkCapability({ access_type: 'mount', mount: { fs_type: '' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } }), 'SINGLE_NODE_WRITER')
  t.is(code(() => checkCapability(null)), Code.INVALID_ARGUMENT)
  t.is(code(() => checkCapability({ block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } })), Code.INVALID_ARGUMENT)
  t.is(code(() => checkCapability({ access_type: 'block', access_mode: { mode: 'SINGLE_NODE_WRITER' } })), Code.INVALID_ARGUMENT)
  t.is(code(() => checkCapability({ mount: {}, access_mode: { mode: 'UNKNOWN' } })), Code.INVALID_ARGUMENT)
  t.is(code(() => checkCapability({ mount: {} })), Code.INVALID_ARGUMENT)
})
