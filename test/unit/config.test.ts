import test from 'ava'
import { parseServeConfig, ConfigError } from '../../driver/config.js'
import { DEFAULTS } from '../../driver/constants.js'

test('defaults apply and flags override', (t) => {
  const c = parseServeConfig(['--node-id', 'n1', '--endpoint', 'unix:///tmp/x.sock'], {})
  t.is(c.mode, 'all')
  t.is(c.socketPath, '/tmp/x.sock')
  t.is(c.kuboApi, DEFAULTS.kuboApi)
  t.is(c.kubeletDir, DEFAULTS.kubeletDir)
  t.is(c.readTimeoutMs, DEFAULTS.readTimeoutMs)
})

test('environment variables fill unset flags, flags win', (t) => {
  const env = { IPFS_CSI_KUBO_API: 'http://10.0.0.1:5001/', IPFS_CSI_NODE_ID: 'from-env', IPFS_CSI_MODE: 'node' }
  const c = parseServeConfig(['--mode', 'controller'], env)
  t.is(c.kuboApi, 'http://10.0.0.1:5001')
  t.is(c.nodeId, 'from-env')
  t.is(c.mode, 'controller')
})

test('every problem is reported at once', (t) => {
  const err = t.throws(() => parseServeConfig(['--mode', 'bogus', '--endpoint', 'tcp://x', '--kubo-api', 'ftp://x', '--read-timeout-ms', 'soon', '--state-dir', 'rel'], {}), { instanceOf: ConfigError }) as ConfigError
  t.true(err.problems.length >= 5, err.message)
  t.regex(err.message, /--mode/)
  t.regex(err.message, /--endpoint/)
  t.regex(err.message, /--kubo-api/)
  t.regex(err.message, /--read-timeout-ms/)
  t.regex(err.message, /--state-dir/)
})

test('node mode needs a node id', (t) => {
  const err = t.throws(() => parseServeConfig(['--mode', 'node'], {}), { instanceOf: ConfigError }) as ConfigError
  t.regex(err.message, /node-id/)
  t.notThrows(() => parseServeConfig(['--mode', 'controller'], {}))
})

test('unknown flags are refused', (t) => {
  t.throws(() => parseServeConfig(['--no-such-flag', 'x'], {}), { instanceOf: ConfigError })
})
