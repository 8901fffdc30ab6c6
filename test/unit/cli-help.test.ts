// The CLI explains itself: --version, and <command> --help for every command, listing every
// flag the command accepts (checked against the flag tables the parsers use). Progress output of
// long work: a line redrawn on a terminal, plain lines when piped.
import test from 'ava'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { CLI } from '../helpers/repo.js'
import { SERVE_FLAGS } from '../../driver/config.js'
import { DRIVER_VERSION } from '../../driver/constants.js'
import { Progress } from '../../driver/progress.js'
import { MOUNT_FLAGS } from '../../node-plugin/fuse/mount-command.js'
import { FUSE_HOST_FLAGS } from '../../node-plugin/fuse-host.js'
import { PRELOAD_SERVE_FLAGS, PRELOAD_STATUS_FLAGS, watchStatus } from '../../preloader/preload-command.js'
import { VERIFY_FLAGS } from '../../preloader/verify-command.js'
import { API_FLAGS } from '../../api/config.js'
import { EXPORTER_FLAGS } from '../../gateway/exporter-command.js'
import { KUBO_METRICS_FLAGS } from '../../gateway/kubo-metrics-command.js'

const execFileP = promisify(execFile)
const cli = async (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> => {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [CLI, ...args], { timeout: 30_000 })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

test('ipfs-csi --version prints the version GetPluginInfo reports', async (t) => {
  for (const flag of ['--version', '-V', 'version']) {
    const r = await cli(flag)
    t.is(r.code, 0)
    t.is(r.stdout.trim(), `ipfs-csi ${DRIVER_VERSION}`)
  }
})

const COMMANDS: Array<[string[], Record<string, unknown>]> = [
  [['serve'], SERVE_FLAGS],
  [['mount'], MOUNT_FLAGS],
  [['preload', 'serve'], PRELOAD_SERVE_FLAGS],
  [['preload', 'status'], PRELOAD_STATUS_FLAGS],
  [['verify'], VERIFY_FLAGS],
  [['content', 'ls'], { 'kubo-api': 1, 'cluster-api': 1, 'cluster-basic-auth-file': 1, 'node-kubo-api': 1, json: 1 }],
  [['fuse-server'], { spec: 1 }],
  [['fuse-host'], FUSE_HOST_FLAGS],
  [['api', 'serve'], API_FLAGS],
  [['gateway', 'exporter'], EXPORTER_FLAGS],
  [['gateway', 'kubo-metrics'], KUBO_METRICS_FLAGS]
]

for (const [cmd, flags] of COMMANDS) {
  test(`ipfs-csi ${cmd.join(' ')} --help exits 0 and lists every flag it takes`, async (t) => {
    for (const h of ['--help', '-h']) {
      const r = await cli(...cmd, h)
      t.is(r.code, 0, r.stderr)
      t.regex(r.stdout, new RegExp(`usage: ipfs-csi ${cmd.join(' ')}`))
      const missing = Object.keys(flags).filter(f => !r.stdout.includes(`--${f}`))
      t.deepEqual(missing, [], `flags missing from ${cmd.join(' ')} --help`)
    }
  })
}

test('--help works even next to invalid arguments (mount --help was an error)', async (t) => {
  const r = await cli('mount', 'not-a-cid', '--help')
  t.is(r.code, 0)
  t.regex(r.stdout, /usage: ipfs-csi mount <cid>\[\/path\] <dir>/)
  t.is((await cli('serve', '--mode', 'bogus', '-h')).code, 0)
})

test('the top-level usage names --version and <command> --help', async (t) => {
  const r = await cli('--help')
  t.is(r.code, 0)
  t.regex(r.stdout, /--version/)
  t.regex(r.stdout, /<command> --help/)
})

class Sink {
  text = ''
  isTTY: boolean
  columns = 80
  constructor (tty: boolean) { this.isTTY = tty }
  write (s: string): boolean { this.text += s; return true }
}

test('progress: redrawn in place on a terminal, throttled plain lines when piped', (t) => {
  const tty = new Sink(true)
  const p = new Progress({ stream: tty as unknown as NodeJS.WriteStream })
  p.update('1 block', true)
  p.update('2 blocks') // within 100 ms: skipped
  p.done()
  t.is(tty.text, '\r\x1b[K1 block\r\x1b[K')
  const pipe = new Sink(false)
  const q = new Progress({ stream: pipe as unknown as NodeJS.WriteStream, pipeEveryMs: 60_000 })
  q.update('reading records: 0/3', true)
  q.update('reading records: 1/3')
  q.update('asking node Kubos', true)
  q.done()
  t.is(pipe.text, 'reading records: 0/3\nasking node Kubos\n')
})

test('preload status --watch, piped: a line per state change or 10 % step, ends when all are settled; exit 1 if one failed', async (t) => {
  const entry = (name: string, state: string, fetched: number, error: string | null = null): any => ({ name, cid: 'bafy', state, priority: 0, bytesFetched: fetched, bytesTotal: 100, blocksFetched: fetched, blocksTotal: 100, error, blocksDownloaded: 0, blocksLocal: 0, retries: 0, firstBlockAt: null, lastBlockAt: null, readyAt: null })
  const answers = [
    { node: 'n', entries: [entry('a', 'fetching', 5), entry('b', 'pending', 0)] },
    { node: 'n', entries: [entry('a', 'fetching', 8), entry('b', 'fetching', 0)] },
    { node: 'n', entries: [entry('a', 'fetching', 55), entry('b', 'fetching', 0)] },
    { node: 'n', entries: [entry('a', 'ready', 100), entry('b', 'failed', 0, 'no providers')] }
  ]
  let i = 0
  const out = new Sink(false)
  const code = await watchStatus(async () => answers[Math.min(i++, answers.length - 1)] as any, 'http://x', 1, out as unknown as NodeJS.WriteStream)
  t.is(code, 1)
  const lines = out.text.trim().split('\n').map(l => l.replace(/^\S+ /, ''))
  t.deepEqual(lines.map(l => l.split(' ').slice(0, 3).join(' ')), ['a fetching 0%', 'b pending 0%', 'b fetching 0%', 'a fetching 50%', 'a ready 100%', 'b failed 0%'])
  t.regex(out.text, /b failed 0% .* error: no providers/)
})
