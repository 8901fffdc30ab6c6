import test from 'ava'
import { validateSpec } from '../../node-plugin/fuse/fuse-server.js'

const base = { version: 1, volumeId: 'v', mountpoint: '/m', kuboApi: 'http://127.0.0.1:5001', mode: 'content', rootCid: 'bafy', readOnly: true, readTimeoutMs: 1000, kuboTimeoutMs: 1000, blockCacheBytes: 0, readAheadBlocks: 0, logLevel: 'info' }

test('a spec heap limit and log bound inside their ranges are accepted', (t) => {
  t.is(validateSpec({ ...base, maxHeapMiB: 256, logMaxBytes: 1 << 20 }).maxHeapMiB, 256)
})

test('a spec heap limit or log bound out of range, or not an integer, is refused with each problem named', (t) => {
  for (const bad of [{ maxHeapMiB: 8 }, { maxHeapMiB: 1e9 }, { maxHeapMiB: 100.5 }, { maxHeapMiB: '256' }]) {
    t.throws(() => validateSpec({ ...base, ...bad }), { message: /maxHeapMiB must be an integer/ }, JSON.stringify(bad))
  }
  t.throws(() => validateSpec({ ...base, logMaxBytes: 100 }), { message: /logMaxBytes must be an integer/ })
})
