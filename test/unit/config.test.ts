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

test('--kubo-blocks-dir must be an absolute flatfs directory; a valid one is kept', async (t) => {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const path = await import('node:path')
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-blocks-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const base = ['--node-id', 'n1']
  const relative = t.throws(() => parseServeConfig([...base, '--kubo-blocks-dir', 'blocks'], {}), { instanceOf: ConfigError }) as ConfigError
  t.true(relative.problems.some(p => /kubo-blocks-dir must be an absolute path/.test(p)))
  const notFlatfs = t.throws(() => parseServeConfig([...base], { IPFS_CSI_KUBO_BLOCKS_DIR: dir }), { instanceOf: ConfigError }) as ConfigError
  t.true(notFlatfs.problems.some(p => /not a Kubo flatfs blocks directory/.test(p)))
  await writeFile(path.join(dir, 'SHARDING'), '/repo/flatfs/shard/v1/next-to-last/2\n')
  t.is(parseServeConfig([...base, '--kubo-blocks-dir', dir], {}).kuboBlocksDir, dir)
  t.is(parseServeConfig(base, {}).kuboBlocksDir, undefined)
})

test('--fuse-max-heap-mib and --max-volumes-per-node: defaults, values, and out-of-range values reported', (t) => {
  const d = parseServeConfig(['--node-id', 'n1'], {})
  t.is(d.fuseMaxHeapMiB, DEFAULTS.fuseMaxHeapMiB)
  t.is(d.maxVolumesPerNode, 0)
  const c = parseServeConfig(['--node-id', 'n1', '--fuse-max-heap-mib', '256', '--max-volumes-per-node', '40'], {})
  t.is(c.fuseMaxHeapMiB, 256)
  t.is(c.maxVolumesPerNode, 40)
  const err = t.throws(() => parseServeConfig(['--node-id', 'n1', '--fuse-max-heap-mib', '8', '--max-volumes-per-node=-1'], {}), { instanceOf: ConfigError }) as ConfigError
  t.regex(err.message, /--fuse-max-heap-mib/)
  t.regex(err.message, /--max-volumes-per-node/)
  t.throws(() => parseServeConfig(['--node-id', 'n1', '--fuse-max-heap-mib', '1e9'], {}), { instanceOf: ConfigError })
})

test('--spill-*: defaults (half the node budget per volume), values, and every bad one reported', (t) => {
  const d = parseServeConfig(['--node-id', 'n1'], {})
  t.is(d.spillDir, undefined)
  t.is(d.spillMaxBytes, DEFAULTS.spillMaxBytes)
  t.is(d.spillVolumeMaxBytes, DEFAULTS.spillMaxBytes / 2)
  const c = parseServeConfig(['--node-id', 'n1', '--spill-dir', '/var/lib/spill/', '--spill-max-bytes', String(64 << 20), '--spill-volume-max-bytes', String(16 << 20)], {})
  t.is(c.spillDir, '/var/lib/spill')
  t.is(c.spillMaxBytes, 64 << 20)
  t.is(c.spillVolumeMaxBytes, 16 << 20)
  t.is(parseServeConfig(['--node-id', 'n1'], { IPFS_CSI_SPILL_MAX_BYTES: String(8 << 20) }).spillVolumeMaxBytes, 4 << 20)
  const err = t.throws(() => parseServeConfig(['--node-id', 'n1', '--spill-dir', 'rel', '--spill-max-bytes', '1000', '--spill-volume-max-bytes', 'x'], {}), { instanceOf: ConfigError }) as ConfigError
  t.true(err.problems.some(p => /--spill-dir must be an absolute path/.test(p)))
  t.true(err.problems.some(p => /--spill-max-bytes must be an integer/.test(p)))
  t.true(err.problems.some(p => /--spill-volume-max-bytes must be an integer/.test(p)))
  const over = t.throws(() => parseServeConfig(['--node-id', 'n1', '--spill-max-bytes', String(8 << 20), '--spill-volume-max-bytes', String(9 << 20)], {}), { instanceOf: ConfigError }) as ConfigError
  t.true(over.problems.some(p => /must not exceed --spill-max-bytes/.test(p)))
})

test('--inline-policy-file must be absolute; unset means no policy', (t) => {
  t.is(parseServeConfig(['--node-id', 'n1'], {}).inlinePolicyFile, undefined)
  t.is(parseServeConfig(['--node-id', 'n1', '--inline-policy-file', '/etc/ipfs-csi/inline/policy.yaml'], {}).inlinePolicyFile, '/etc/ipfs-csi/inline/policy.yaml')
  const err = t.throws(() => parseServeConfig(['--node-id', 'n1', '--inline-policy-file', 'policy.yaml'], {}), { instanceOf: ConfigError }) as ConfigError
  t.true(err.problems.some(p => /--inline-policy-file must be an absolute path/.test(p)))
})
