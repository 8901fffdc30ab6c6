// Pure logic of the IPFS Cluster integration: parameter validation, anchors, status counting,
// response parsing and the capacity rule. The REST calls themselves are covered by
// test/integration/cluster.test.ts against real Cluster peers.
import test from 'ava'
import { CID } from 'multiformats/cid'
import { anchorBlock, ClusterPinner, parseClusterParams, pinnedPeers } from '../../controller/cluster-pinner.js'
import { parseJsonLines, type ClusterClient, type Metric } from '../../driver/cluster-client.js'
import { formatContentLs, type ContentEntry } from '../../controller/content-command.js'
import { Code, CsiError } from '../../driver/errors.js'
import type { Kubo } from '../../driver/kubo.js'
import type { Logger } from '../../driver/logger.js'

const CONTENT = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')

test('cluster parameters: valid ones parsed, a lone min means exactly min copies', (t) => {
  t.deepEqual(parseClusterParams({}), {})
  t.deepEqual(parseClusterParams({ replicationMin: '2', replicationMax: '3', expireIn: '720h', model: 'org/llama-3:8b' }), { replicationMin: 2, replicationMax: 3, expireIn: '720h', model: 'org/llama-3:8b' })
  t.deepEqual(parseClusterParams({ replicationMin: '2' }), { replicationMin: 2, replicationMax: 2 })
  t.deepEqual(parseClusterParams({ replicationMax: '4' }), { replicationMax: 4 })
})

test('cluster parameters: bad values are INVALID_ARGUMENT', (t) => {
  for (const p of [{ replicationMin: '0' }, { replicationMin: '-1' }, { replicationMin: 'two' }, { replicationMin: '3', replicationMax: '2' }, { expireIn: 'tomorrow' }, { expireIn: '10d' }, { model: 'bad model' }, { model: '' }]) {
    const err = t.throws(() => parseClusterParams(p as unknown as Record<string, string>), undefined, JSON.stringify(p))
    t.is((err as CsiError).code, Code.INVALID_ARGUMENT, JSON.stringify(p))
  }
})

test('anchor blocks: one per (id, content), stable across calls', async (t) => {
  const a = await anchorBlock('c-0123456789abcdef01234567', CONTENT)
  const b = await anchorBlock('c-0123456789abcdef01234567', CONTENT)
  const c = await anchorBlock('c-ffffffffffffffffffffffff', CONTENT)
  t.true(a.cid.equals(b.cid))
  t.false(a.cid.equals(c.cid))
  t.false(a.cid.equals(CONTENT))
  t.is(a.cid.code, 0x71) // dag-cbor: links the content, so a recursive pin takes all of it
})

test('pinned peers: only status "pinned" counts', (t) => {
  t.deepEqual(pinnedPeers(undefined), [])
  t.deepEqual(pinnedPeers({ cid: 'x', peer_map: { a: { status: 'pinned' }, b: { status: 'pinning' }, c: { status: 'pin_error' }, d: { status: 'pinned' } } }), ['a', 'd'])
})

test('REST list bodies: one object per line, a JSON array, or one object', (t) => {
  t.deepEqual(parseJsonLines(''), [])
  t.deepEqual(parseJsonLines('{"a":1}\n{"a":2}\n'), [{ a: 1 }, { a: 2 }])
  t.deepEqual(parseJsonLines('[{"a":1}]'), [{ a: 1 }])
  t.deepEqual(parseJsonLines('{"a":1}'), [{ a: 1 }])
})

test('capacity: the replicas-th largest free space; all peers when unset; 0 when not enough peers', async (t) => {
  const metrics: Metric[] = [
    { name: 'freespace', peer: 'a', value: '100' },
    { name: 'freespace', peer: 'b', value: '300' },
    { name: 'freespace', peer: 'c', value: '200' },
    { name: 'freespace', peer: 'd', value: '999', valid: false }
  ]
  const client = { metrics: async () => metrics } as unknown as ClusterClient
  const pinner = new ClusterPinner(client, {} as Kubo, {} as Logger)
  const s = AbortSignal.timeout(1000)
  t.is(await pinner.availableCapacity(1, s), 300)
  t.is(await pinner.availableCapacity(2, s), 200)
  t.is(await pinner.availableCapacity(3, s), 100)
  t.is(await pinner.availableCapacity(undefined, s), 100)
  t.is(await pinner.availableCapacity(4, s), 0)
})

test('content ls text: kind, name, content, per-peer status, node holds, unfinished creates flagged', (t) => {
  const entries: ContentEntry[] = [{
    kind: 'volume',
    name: 'ipfs-csi/volume/c-0123456789abcdef01234567',
    id: 'c-0123456789abcdef01234567',
    content: CONTENT.toString(),
    sizeBytes: 3 * 1024 * 1024,
    record: false,
    cluster: { pin: 'bafyanchor', replicationMin: 2, replicationMax: 2, pinnedPeers: 1, metadata: {}, peers: [{ peer: 'p1', peername: 'storage-0', status: 'pinned' }, { peer: 'p2', peername: 'storage-1', status: 'pinning' }] },
    nodes: [{ kuboApi: 'http://127.0.0.1:1', pinned: true, pinName: 'ipfs-csi/staged/c-0123456789abcdef01234567' }, { kuboApi: 'http://127.0.0.1:2', pinned: false, unreachable: true }]
  }]
  const text = formatContentLs(entries)
  t.regex(text, /^volume +ipfs-csi\/volume\/c-0123456789abcdef01234567 +\(no record: create not finished\)/)
  t.regex(text, /size 3\.0 MiB/)
  t.regex(text, /cluster 1 pinned \(min 2, max 2\)/)
  t.regex(text, /storage-0 +pinned/)
  t.regex(text, /storage-1 +pinning/)
  t.regex(text, /127\.0\.0\.1:1 holds it \(ipfs-csi\/staged\//)
  t.regex(text, /127\.0\.0\.1:2 unreachable/)
  t.is(formatContentLs([]), 'nothing held for ipfs-csi\n')
})
