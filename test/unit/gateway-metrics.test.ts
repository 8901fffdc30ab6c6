// The gateway exporter's parsers: nginx's access-log line for metrics (log_format gw_metrics of
// nginx-gateway.conf.template, as nginx sends it over syslog) and the stub_status page.
import test from 'ava'
import { readFile } from 'node:fs/promises'
import { parseGatewayLogLine, parseStubStatus } from '../../gateway/nginx-status.js'
import { NGINX_TEMPLATE } from '../helpers/gateway-nginx.js'

test('a syslog line from nginx gives status, seconds, bytes and cache outcome', (t) => {
  t.deepEqual(parseGatewayLogLine('<190>Dec  6 02:50:06 ipfs_gateway: gw1 502 0.013 664 MISS'), { code: '502', seconds: 0.013, bytes: 664, cache: 'MISS' })
  t.deepEqual(parseGatewayLogLine('<190>Dec  6 02:50:06 ipfs_gateway: gw1 429 0.000 380 -'), { code: '429', seconds: 0, bytes: 380, cache: 'none' })
  t.deepEqual(parseGatewayLogLine('gw1 200 12.500 3145728 HIT\n'), { code: '200', seconds: 12.5, bytes: 3145728, cache: 'HIT' })
})

test('anything else is refused: unknown cache states, status codes out of range, other text', (t) => {
  for (const line of ['<190>not a gateway line', 'gw1 200 0.001 10 WEIRD', 'gw1 999 0.001 10 HIT', 'gw1 200 abc 10 HIT', 'gw1 200 0.001 -5 HIT', 'gw2 200 0.001 10 HIT', 'xgw1 200 0.001 10 HIT', '']) {
    t.is(parseGatewayLogLine(line), undefined, line)
  }
})

test('the template\'s log_format is the one the parser reads', async (t) => {
  const tpl = await readFile(NGINX_TEMPLATE, 'utf8')
  t.regex(tpl, /log_format gw_metrics 'gw1 \$status \$request_time \$bytes_sent \$upstream_cache_status';/)
  t.regex(tpl, /access_log syslog:server=\$\{GATEWAY_METRICS_LOG\}[^;]* gw_metrics;/)
  t.regex(tpl, /listen \$\{GATEWAY_STATUS_LISTEN\};[\s\S]*stub_status;/)
})

test('stub_status is parsed; a page that is not one is an error', (t) => {
  t.deepEqual(parseStubStatus('Active connections: 3 \nserver accepts handled requests\n 10 9 31 \nReading: 0 Writing: 1 Waiting: 2 \n'),
    { active: 3, accepted: 10, handled: 9, requests: 31, reading: 0, writing: 1, waiting: 2 })
  t.throws(() => parseStubStatus('<html>404</html>'), { message: /not an nginx stub_status page/ })
})
