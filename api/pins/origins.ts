// Which `origins` of a pin request the storage Kubo may dial. Origins come from clients, and a
// dial is a TCP connection from inside the storage tier: without a rule any caller with
// `pins:write` could make it connect to loopback, the cloud metadata service, the API server or
// any port of the cluster network. Only public unicast IP addresses are dialled, plus the CIDRs an
// operator allows (`--origins-allow`, e.g. the pod network so in-cluster Kubos can be origins).
// DNS names are never dialled (a name can resolve to any address when Kubo dials it), nor relays.
// A refused origin is skipped, not an error: origins are hints, and Kubo's own client sends its
// loopback and LAN addresses among them.
import { BlockList, isIPv4, isIPv6 } from 'node:net'
import { invalid } from '../../driver/errors.js'
import type { Kubo } from '../../driver/kubo.js'

/** Special-purpose ranges (IANA registries): never dialled unless allowed. */
const SPECIAL_V4 = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4]
] as const
const SPECIAL_V6 = [
  ['::', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 32], ['2001:db8::', 32],
  ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8]
] as const

const SPECIAL = new BlockList()
for (const [a, p] of SPECIAL_V4) SPECIAL.addSubnet(a, p, 'ipv4')
for (const [a, p] of SPECIAL_V6) SPECIAL.addSubnet(a, p, 'ipv6')

/** Parses `--origins-allow` CIDRs (a.b.c.d/n or v6/n); throws with every bad entry named. */
export function parseCidrs (list: string[]): Array<{ address: string, prefix: number, family: 'ipv4' | 'ipv6' }> {
  const bad: string[] = []
  const out: Array<{ address: string, prefix: number, family: 'ipv4' | 'ipv6' }> = []
  for (const c of list) {
    const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(c)
    const address = m?.[1] ?? ''
    const prefix = Number(m?.[2])
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined
    if (m === null || family === undefined || prefix > (family === 'ipv4' ? 32 : 128)) { bad.push(c); continue }
    out.push({ address, prefix, family })
  }
  if (bad.length > 0) throw invalid(`not a CIDR: ${bad.map(b => JSON.stringify(b.slice(0, 64))).join(', ')}`)
  return out
}

export class OriginPolicy {
  private readonly allowed = new BlockList()

  constructor (allow: string[] = []) {
    for (const c of parseCidrs(allow)) this.allowed.addSubnet(c.address, c.prefix, c.family)
  }

  /**
   * Whether Kubo may dial this origin (already checked to be a multiaddr ending in /p2p/<id>):
   * `/p2p/<id>` alone (found through routing), or `/ip4|ip6/<addr>/tcp|udp/<port>/...` with an
   * address that is public or allowed. Relays (`p2p-circuit`), DNS names and zones are refused.
   */
  dialable (origin: string): boolean {
    const parts = origin.split('/').slice(1)
    if (parts[0] === 'p2p') return parts.length === 2
    if (parts.includes('p2p-circuit')) return false
    const [proto, addr, transport, port] = parts
    if (proto !== 'ip4' && proto !== 'ip6') return false
    if (addr === undefined || (proto === 'ip4' ? !isIPv4(addr) : !isIPv6(addr))) return false
    if (transport !== 'tcp' && transport !== 'udp') return false
    if (!/^\d{1,5}$/.test(port ?? '') || Number(port) < 1 || Number(port) > 65535) return false
    const family = proto === 'ip4' ? 'ipv4' : 'ipv6'
    if (this.allowed.check(addr, family)) return true
    return !SPECIAL.check(addr, family)
  }
}

const ORIGIN_DIAL_MS = 5_000

/** Dials the origins Kubo may dial (best effort, as the spec asks of a delegate); the rest are skipped. */
export async function dialOrigins (kubo: Kubo, policy: OriginPolicy, origins: string[], signal: AbortSignal): Promise<void> {
  await Promise.all(origins.filter(o => policy.dialable(o)).map(async (o) => await kubo.post('swarm/connect', { arg: o }, signal, ORIGIN_DIAL_MS).catch(() => {})))
}
