import test from 'ava'
import { closeSync, existsSync, openSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { BoundedLogFile, boundedStderrWriter, regularFilePathOf, RepeatLimiter } from '../../node-plugin/fuse/log-bounds.js'

async function tempDir (t: { teardown: (f: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-logb-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  return dir
}

const summary = (n: number): string => `summary ${n}`

test('repeat limiter writes a burst per key and window, says once that it suppresses, then counts what it suppressed', (t) => {
  let now = 0
  const l = new RepeatLimiter({ burst: 3, windowMs: 1000 }, () => now)
  const out: string[] = []
  for (let i = 0; i < 10; i++) out.push(...l.admit('warn\0read failed', `line ${i}`, summary))
  t.deepEqual(out, ['line 0', 'line 1', 'line 2', 'summary 0'])
  t.deepEqual(l.admit('warn\0other', 'other 0', summary), ['other 0'], 'another message has its own budget')
  now = 1000
  t.deepEqual(l.admit('warn\0read failed', 'line 10', summary), ['summary 7', 'line 10'], 'the next window starts with the count of the last')
})

test('repeat limiter keeps a bounded table of keys', (t) => {
  const l = new RepeatLimiter({ burst: 1, windowMs: 60_000, maxKeys: 10 }, () => 0)
  for (let i = 0; i < 100; i++) t.deepEqual(l.admit(`k${i}`, 'x', summary), ['x'])
  t.true((l as unknown as { windows: Map<string, unknown> }).windows.size <= 10)
})

test('a bounded log file never grows past maxBytes; its previous content moves to .1, also bounded', async (t) => {
  const dir = await tempDir(t)
  const file = path.join(dir, 'fuse.log')
  const fd = openSync(file, 'a', 0o600)
  t.teardown(() => closeSync(fd))
  t.is(regularFilePathOf(fd), file)
  const max = 4096
  const log = new BoundedLogFile(fd, file, max)
  for (let i = 0; i < 1000; i++) {
    log.write(`line ${i} ${'x'.repeat(50)}\n`)
    t.true(statSync(file).size <= max, `after line ${i}`)
  }
  t.true(statSync(`${file}.1`).size <= max)
  t.regex(readFileSync(file, 'utf8'), /line 999 /, 'the newest line is in the file')
  t.true(readFileSync(`${file}.1`, 'utf8').startsWith('line '), '.1 holds whole earlier lines')
  t.is(statSync(`${file}.1`).mode & 0o777, 0o600)
})

test('a symlink planted at <log>.1 is never written through; the log stays bounded', async (t) => {
  const dir = await tempDir(t)
  const file = path.join(dir, 'fuse.log')
  const victim = path.join(dir, 'victim')
  writeFileSync(victim, 'keep me')
  symlinkSync(victim, `${file}.1`)
  const fd = openSync(file, 'a', 0o600)
  t.teardown(() => closeSync(fd))
  const log = new BoundedLogFile(fd, file, 1024)
  for (let i = 0; i < 200; i++) log.write(`line ${i} ${'y'.repeat(40)}\n`)
  t.is(readFileSync(victim, 'utf8'), 'keep me')
  t.true(statSync(file).size <= 1024)
})

test('a log held open up front (a server that drops root) rotates through its held files, never by name', async (t) => {
  const dir = await tempDir(t)
  const file = path.join(dir, 'fuse.log')
  const fd = openSync(file, 'a', 0o600)
  t.teardown(() => closeSync(fd))
  const max = 2048
  const log = new BoundedLogFile(fd, file, max, true)
  t.is(statSync(`${file}.1`).mode & 0o777, 0o600, '<log>.1 is opened (made) at once')
  // After the drop the names are out of reach: move .1 away; the held descriptor still gets the copy.
  renameSync(`${file}.1`, path.join(dir, 'held.1'))
  for (let i = 0; i < 300; i++) log.write(`line ${i} ${'z'.repeat(40)}\n`)
  t.true(statSync(file).size <= max)
  t.false(existsSync(`${file}.1`), 'nothing opened by name at rotation')
  const held = readFileSync(path.join(dir, 'held.1'), 'utf8')
  t.true(held.length > 0 && held.length <= max && held.startsWith('line '), 'the previous content went to the held file, bounded')
})

test('regularFilePathOf is undefined for a pipe-like or closed fd', (t) => {
  t.is(regularFilePathOf(987654), undefined)
})

test('bounded stderr writer: a loop of the same failing-read line keeps the file to the burst plus one notice', async (t) => {
  const dir = await tempDir(t)
  const file = path.join(dir, 'fuse.log')
  const fd = openSync(file, 'a', 0o600)
  t.teardown(() => closeSync(fd))
  const write = boundedStderrWriter({ maxBytes: 1 << 20, burst: 5, windowMs: 60_000 }, fd)
  for (let i = 0; i < 10_000; i++) write(JSON.stringify({ level: 'warn', message: 'fuse op failed', path: `/f${i}` }) + '\n', 'warn', 'fuse op failed')
  const lines = readFileSync(file, 'utf8').trim().split('\n').map(l => JSON.parse(l) as { message: string, repeated?: { message: string } })
  t.is(lines.length, 6)
  t.is(lines.filter(l => l.message === 'fuse op failed').length, 5)
  t.deepEqual(lines[5]?.repeated, { level: 'warn', message: 'fuse op failed' })
})
