import test from 'ava'
import { bucketIndex, bucketPrefix, hamtHash, murmur3x64128, prefixWidth } from '../../content/hamt.js'

const hex = (n: bigint): string => n.toString(16).padStart(16, '0')
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

test('murmur3 x64 128 matches the reference vectors (seed 0)', (t) => {
  t.deepEqual(murmur3x64128(enc('')).map(hex), ['0000000000000000', '0000000000000000'])
  t.deepEqual(murmur3x64128(enc('hello')).map(hex), ['cbd8a7b341bd9b02', '5b1e906a48ae1d19'])
  // 44 bytes: two full 16-byte blocks and a 12-byte tail (both tail words used).
  t.deepEqual(murmur3x64128(enc('I will not buy this record, it is scratched.')).map(hex), ['c382657f9a06c49d', '4a71fdc6d9b0d48f'])
})

test('hamtHash is h1 big-endian and bucket bits are taken most significant first', (t) => {
  const h = hamtHash(enc('hello'))
  t.is(Buffer.from(h).toString('hex'), 'cbd8a7b341bd9b02')
  t.is(bucketIndex(h, 0, 256), 0xcb)
  t.is(bucketIndex(h, 1, 256), 0xd8)
  t.is(bucketIndex(h, 7, 256), 0x02)
  t.is(bucketIndex(h, 8, 256), undefined)
  t.is(bucketIndex(h, 0, 16), 0xc)
  t.is(bucketIndex(h, 1, 16), 0xb)
  t.is(bucketIndex(h, 0, 2), 1)
})

test('bucket prefixes are upper-case hex padded to the width of fanout-1', (t) => {
  t.is(bucketPrefix(0x0a, 256), '0A')
  t.is(bucketPrefix(0xff, 256), 'FF')
  t.is(bucketPrefix(3, 16), '3')
  t.is(bucketPrefix(5, 1024), '005')
  t.is(prefixWidth(256), 2)
})
