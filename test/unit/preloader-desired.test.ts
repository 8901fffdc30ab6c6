// Pure logic of the preloader: desired-state parsing and validation, label selection, flag
// validation, the status printout and sha256sum line parsing.
import test from 'ava'
import { parseDesired, parseLabels, selects } from '../../preloader/desired-state.js'
import { formatStatus, parsePreloadServe, progressBar } from '../../preloader/preload-command.js'
import { parseSumsLine } from '../../preloader/verify.js'
import { ConfigError } from '../../driver/config.js'

const CID_A = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
const CID_B = 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn'

test('YAML and JSON desired states parse to the same entries', (t) => {
  const yaml = parseDesired(`entries:\n  - name: llama\n    cid: ${CID_A}\n    nodeSelector: {gpu: "true", zone: a}\n    priority: 10\n  - name: tiny\n    cid: /ipfs/${CID_B}\n`)
  const json = parseDesired(JSON.stringify({ entries: [{ name: 'llama', cid: CID_A, nodeSelector: { gpu: 'true', zone: 'a' }, priority: 10 }, { name: 'tiny', cid: `/ipfs/${CID_B}` }] }))
  for (const s of [yaml, json]) {
    t.deepEqual(s.problems, [])
    t.deepEqual(s.entries.map(e => [e.name, e.cid.toString(), e.nodeSelector, e.priority]), [['llama', CID_A, { gpu: 'true', zone: 'a' }, 10], ['tiny', CID_B, {}, 0]])
  }
})

test('bad entries are reported with a reason and the others kept', (t) => {
  const s = parseDesired(JSON.stringify({
    entries: [
      { name: 'ok', cid: CID_A },
      { name: 'ok', cid: CID_B },
      { name: 'x', cid: 'bafy-nope' },
      { name: '-bad', cid: CID_A },
      { name: 'sel', cid: CID_A, nodeSelector: ['a'] },
      { name: 'val', cid: CID_A, nodeSelector: { zone: 'has space' } },
      { name: 'prio', cid: CID_A, priority: 1.5 },
      { name: 'extra', cid: CID_A, replicas: 3 },
      'just a string'
    ]
  }))
  t.deepEqual(s.entries.map(e => e.name), ['ok'])
  t.is(s.problems.length, 8)
  t.regex(s.problems[0] ?? '', /entry 1 \("ok"\): duplicate name/)
  t.regex(s.problems[1] ?? '', /entry 2 \("x"\): cid "bafy-nope" is not a valid CID/)
  t.regex(s.problems[2] ?? '', /name must be/)
  t.regex(s.problems[3] ?? '', /nodeSelector must be a mapping/)
  t.regex(s.problems[4] ?? '', /nodeSelector value for "zone"/)
  t.regex(s.problems[5] ?? '', /priority must be an integer/)
  t.regex(s.problems[6] ?? '', /unknown field\(s\) replicas/)
  t.regex(s.problems[7] ?? '', /entry 8: must be a mapping/)
})

test('an empty file is no entries; a broken document is an error', (t) => {
  t.deepEqual(parseDesired('').entries, [])
  t.deepEqual(parseDesired('entries: []').entries, [])
  t.throws(() => parseDesired('entries: [unclosed'), { message: /neither YAML nor JSON/ })
  t.throws(() => parseDesired('- a\n- b\n'), { message: /mapping with an `entries` list/ })
  t.throws(() => parseDesired('entries: 5'), { message: /`entries` must be a list/ })
})

test('node selectors match labels exactly; label flags are validated', (t) => {
  const problems: string[] = []
  const labels = parseLabels('zone=a, gpu=true,kubernetes.io/hostname=node-1', problems)
  t.deepEqual(problems, [])
  t.true(selects({}, labels))
  t.true(selects({ zone: 'a', 'kubernetes.io/hostname': 'node-1' }, labels))
  t.false(selects({ zone: 'b' }, labels))
  t.false(selects({ missing: '' }, labels))
  parseLabels('novalue,=x,a=b c', problems)
  t.is(problems.length, 3)
})

test('preload serve flags come from argv or IPFS_CSI_* and every problem is reported at once', (t) => {
  const c = parsePreloadServe(['--desired', '/etc/preload/desired.yaml', '--listen', '127.0.0.1:9464'], { IPFS_CSI_KUBO_API: 'http://10.0.0.1:5001/', IPFS_CSI_NODE_NAME: 'n1', IPFS_CSI_NODE_LABELS: 'zone=a', IPFS_CSI_CONCURRENCY: '8' })
  t.is(c.kuboApi, 'http://10.0.0.1:5001')
  t.is(c.nodeName, 'n1')
  t.deepEqual(c.labels, { zone: 'a' })
  t.is(c.concurrency, 8)
  t.is(c.host, '127.0.0.1')
  t.is(c.port, 9464)
  t.is(parsePreloadServe(['--desired', '/d', '--node-name', 'n', '--listen', '[::1]:0'], {}).host, '::1')
  const err = t.throws(() => parsePreloadServe(['--listen', ':99999', '--log-level', 'loud', '--concurrency', 'x'], {}), { instanceOf: ConfigError }) as ConfigError
  for (const s of ['--desired FILE is required', '--node-name', '--listen must be', '--log-level', '--concurrency']) t.true(err.problems.some(p => p.includes(s)), s)
})

test('status printout has a progress bar per entry', (t) => {
  t.is(progressBar(0, 0), `[${'.'.repeat(30)}]   0.0%`)
  t.is(progressBar(50, 100), `[${'#'.repeat(15)}${'.'.repeat(15)}]  50.0%`)
  const out = formatStatus({
    node: 'n1',
    entries: [{ name: 'm', cid: CID_A, state: 'failed', priority: 0, bytesFetched: 2048, bytesTotal: 4096, blocksFetched: 1, blocksTotal: 2, error: 'boom', blocksDownloaded: 1, blocksLocal: 0, retries: 5, firstBlockAt: null, lastBlockAt: null, readyAt: null }],
    problems: ['entry 1: bad']
  })
  t.regex(out, /^node n1: 1 entry$/m)
  t.regex(out, /m {4}failed {3}\[#{15}\.{15}\] {2}50\.0% 2\.0 KiB\/4\.0 KiB 1\/2 blocks/)
  t.regex(out, /error: boom/)
  t.regex(out, /invalid entry: entry 1: bad/)
})

test('sha256sum lines: text, binary, ./ prefix, escaped names; garbage is rejected', (t) => {
  const h = 'a'.repeat(64)
  t.deepEqual(parseSumsLine(`${h}  model.bin`), { hex: h, file: 'model.bin' })
  t.deepEqual(parseSumsLine(`${h.toUpperCase()} *./dir/model.bin`), { hex: h, file: 'dir/model.bin' })
  t.deepEqual(parseSumsLine(`\\${h}  new\\nline`), { hex: h, file: 'new\nline' })
  t.is(parseSumsLine(`${h} model.bin`), undefined)
  t.is(parseSumsLine('abc  model.bin'), undefined)
})
