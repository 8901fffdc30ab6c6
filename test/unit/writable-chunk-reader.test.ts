import test from 'ava'
import { randomBytes } from 'node:crypto'
import { CHUNK, ChunkReader } from '../../node-plugin/fuse/writable/chunk-reader.js'

function source (data: Uint8Array): { fetch: (start: number, count: number) => Promise<Uint8Array>, calls: Array<[number, number]> } {
  const calls: Array<[number, number]> = []
  return {
    calls,
    fetch: async (start, count) => {
      calls.push([start, count])
      await new Promise(resolve => setTimeout(resolve, 2))
      return data.subarray(start, start + count)
    }
  }
}

test('any range, across chunk boundaries and at EOF, reads the right bytes', async (t) => {
  const data = randomBytes(3 * CHUNK + 1234)
  const r = new ChunkReader()
  const s = source(data)
  for (const [pos, len] of [[0, 10], [CHUNK - 5, 10], [CHUNK * 2 - 100, CHUNK + 200], [data.length - 7, 128 * 1024], [5, 3 * CHUNK + 1000]]) {
    const got = await r.read('cidA', pos as number, len as number, data.length, s.fetch)
    t.deepEqual(Buffer.from(got), data.subarray(pos as number, Math.min((pos as number) + (len as number), data.length)), `${pos}+${len}`)
  }
  t.deepEqual(await r.read('cidA', data.length, 10, data.length, s.fetch), new Uint8Array(0))
  t.true(s.calls.every(([start, count]) => start % CHUNK === 0 && count <= CHUNK), 'aligned 1 MiB fetches')
})

test('concurrent reads of one chunk share one fetch; chunks are keyed by CID', async (t) => {
  const a = randomBytes(CHUNK)
  const b = randomBytes(CHUNK)
  const r = new ChunkReader()
  const sa = source(a)
  const sb = source(b)
  const reads = await Promise.all([0, 4096, 8192, 65536].map(async (pos) => await r.read('A', pos, 4096, a.length, sa.fetch)))
  t.is(sa.calls.length, 1)
  t.deepEqual(Buffer.from(reads[3] as Uint8Array), a.subarray(65536, 65536 + 4096))
  t.deepEqual(Buffer.from(await r.read('B', 0, 16, b.length, sb.fetch)), b.subarray(0, 16), 'another CID is another file')
})

test('sequential reading fetches ahead', async (t) => {
  const data = randomBytes(6 * CHUNK)
  const r = new ChunkReader()
  const s = source(data)
  await r.read('S', 0, 128 * 1024, data.length, s.fetch)
  await r.read('S', CHUNK, 128 * 1024, data.length, s.fetch)
  await new Promise(resolve => setTimeout(resolve, 20))
  t.true(s.calls.some(([start]) => start === 2 * CHUNK), 'chunk 2 requested ahead of time')
  const before = s.calls.length
  const got = await r.read('S', 2 * CHUNK + 5, 100, data.length, s.fetch)
  t.deepEqual(Buffer.from(got), data.subarray(2 * CHUNK + 5, 2 * CHUNK + 105))
  t.is(s.calls.filter(([start]) => start === 2 * CHUNK).length, 1, 'served from the read-ahead')
  // Still sequential: the window moves on by one chunk (3 went out with the read of 1), and each chunk is fetched once.
  t.deepEqual(s.calls.slice(before).map(([start]) => start), [4 * CHUNK])
  t.is(s.calls.filter(([start]) => start === 3 * CHUNK).length, 1)
})

test('a failed fetch is not cached', async (t) => {
  const r = new ChunkReader()
  let n = 0
  const flaky = async (start: number, count: number): Promise<Uint8Array> => {
    if (n++ === 0) throw new Error('kubo down')
    return new Uint8Array(count).fill(7)
  }
  await t.throwsAsync(r.read('F', 0, 10, 100, flaky), { message: 'kubo down' })
  t.deepEqual(Array.from(await r.read('F', 0, 3, 100, flaky)), [7, 7, 7])
})
