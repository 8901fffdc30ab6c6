// The FUSE server process as the node runs it (spawnLocalFuseServer: detached, output in a log
// file under a state dir) against hostile conditions: a pod reading an unavailable block in a
// loop (the log must stay bounded) and symlinks planted in the state dir or the mount path.
import test, { type ExecutionContext } from 'ava'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { lstat, mkdir, mkdtemp, open, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { spawnLocalFuseServer, stopFuseServer, type StartedServer } from '../../node-plugin/fuse-process.js'
import type { FuseSpec } from '../../node-plugin/fuse/fuse-spec.js'

const execFileP = promisify(execFile)
const KiB = 1024

let kubo: KuboDaemon
let cid: string

async function mountedAt (dir: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8')
  return info.split('\n').some(line => line.split(' ')[4] === dir)
}

async function waitFor (what: string, cond: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** A state dir like the node's: <dir>/volumes/v/{spec.json,fuse.log,fuse-status.json}. */
async function volumeDir (t: ExecutionContext): Promise<{ dir: string, vol: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-fsh-'))
  const vol = path.join(dir, 'volumes', 'v')
  await mkdir(vol, { recursive: true })
  t.teardown(async () => {
    for (const m of [path.join(dir, 'mnt'), path.join(dir, 'real', 'mnt')]) {
      if (await mountedAt(m)) await execFileP('fusermount', ['-uz', m]).catch(() => {})
    }
    await rm(dir, { recursive: true, force: true })
  })
  return { dir, vol }
}

function specOf (mountpoint: string, extra: Partial<FuseSpec> = {}): FuseSpec {
  return { version: 1, volumeId: 'fsh', mountpoint, kuboApi: kubo.apiUrl, mode: 'content', rootCid: cid, readOnly: true, readTimeoutMs: 10_000, kuboTimeoutMs: 10_000, blockCacheBytes: 0, readAheadBlocks: 0, logLevel: 'debug', ...extra }
}

async function start (t: ExecutionContext, vol: string, spec: FuseSpec, specPath = path.join(vol, 'spec.json')): Promise<StartedServer> {
  await writeFile(path.join(vol, 'spec.json'), JSON.stringify(spec))
  const server = await spawnLocalFuseServer(specPath, path.join(vol, 'fuse.log'))
  t.teardown(async () => await stopFuseServer(server.pid, specPath))
  return server
}

async function status (vol: string): Promise<Record<string, unknown> | undefined> {
  const text = await readFile(path.join(vol, 'fuse-status.json'), 'utf8').catch(() => '')
  return text === '' ? undefined : JSON.parse(text) as Record<string, unknown>
}

test.before(async () => {
  kubo = await KuboDaemon.start({ name: 'fuse-server-hardening', offline: true })
  const src = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-fsh-src-'))
  await writeFile(path.join(src, 'victim.bin'), randomBytes(512 * KiB))
  await writeFile(path.join(src, 'ok.txt'), 'fine\n')
  cid = await kubo.add(src)
  await rm(src, { recursive: true, force: true })
  // One leaf of victim.bin corrupted in the repo: every read of it fails verification (EIO).
  const fileCid = (await kubo.cli(['resolve', '-r', `/ipfs/${cid}/victim.bin`])).trim().replace('/ipfs/', '')
  const leaf = (await kubo.cli(['refs', fileCid])).trim().split('\n')[1] as string
  const blockFile = await kubo.blockFile(leaf)
  await writeFile(blockFile, randomBytes((await stat(blockFile)).size))
})

test.after.always(async () => { await kubo?.dispose() })

test('a loop of 2,000 failing reads keeps the FUSE server log under logMaxBytes, with repeats suppressed and the mount serving', async (t) => {
  const { dir, vol } = await volumeDir(t)
  const mnt = path.join(dir, 'mnt')
  const maxBytes = 16 * KiB
  await start(t, vol, specOf(mnt, { logMaxBytes: maxBytes }))
  await waitFor('the mount', async () => (await status(vol))?.mountedAt !== undefined && await mountedAt(mnt))
  const fh = await open(path.join(mnt, 'victim.bin'), 'r')
  let eio = 0
  try {
    for (let i = 0; i < 2000; i++) {
      try { await fh.read(Buffer.alloc(4096), 0, 4096, 256 * KiB + (i % 8) * 4096) } catch (err) { if ((err as NodeJS.ErrnoException).code === 'EIO') eio++ }
    }
  } finally { await fh.close() }
  t.is(eio, 2000, 'every read of the corrupted block fails with EIO')
  const log = await readFile(path.join(vol, 'fuse.log'), 'utf8')
  const rotated = await readFile(path.join(vol, 'fuse.log.1'), 'utf8').catch(() => '')
  t.true(Buffer.byteLength(log) <= maxBytes, `fuse.log is ${Buffer.byteLength(log)} bytes`)
  t.true(Buffer.byteLength(rotated) <= maxBytes, `fuse.log.1 is ${Buffer.byteLength(rotated)} bytes`)
  const failed = (log + rotated).split('\n').filter(l => l.includes('"fuse op failed"') && !l.includes('"repeated"')).length
  t.true(failed >= 1 && failed <= 20, `${failed} 'fuse op failed' lines for 2,000 failures`)
  t.regex(log + rotated, /repeats of a log line are suppressed/)
  t.is(await readFile(path.join(mnt, 'ok.txt'), 'utf8'), 'fine\n')
})

test('a spec.json that is a symlink is refused: nothing is mounted and the link target is not read', async (t) => {
  const { dir, vol } = await volumeDir(t)
  const mnt = path.join(dir, 'mnt')
  const elsewhere = path.join(dir, 'elsewhere.json')
  await writeFile(elsewhere, JSON.stringify(specOf(mnt)))
  await symlink(elsewhere, path.join(vol, 'link.json'))
  const server = await start(t, vol, specOf(path.join(dir, 'unused')), path.join(vol, 'link.json'))
  const exit = await server.exited
  t.not(exit.code, 0)
  t.false(await mountedAt(mnt))
  t.regex(await readFile(path.join(vol, 'fuse.log'), 'utf8'), /link\.json is a symlink/)
})

test('a mountpoint that is a symlink is refused (status FAILED_PRECONDITION) and its target is not mounted', async (t) => {
  const { dir, vol } = await volumeDir(t)
  const target = path.join(dir, 'target')
  await mkdir(target)
  await symlink(target, path.join(dir, 'mnt'))
  const server = await start(t, vol, specOf(path.join(dir, 'mnt')))
  t.not((await server.exited).code, 0)
  t.false(await mountedAt(target))
  t.false(await mountedAt(path.join(dir, 'mnt')))
  const s = await status(vol)
  t.like(s, { failed: { code: 9 } })
  t.regex(String((s?.failed as { message?: string })?.message), /is a symlink/)
})

test('a mountpoint under a symlinked dir is mounted at its resolved path, and the status says where', async (t) => {
  const { dir, vol } = await volumeDir(t)
  await mkdir(path.join(dir, 'real'))
  await symlink(path.join(dir, 'real'), path.join(dir, 'link'))
  await start(t, vol, specOf(path.join(dir, 'link', 'mnt')))
  const resolved = path.join(dir, 'real', 'mnt')
  await waitFor('the mount', async () => (await status(vol))?.mountedAt !== undefined)
  t.is((await status(vol))?.mountpoint, resolved)
  t.true(await mountedAt(resolved))
  t.is(await readFile(path.join(resolved, 'ok.txt'), 'utf8'), 'fine\n')
})

test('symlinks planted at fuse.log and fuse-status.json.tmp are not written through', async (t) => {
  const { dir, vol } = await volumeDir(t)
  const victim = path.join(dir, 'victim')
  await writeFile(victim, 'keep me')
  await symlink(victim, path.join(vol, 'fuse-status.json.tmp'))
  await symlink(victim, path.join(vol, 'fuse.log'))
  await writeFile(path.join(vol, 'spec.json'), JSON.stringify(specOf(path.join(dir, 'mnt'))))
  await t.throwsAsync(spawnLocalFuseServer(path.join(vol, 'spec.json'), path.join(vol, 'fuse.log')), { code: 'ELOOP' })
  await rm(path.join(vol, 'fuse.log'))
  const server = await start(t, vol, specOf(path.join(dir, 'mnt')))
  const exit = await Promise.race([server.exited, waitFor('the mount and its status', async () => (await status(vol))?.mountedAt !== undefined && await mountedAt(path.join(dir, 'mnt'))).then(() => undefined)])
  t.is(exit, undefined, 'the server mounts')
  t.is(await readFile(victim, 'utf8'), 'keep me')
  t.true((await lstat(path.join(vol, 'fuse-status.json'))).isFile())
  t.is((await status(vol))?.mountpoint, path.join(dir, 'mnt'))
})

test('a mountpoint whose parents do not exist yet, below a symlinked dir, is made and mounted at the resolved path', async (t) => {
  const { dir, vol } = await volumeDir(t)
  await mkdir(path.join(dir, 'real'))
  await symlink(path.join(dir, 'real'), path.join(dir, 'link'))
  await start(t, vol, specOf(path.join(dir, 'link', 'a', 'mnt')))
  const resolved = path.join(dir, 'real', 'a', 'mnt')
  await waitFor('the mount', async () => (await status(vol))?.mountedAt !== undefined)
  t.is((await status(vol))?.mountpoint, resolved)
  t.true(await mountedAt(resolved))
  t.teardown(async () => { if (await mountedAt(resolved)) await execFileP('fusermount', ['-uz', resolved]).catch(() => {}) })
})

test('the spec\'s maxHeapMiB becomes the server\'s V8 heap limit (--max-old-space-size)', async (t) => {
  const { dir, vol } = await volumeDir(t)
  const server = await start(t, vol, specOf(path.join(dir, 'mnt'), { maxHeapMiB: 96 }))
  await waitFor('the mount', async () => (await status(vol))?.mountedAt !== undefined)
  const argv = (await readFile(`/proc/${server.pid}/cmdline`, 'utf8')).split('\0')
  t.true(argv.includes('--max-old-space-size=96'), argv.join(' '))
})
