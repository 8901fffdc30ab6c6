// Which pin-request origins the storage Kubo may dial (public unicast only, plus --origins-allow
// CIDRs; never DNS names or relays), and PinStatus.delegates never being empty.
import test from 'ava'
import { OriginPolicy, dialOrigins } from '../../api/pins/origins.js'
import { delegatesOf } from '../../api/pins/pin-service.js'
import { parseApiConfig } from '../../api/config.js'
import { ConfigError } from '../../driver/config.js'
import { Code, CsiError } from '../../driver/errors.js'
import type { Kubo } from '../../driver/kubo.js'

const ID = '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf'
const at = (addr: string): string => `${addr}/p2p/${ID}`

test('origins: public unicast addresses are dialled; private, loopback, link-local and other special ranges are not', (t) => {
  const p = new OriginPolicy()
  for (const ok of ['/ip4/1.2.3.4/tcp/4001', '/ip4/8.8.8.8/udp/4001/quic-v1', '/ip6/2606:4700::1111/tcp/4001', '/ip6/::ffff:1.2.3.4/tcp/1']) t.true(p.dialable(at(ok)), ok)
  t.true(p.dialable(`/p2p/${ID}`), 'a bare peer id (found through routing)')
  const refused = [
    '/ip4/127.0.0.1/tcp/4001', '/ip4/127.8.9.1/tcp/5001', '/ip4/10.0.0.1/tcp/443', '/ip4/172.16.3.4/tcp/4001', '/ip4/172.31.255.255/tcp/1',
    '/ip4/192.168.1.1/tcp/4001', '/ip4/169.254.169.254/tcp/80', '/ip4/100.64.0.1/tcp/1', '/ip4/0.0.0.0/tcp/4001', '/ip4/198.18.0.1/tcp/4001',
    '/ip4/224.0.0.1/udp/5353', '/ip4/255.255.255.255/udp/1', '/ip6/::1/tcp/4001', '/ip6/::/tcp/1', '/ip6/fe80::1/tcp/4001', '/ip6/fd00::1/tcp/4001',
    '/ip6/::ffff:127.0.0.1/tcp/4001', '/ip6/::ffff:a9fe:a9fe/tcp/80', '/ip6/64:ff9b::a9fe:a9fe/tcp/80', '/ip6/2002:7f00:1::/tcp/1', '/ip6/ff02::1/udp/1'
  ]
  for (const bad of refused) t.false(p.dialable(at(bad)), bad)
})

test('origins: DNS names, relays, zones, non-IP transports and bad ports are never dialled', (t) => {
  const p = new OriginPolicy(['0.0.0.0/0', '::/0'])
  for (const bad of [
    '/dns4/example.org/tcp/4001', '/dns/localhost/tcp/4001', '/dnsaddr/bootstrap.example.org', '/ip6zone/eth0/ip6/fe80::1/tcp/1',
    `/ip4/1.2.3.4/tcp/4001/p2p/${ID}/p2p-circuit`, '/ip4/1.2.3.4/sctp/1', '/ip4/1.2.3.4/tcp/0', '/ip4/1.2.3.4/tcp/65536', '/ip4/1.2.3.4',
    '/ip4/999.1.1.1/tcp/1', '/ip6/1.2.3.4/tcp/1', '/unix/tmp/sock'
  ]) t.false(p.dialable(at(bad)), bad)
})

test('origins: --origins-allow lets chosen special ranges be dialled, and only those', (t) => {
  const p = new OriginPolicy(['10.244.0.0/16', '127.0.0.0/8', 'fd00:10::/64'])
  t.true(p.dialable(at('/ip4/10.244.3.7/tcp/4001')))
  t.true(p.dialable(at('/ip4/127.0.0.1/tcp/4001')))
  t.true(p.dialable(at('/ip6/fd00:10::7/tcp/4001')))
  t.false(p.dialable(at('/ip4/10.0.0.1/tcp/443')), 'outside the allowed /16')
  t.false(p.dialable(at('/ip4/169.254.169.254/tcp/80')))
  t.false(p.dialable(at('/ip6/fd00:11::7/tcp/4001')))
})

test('origins: dialOrigins asks Kubo to connect only to the dialable ones', async (t) => {
  const dialled: string[] = []
  const kubo = { post: async (cmd: string, args: { arg: string }) => { t.is(cmd, 'swarm/connect'); dialled.push(args.arg); return {} } } as unknown as Kubo
  const origins = [at('/ip4/127.0.0.1/tcp/4001'), at('/ip4/1.2.3.4/tcp/4001'), at('/ip4/169.254.169.254/tcp/80'), at('/dns4/evil.example/tcp/1')]
  await dialOrigins(kubo, new OriginPolicy(), origins, AbortSignal.timeout(5000))
  t.deepEqual(dialled, [at('/ip4/1.2.3.4/tcp/4001')])
})

test('--origins-allow: CIDRs are validated with the other problems; IPFS_CSI_ORIGINS_ALLOW works', (t) => {
  const base = ['--oidc-issuer', 'https://k8s', '--audience', 'api', '--oidc-jwks-file', '/etc/jwks.json']
  t.deepEqual(parseApiConfig(base, { IPFS_CSI_ORIGINS_ALLOW: '10.244.0.0/16, fd00::/8' }).originsAllow, ['10.244.0.0/16', 'fd00::/8'])
  t.deepEqual(parseApiConfig(base, {}).originsAllow, [])
  const err = t.throws(() => parseApiConfig([...base, '--origins-allow', '10.0.0.0/33,nope,1.2.3.4/8', '--listen', 'x'], {}), { instanceOf: ConfigError }) as ConfigError
  const text = err.problems.join('\n')
  t.true(text.includes('--origins-allow'), text)
  t.true(text.includes('"10.0.0.0/33"') && text.includes('"nope"'), text)
  t.true(text.includes('--listen'), 'reported together with the other problems')
})

test('delegates: the Kubo\'s own addresses; never empty (the spec\'s minItems 1): /p2p/<id> when it announces none', (t) => {
  t.deepEqual(delegatesOf({ ID, Addresses: [at('/ip4/1.2.3.4/tcp/4001'), at('/ip4/1.2.3.4/tcp/4001'), '/ip4/5.6.7.8/tcp/1/p2p/12D3KooWOther1111111111111111111111111111111111111'] }), [at('/ip4/1.2.3.4/tcp/4001')])
  t.deepEqual(delegatesOf({ ID, Addresses: [] }), [`/p2p/${ID}`])
  t.deepEqual(delegatesOf({ ID, Addresses: null }), [`/p2p/${ID}`])
  t.deepEqual(delegatesOf({ ID }), [`/p2p/${ID}`])
  t.is(delegatesOf({ ID, Addresses: Array.from({ length: 30 }, (_, i) => at(`/ip4/1.2.3.${i}/tcp/4001`)) }).length, 20)
  t.is((t.throws(() => delegatesOf({ ID: 'not a peer id', Addresses: [] })) as CsiError).code, Code.UNAVAILABLE)
})
