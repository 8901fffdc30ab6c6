// What the gateway's nginx tells the exporter, parsed: one access-log line per request (sent
// over syslog, log_format gw_metrics in deploy/base/gateway/nginx-gateway.conf.template) and the
// stub_status page (connections). Pure functions: the exporter (nginx-exporter.ts) counts them.

/** The cache outcomes nginx reports in $upstream_cache_status ("-" when no cache was asked). */
export const CACHE_STATES = ['HIT', 'MISS', 'BYPASS', 'EXPIRED', 'STALE', 'UPDATING', 'REVALIDATED', 'none'] as const
export type CacheState = typeof CACHE_STATES[number]

export interface GatewayRequest {
  /** HTTP status as a label value: three digits, 100-599. */
  code: string
  seconds: number
  bytes: number
  cache: CacheState
}

// "gw1 <status> <request_time> <bytes_sent> <upstream_cache_status>" at the end of the syslog
// message (after the priority, date and tag nginx puts in front).
const LINE = /(?:^|\s)gw1 ([1-5][0-9]{2}) (\d{1,9}\.\d{3}) (\d{1,18}) (\S+)\s*$/

/** One request from a log line, or undefined when the line is not ours or malformed. */
export function parseGatewayLogLine (line: string): GatewayRequest | undefined {
  const m = LINE.exec(line)
  if (m === null) return undefined
  const raw = m[4] as string
  const cache = raw === '-' ? 'none' : (CACHE_STATES as readonly string[]).includes(raw) ? raw as CacheState : undefined
  if (cache === undefined) return undefined
  const bytes = Number(m[3])
  if (!Number.isSafeInteger(bytes)) return undefined
  return { code: m[1] as string, seconds: Number(m[2]), bytes, cache }
}

export interface StubStatus {
  active: number
  accepted: number
  handled: number
  requests: number
  reading: number
  writing: number
  waiting: number
}

/**
 * nginx's stub_status page:
 *   Active connections: 2
 *   server accepts handled requests
 *    10 10 31
 *   Reading: 0 Writing: 1 Waiting: 1
 */
export function parseStubStatus (text: string): StubStatus {
  const active = /Active connections:\s*(\d+)/.exec(text)
  const totals = /server accepts handled requests\s+(\d+)\s+(\d+)\s+(\d+)/.exec(text)
  const rw = /Reading:\s*(\d+)\s+Writing:\s*(\d+)\s+Waiting:\s*(\d+)/.exec(text)
  if (active === null || totals === null || rw === null) throw new Error('not an nginx stub_status page')
  return {
    active: Number(active[1]),
    accepted: Number(totals[1]),
    handled: Number(totals[2]),
    requests: Number(totals[3]),
    reading: Number(rw[1]),
    writing: Number(rw[2]),
    waiting: Number(rw[3])
  }
}
