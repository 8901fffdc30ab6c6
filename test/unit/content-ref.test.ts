import test from 'ava'
import { parseContentHandle, parseCid, parsePath, parseIpnsName, formatContentRef, looksLikeContentHandle } from '../../driver/content-ref.js'
import { CsiError, Code } from '../../driver/errors.js'

const V0 = 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn'
const V1 = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'

test('accepts CIDv0, CIDv1 and /ipfs/ handles with paths', (t) => {
  t.is(parseContentHandle(V0).cid.version, 0)
  t.is(parseContentHandle(V1).cid.version, 1)
  const r = parseContentHandle(`/ipfs/${V1}/models/llama-3/config.json`)
  t.deepEqual(r.path, ['models', 'llama-3', 'config.json'])
  t.is(formatContentRef(r), `${V1}/models/llama-3/config.json`)
  t.deepEqual(parseContentHandle(`${V1}/a/`).path, ['a'])
  t.true(looksLikeContentHandle(V0))
  t.true(looksLikeContentHandle(`/ipfs/${V1}`))
  t.false(looksLikeContentHandle('w-0123456789abcdef01234567'))
})

const bad = [
  '', 'not-a-cid', `${V1}/../etc`, `${V1}/a/./b`, `${V1}/a,b`, `${V1}/a//b`, `/ipns/${V1}`, `/etc/passwd`,
  `${V1}/x\u0000y`, `${V1}/-o`, `${V1}/a"b`, 'bafy' + 'a'.repeat(600), `${V1},ro`
]
for (const h of bad) {
  test(`refuses handle #${bad.indexOf(h)} ${JSON.stringify(h).slice(0, 24)}…${JSON.stringify(h).slice(-16)}`, (t) => {
    const err = t.throws(() => parseContentHandle(h), { instanceOf: CsiError }) as CsiError
    t.is(err.code, Code.INVALID_ARGUMENT)
  })
}

test('parseCid names what was wrong', (t) => {
  const err = t.throws(() => parseCid('bafyZZZ', 'parameter cid')) as Error
  t.regex(err.message, /parameter cid/)
})

test('paths are split and checked', (t) => {
  t.deepEqual(parsePath(undefined), [])
  t.deepEqual(parsePath('/'), [])
  t.deepEqual(parsePath('a/b c/d.bin'), ['a', 'b c', 'd.bin'])
  t.throws(() => parsePath('a/..'))
  t.throws(() => parsePath('a;rm -rf'))
})

test('ipns names: keys and DNSLink domains', (t) => {
  t.is(parseIpnsName('k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8'), '/ipns/k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8')
  t.is(parseIpnsName('/ipns/Docs.IPFS.tech'), '/ipns/docs.ipfs.tech')
  t.throws(() => parseIpnsName('not a name'))
  t.throws(() => parseIpnsName('example..com'))
  t.throws(() => parseIpnsName(''))
})
