import test from 'ava'
import { parseVolumeParams, ownParameters, sameParameters } from '../../controller/volume-params.js'
import { firstUnsupported, requireSupported, unsupportedReason } from '../../controller/access-modes.js'
import * as protoLoader from '@grpc/proto-loader'
import { CONTROLLER_CAPABILITIES } from '../../controller/capabilities.js'
import { PROTO_OPTIONS, protoPath } from '../../driver/csi-proto.js'
import { Code, type CsiError } from '../../driver/errors.js'

const CID1 = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
const codeOf = (fn: () => unknown): number | undefined => { try { fn(); return undefined } catch (err) { return (err as CsiError).code } }
const cap = (mode: string, block = false): Record<string, unknown> => block ? { block: {}, access_type: 'block', access_mode: { mode } } : { mount: { fs_type: '', mount_flags: [] }, access_type: 'mount', access_mode: { mode } }

test('no parameters → writable; cid or ipns → content; kind overrides', (t) => {
  t.is(parseVolumeParams({}).kind, 'writable')
  t.is(parseVolumeParams(undefined).kind, 'writable')
  const c = parseVolumeParams({ cid: CID1, path: 'a/b' })
  t.is(c.kind, 'content')
  t.is(c.cid?.toString(), CID1)
  t.deepEqual(c.path, ['a', 'b'])
  t.is(parseVolumeParams({ ipns: 'docs.ipfs.tech' }).ipns, '/ipns/docs.ipfs.tech')
  t.is(parseVolumeParams({ cid: CID1, kind: 'writable' }).kind, 'writable')
})

test('provisioner parameters are ignored and not stored', (t) => {
  const p = parseVolumeParams({ cid: CID1, 'csi.storage.k8s.io/pvc/name': 'x', 'csi.storage.k8s.io/pv/name': 'pv-1' })
  t.deepEqual(p.stored, { cid: CID1 })
  t.deepEqual(ownParameters({ a: '1', 'csi.storage.k8s.io/fstype': 'ext4' }), { a: '1' })
})

test('bad parameters are INVALID_ARGUMENT', (t) => {
  const bads: Array<Record<string, string>> = [
    { cid: 'not-a-cid' }, { cid: CID1, path: '../etc' }, { cid: CID1, path: 'a/../b' }, { cid: CID1, path: 'a,b' },
    { cid: CID1, ipns: 'docs.ipfs.tech' }, { path: 'a' }, { foo: 'bar' }, { kind: 'rw' }, { ipns: 'not a name' }, { cid: '' }
  ]
  for (const bad of bads) t.is(codeOf(() => parseVolumeParams(bad)), Code.INVALID_ARGUMENT, JSON.stringify(bad))
})

test('sameParameters ignores key order', (t) => {
  t.true(sameParameters({ a: '1', b: '2' }, { b: '2', a: '1' }))
  t.false(sameParameters({ a: '1' }, { a: '1', b: '2' }))
  t.false(sameParameters({ a: '1' }, { a: '2' }))
})

test('content volumes take reader modes only; writable take single-node modes; block never', (t) => {
  t.is(unsupportedReason(cap('MULTI_NODE_READER_ONLY'), 'content'), undefined)
  t.is(unsupportedReason(cap('SINGLE_NODE_READER_ONLY'), 'content'), undefined)
  t.regex(unsupportedReason(cap('SINGLE_NODE_WRITER'), 'content') ?? '', /read-only/)
  for (const m of ['SINGLE_NODE_WRITER', 'SINGLE_NODE_SINGLE_WRITER', 'SINGLE_NODE_MULTI_WRITER', 'SINGLE_NODE_READER_ONLY']) t.is(unsupportedReason(cap(m), 'writable'), undefined, m)
  t.truthy(unsupportedReason(cap('MULTI_NODE_MULTI_WRITER'), 'writable'))
  t.regex(unsupportedReason(cap('MULTI_NODE_READER_ONLY', true), 'content') ?? '', /block/)
  t.truthy(unsupportedReason({ access_mode: { mode: 'SINGLE_NODE_WRITER' } }, 'writable'))
  t.truthy(unsupportedReason(cap('UNKNOWN'), 'writable'))
  t.is(unsupportedReason({ mount: {}, access_mode: { mode: 1 } }, 'writable'), undefined) // numeric enum
  t.is(codeOf(() => requireSupported([], 'writable')), Code.INVALID_ARGUMENT)
  t.is(codeOf(() => requireSupported([cap('SINGLE_NODE_WRITER')], 'content')), Code.INVALID_ARGUMENT)
  t.is(firstUnsupported([cap('SINGLE_NODE_READER_ONLY'), cap('SINGLE_NODE_WRITER', true)], 'writable'), 'block access type is not supported (mount only)')
})

test('every advertised controller capability is a ControllerServiceCapability.RPC.Type of csi.proto, once', (t) => {
  interface Desc { name: string, nestedType?: Desc[], enumType?: Array<{ name: string, value: Array<{ name: string }> }> }
  const cap = (protoLoader.loadSync(protoPath(), PROTO_OPTIONS)['csi.v1.ControllerServiceCapability'] as unknown as { type: Desc }).type
  const values = cap.nestedType?.find(n => n.name === 'RPC')?.enumType?.find(e => e.name === 'Type')?.value ?? []
  const known = new Set(values.map(v => v.name))
  t.true(known.size > 5, 'the enum was found in csi.proto')
  for (const c of CONTROLLER_CAPABILITIES) t.true(known.has(c), `${c} is not in csi.proto`)
  t.is(new Set(CONTROLLER_CAPABILITIES).size, CONTROLLER_CAPABILITIES.length)
  t.false((CONTROLLER_CAPABILITIES as readonly string[]).includes('UNKNOWN'))
})
