import test, { type ExecutionContext } from 'ava'
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Code, type CsiError } from '../../driver/errors.js'
import { waitMounted, type StartedServer } from '../../node-plugin/fuse-process.js'

/** A volume dir with a log; /proc stands in for the mountpoint (always in the mount table). */
async function volumeDir (t: ExecutionContext): Promise<{ statusPath: string, logPath: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-wait-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const logPath = path.join(dir, 'fuse-server.log')
  await writeFile(logPath, '')
  return { statusPath: path.join(dir, 'fuse-status.json'), logPath }
}

/** A server that never exits unless `exit` is called; its pid is made up (never signalled). */
function fakeServer (pid = 999_999): StartedServer & { exit: () => void } {
  let exit = (): void => {}
  const exited = new Promise<{ code: number | null, signal: string | null }>((resolve) => { exit = () => resolve({ code: 1, signal: null }) })
  return { pid, exited, exit: () => exit() }
}

/** The server's way of reporting: a tmp file renamed into place. */
async function writeStatus (statusPath: string, pid: number): Promise<void> {
  await writeFile(`${statusPath}.tmp`, JSON.stringify({ pid, mountpoint: '/proc' }))
  await rename(`${statusPath}.tmp`, statusPath)
}

test('waitMounted returns once the status names the server and the mountpoint is mounted', async (t) => {
  const { statusPath, logPath } = await volumeDir(t)
  const server = fakeServer()
  // Set when the write starts: the rename can wake the wait before the write's promise settles.
  let writing = 0
  setTimeout(() => { writing = Date.now(); void writeStatus(statusPath, server.pid) }, 300)
  await waitMounted({ server, statusPath, mountpoint: '/proc', logPath, timeoutMs: 30_000 })
  t.true(writing > 0, 'returned only after the status was written')
  t.is((JSON.parse(await readFile(statusPath, 'utf8')) as { pid: number }).pid, server.pid)
  // Generous bound: the rename wakes the wait (inotify), the poll is only the fallback.
  t.true(Date.now() - writing < 5000)
})

test('waitMounted ignores a status of another pid and times out with DEADLINE_EXCEEDED', async (t) => {
  const { statusPath, logPath } = await volumeDir(t)
  const server = fakeServer()
  await writeStatus(statusPath, server.pid + 1)
  const err = await t.throwsAsync(waitMounted({ server, statusPath, mountpoint: '/proc', logPath, timeoutMs: 400 }))
  t.is((err as CsiError).code, Code.DEADLINE_EXCEEDED)
})

test('waitMounted reports a server that exits before mounting, with the code it wrote in its status', async (t) => {
  const { statusPath, logPath } = await volumeDir(t)
  await writeFile(logPath, 'Error: no link named "x" under bafy...\n')
  const server = fakeServer()
  await writeFile(statusPath, JSON.stringify({ pid: server.pid, failed: { code: Code.NOT_FOUND, message: 'no link named "x"' } }))
  setTimeout(() => server.exit(), 200)
  const err = await t.throwsAsync(waitMounted({ server, statusPath, mountpoint: '/proc', logPath, timeoutMs: 30_000 }))
  t.is((err as CsiError).code, Code.NOT_FOUND)
  t.regex((err as Error).message, /exited before mounting/)
})

test('a server that exits before mounting without a status is INTERNAL, whatever its log says', async (t) => {
  const { statusPath, logPath } = await volumeDir(t)
  await writeFile(logPath, 'Error: no link named "x" under bafy...\n')
  const server = fakeServer()
  setTimeout(() => server.exit(), 200)
  const err = await t.throwsAsync(waitMounted({ server, statusPath, mountpoint: '/proc', logPath, timeoutMs: 30_000 }))
  t.is((err as CsiError).code, Code.INTERNAL)
})

test('waitMounted gives up when the caller aborts', async (t) => {
  const { statusPath, logPath } = await volumeDir(t)
  const ac = new AbortController()
  setTimeout(() => ac.abort(new Error('client went away')), 200)
  const err = await t.throwsAsync(waitMounted({ server: fakeServer(), statusPath, mountpoint: '/proc', logPath, timeoutMs: 30_000, signal: ac.signal }))
  t.is((err as CsiError).code, Code.DEADLINE_EXCEEDED)
  t.regex((err as Error).message, /abandoned/)
})

// Stage errors reach namespace users as events: the server's log and its own message (which
// name Kubo's address) stay in the node's log (CsiError.detail), the user gets a cause and a code.
test('a server that exits before mounting is reported with a short cause and code; its log and Kubo URL only in the detail', async (t) => {
  const { statusPath, logPath } = await volumeDir(t)
  const logText = '{"level":"error","msg":"block/get failed","kuboApi":"http://10.1.2.3:5001","error":"context deadline exceeded"}'
  await writeFile(logPath, `${logText}\n`.repeat(20))
  const server = fakeServer()
  await writeFile(statusPath, JSON.stringify({ pid: server.pid, failed: { code: Code.DEADLINE_EXCEEDED, message: 'kubo block/get at http://10.1.2.3:5001: timed out' } }))
  setTimeout(() => server.exit(), 200)
  const err = await t.throwsAsync(waitMounted({ server, statusPath, mountpoint: '/proc', logPath, timeoutMs: 30_000 })) as CsiError
  t.is(err.code, Code.DEADLINE_EXCEEDED)
  t.is(err.message, 'FUSE server exited before mounting (exit 1): content unavailable: block fetch timed out (DEADLINE_EXCEEDED; details in the node plugin\'s log)')
  t.regex(err.detail ?? '', /10\.1\.2\.3:5001/)
  t.true((err.detail ?? '').includes(logText))
})

test('a server that does not mount in time is reported without its log lines', async (t) => {
  const { statusPath, logPath } = await volumeDir(t)
  await writeFile(logPath, 'fetching from http://10.1.2.3:5001/api/v0/block/get\n')
  const err = await t.throwsAsync(waitMounted({ server: fakeServer(), statusPath, mountpoint: '/proc', logPath, timeoutMs: 300 })) as CsiError
  t.is(err.code, Code.DEADLINE_EXCEEDED)
  t.notRegex(err.message, /http|10\.1\.2\.3|api\/v0/)
  t.regex(err.message, /content unavailable: block fetch timed out/)
  t.regex(err.detail ?? '', /10\.1\.2\.3/)
})
