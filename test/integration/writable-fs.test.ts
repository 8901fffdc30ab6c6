// Writable volumes end to end: a real Kubo, `ipfs-csi fuse-server --spec FILE` in a child
// process (never in the ava worker), real file operations through the kernel.
import test, { type ExecutionContext } from 'ava'
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { lstat, mkdir, mkdtemp, open, readFile, readdir, readlink, rename, rm, rmdir, stat, statfs, symlink, truncate, unlink, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { isMounted, waitFor, WritableServer } from '../helpers/writable-server.js'

const MiB = 1024 * 1024

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Runs a shell snippet in a child process (so a hung mount can never block the ava worker). */
async function sh (script: string, timeoutMs = 60_000): Promise<{ code: number | null, stderr: string, ms: number }> {
  const t0 = Date.now()
  const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  clearTimeout(timer)
  return { code, stderr, ms: Date.now() - t0 }
}

/**
 * A process that writes `text` to `file` and keeps it open without ever closing any copy of
 * the fd (a shell would: every command it forks closes one, and each close saves the file).
 */
function holdOpen (file: string, text: string): ChildProcess {
  const script = 'const fs = require("fs"); const fd = fs.openSync(process.argv[1], "w"); fs.writeSync(fd, process.argv[2]); setInterval(() => {}, 1000)'
  return spawn(process.execPath, ['-e', script, file, text], { stdio: 'ignore' })
}

let kubo: KuboDaemon
let volumes = 0

async function newMfsDir (): Promise<string> {
  const p = `/ipfs-csi-test/vol-${process.pid}-${++volumes}`
  await kubo.cli(['files', 'mkdir', '-p', p])
  return p
}

test.before(async () => {
  kubo = await KuboDaemon.start({ name: 'writable-fs', offline: true })
})

test.after.always(async () => {
  await kubo?.dispose()
})

test('data written survives SIGTERM and reads back identically through a new server process and ipfs files read', async (t) => {
  const mfs = await newMfsDir()
  const files: Record<string, Buffer> = {
    'small.txt': Buffer.from('hello writable world\n'),
    'empty.bin': Buffer.alloc(0),
    'a/b/c/nested.bin': randomBytes(300_000),
    'a/b/big.bin': randomBytes(3 * MiB + 12345),
    'a/sibling.txt': Buffer.from('sibling\n')
  }
  const s1 = await WritableServer.start(t, kubo, mfs, { name: 'persist-1' })
  await mkdir(s1.p('a', 'b', 'c'), { recursive: true })
  for (const [name, data] of Object.entries(files)) await writeFile(s1.p(name), data)
  // Close-to-open: once closed, the bytes are in MFS even while the server still runs.
  t.is(sha(await kubo.cliBytes(['files', 'read', `${mfs}/a/b/big.bin`])), sha(files['a/b/big.bin'] as Buffer))
  t.is(await s1.stop(), 0)
  t.false(await isMounted(s1.mnt), 'SIGTERM unmounts')

  for (const [name, data] of Object.entries(files)) {
    t.is(sha(await kubo.cliBytes(['files', 'read', `${mfs}/${name}`])), sha(data), `ipfs files read ${name}`)
  }

  const s2 = await WritableServer.start(t, kubo, mfs, { name: 'persist-2' })
  for (const [name, data] of Object.entries(files)) {
    t.is(sha(await readFile(s2.p(name))), sha(data), `read back ${name} through a new server`)
    t.is((await stat(s2.p(name))).size, data.length)
  }
  t.deepEqual((await readdir(s2.p('a'))).sort(), ['b', 'sibling.txt'])
  t.true((await stat(s2.p('a', 'b'))).isDirectory())
  t.is(await s2.stop(), 0)
})

test('data in a file still open when the server gets SIGTERM is saved to MFS', async (t) => {
  const mfs = await newMfsDir()
  const s = await WritableServer.start(t, kubo, mfs, { name: 'held-open' })
  const holder = holdOpen(s.p('held.txt'), 'written, never closed')
  t.teardown(() => { holder.kill('SIGKILL') })
  await waitFor('the write to land', async () => (await stat(s.p('held.txt')).catch(() => undefined))?.size === 21, 30_000)
  t.is(await s.stop(), 0)
  t.false(await isMounted(s.mnt))
  t.is(await kubo.cli(['files', 'read', `${mfs}/held.txt`]), 'written, never closed')
})

test('concurrent writers in several processes lose no file (MFS mutations are serialized)', async (t) => {
  const mfs = await newMfsDir()
  const s = await WritableServer.start(t, kubo, mfs, { name: 'concurrent' })
  const writers = 4
  const perWriter = 25
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    await mkdir(s.p(`w${w}`))
    // Each writer is its own process, writing small files and reading the directory meanwhile.
    const r = await sh(`for i in $(seq 1 ${perWriter}); do echo "writer ${w} file $i" > '${s.p(`w${w}`)}'/f$i.txt; ls '${s.mnt}' > /dev/null; done`, 240_000)
    t.is(r.code, 0, r.stderr)
  }))
  t.is(await s.stop(), 0)
  const s2 = await WritableServer.start(t, kubo, mfs, { name: 'concurrent-2' })
  for (let w = 0; w < writers; w++) {
    t.is((await readdir(s2.p(`w${w}`))).length, perWriter)
    for (let i = 1; i <= perWriter; i++) t.is(await readFile(s2.p(`w${w}`, `f${i}.txt`), 'utf8'), `writer ${w} file ${i}\n`)
  }
  t.is(await s2.stop(), 0)
})

test('rename, unlink, rmdir and truncate behave like POSIX', async (t) => {
  const mfs = await newMfsDir()
  const s = await WritableServer.start(t, kubo, mfs, { name: 'namespace' })
  await writeFile(s.p('one.txt'), 'one')
  await writeFile(s.p('two.txt'), 'two-two')
  // rename over an existing file replaces it
  await rename(s.p('one.txt'), s.p('two.txt'))
  t.is(await readFile(s.p('two.txt'), 'utf8'), 'one')
  await t.throwsAsync(stat(s.p('one.txt')), { code: 'ENOENT' })
  // directories: rename, replace an empty one, refuse a non-empty one
  await mkdir(s.p('d1'))
  await writeFile(s.p('d1', 'f.txt'), 'in d1')
  await rename(s.p('d1'), s.p('d2'))
  t.is(await readFile(s.p('d2', 'f.txt'), 'utf8'), 'in d1')
  await mkdir(s.p('empty'))
  await rename(s.p('d2'), s.p('empty'))
  t.is(await readFile(s.p('empty', 'f.txt'), 'utf8'), 'in d1')
  await mkdir(s.p('full'))
  await writeFile(s.p('full', 'x'), 'x')
  await t.throwsAsync(rename(s.p('empty'), s.p('full')), { code: 'ENOTEMPTY' })
  await t.throwsAsync(rmdir(s.p('full')), { code: 'ENOTEMPTY' })
  await t.throwsAsync(mkdir(s.p('full')), { code: 'EEXIST' })
  await unlink(s.p('full', 'x'))
  await rmdir(s.p('full'))
  await t.throwsAsync(stat(s.p('full')), { code: 'ENOENT' })
  // truncate down keeps the prefix, up adds zeros
  const data = randomBytes(200_000)
  await writeFile(s.p('t.bin'), data)
  await truncate(s.p('t.bin'), 1000)
  t.deepEqual(await readFile(s.p('t.bin')), data.subarray(0, 1000))
  await truncate(s.p('t.bin'), 3000)
  t.deepEqual(await readFile(s.p('t.bin')), Buffer.concat([data.subarray(0, 1000), Buffer.alloc(2000)]))
  await t.throwsAsync(unlink(s.p('nope')), { code: 'ENOENT' })

  // MFS itself holds the result
  const ls = (await kubo.cli(['files', 'ls', mfs])).split('\n').filter(l => l !== '').sort()
  t.deepEqual(ls, ['empty', 't.bin', 'two.txt'])
  t.is(sha(await kubo.cliBytes(['files', 'read', `${mfs}/t.bin`])), sha(Buffer.concat([data.subarray(0, 1000), Buffer.alloc(2000)])))
  t.is(await kubo.cli(['files', 'read', `${mfs}/empty/f.txt`]), 'in d1')
  t.is(await s.stop(), 0)
})

test('overwriting the middle of an existing file (r+) keeps the rest, also after a remount', async (t) => {
  const mfs = await newMfsDir()
  const original = randomBytes(2 * MiB + 777)
  // Seed through MFS directly, as a cloned/seeded volume would be.
  const tmp = path.join(await mkdtemp(path.join(tmpdir(), 'ipfs-csi-wfs-seed-')), 'seed.bin')
  t.teardown(async () => await rm(path.dirname(tmp), { recursive: true, force: true }))
  await writeFile(tmp, original)
  const cid = (await kubo.cli(['add', '-Q', '--pin=false', '--cid-version=1', tmp])).trim()
  await kubo.cli(['files', 'cp', `/ipfs/${cid}`, `${mfs}/data.bin`])

  const s1 = await WritableServer.start(t, kubo, mfs, { name: 'rplus' })
  const patch = Buffer.from('PATCHED-IN-THE-MIDDLE')
  const at = 1 * MiB + 5
  const fh = await open(s1.p('data.bin'), 'r+')
  await fh.write(patch, 0, patch.length, at)
  await fh.close()
  const expected = Buffer.from(original)
  patch.copy(expected, at)
  t.is((await stat(s1.p('data.bin'))).size, original.length)
  t.is(sha(await readFile(s1.p('data.bin'))), sha(expected))
  t.is(sha(await kubo.cliBytes(['files', 'read', `${mfs}/data.bin`])), sha(expected))
  // appending keeps everything before it
  await appendFile(s1.p('data.bin'), 'tail')
  t.is(await s1.stop(), 0)

  const s2 = await WritableServer.start(t, kubo, mfs, { name: 'rplus-2' })
  t.is(sha(await readFile(s2.p('data.bin'))), sha(Buffer.concat([expected, Buffer.from('tail')])))
  t.is(await s2.stop(), 0)
})

test('symlinks in seeded content read as symlinks, and a moved one keeps its target', async (t) => {
  const mfs = await newMfsDir()
  const src = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-wfs-links-'))
  t.teardown(async () => await rm(src, { recursive: true, force: true }))
  await writeFile(path.join(src, 'target.txt'), 'the target\n')
  await symlink('target.txt', path.join(src, 'link'))
  const cid = (await kubo.cli(['add', '-Q', '-r', '--pin=false', '--cid-version=1', src])).trim()
  await kubo.cli(['files', 'cp', `/ipfs/${cid}`, `${mfs}/seed`])
  const s = await WritableServer.start(t, kubo, mfs, { name: 'symlinks' })
  t.is(await readlink(s.p('seed', 'link')), 'target.txt')
  t.true((await lstat(s.p('seed', 'link'))).isSymbolicLink())
  t.is(await readFile(s.p('seed', 'link'), 'utf8'), 'the target\n')
  await rename(s.p('seed', 'link'), s.p('moved-link'))
  t.is(await readlink(s.p('moved-link')), 'target.txt', 'a moved symlink keeps its target text')
  t.is(await s.stop(), 0)
})

test('symlink() stores a UnixFS symlink in MFS: a Hugging Face style cache (snapshot links to blobs) works and survives a remount', async (t) => {
  const mfs = await newMfsDir()
  const s = await WritableServer.start(t, kubo, mfs, { name: 'symlink-new' })
  // huggingface_hub: blobs/<sha>, snapshots/<rev>/<file> -> ../../blobs/<sha>
  const weights = randomBytes(300_000)
  await mkdir(s.p('blobs'))
  await mkdir(s.p('snapshots', 'main'), { recursive: true })
  await writeFile(s.p('blobs', 'abc123'), weights)
  await symlink('../../blobs/abc123', s.p('snapshots', 'main', 'model.safetensors'))
  t.true((await lstat(s.p('snapshots', 'main', 'model.safetensors'))).isSymbolicLink())
  t.is((await lstat(s.p('snapshots', 'main', 'model.safetensors'))).size, '../../blobs/abc123'.length, 'a symlink\'s size is its target\'s length')
  t.is(await readlink(s.p('snapshots', 'main', 'model.safetensors')), '../../blobs/abc123')
  t.deepEqual(await readFile(s.p('snapshots', 'main', 'model.safetensors')), weights, 'reads through the link')
  t.deepEqual(await readdir(s.p('snapshots', 'main')), ['model.safetensors'])
  // Absolute and dangling targets are stored as given, as on any filesystem.
  await symlink('/etc/hostname', s.p('abs'))
  t.is(await readlink(s.p('abs')), '/etc/hostname')
  await symlink('nowhere', s.p('dangling'))
  await t.throwsAsync(stat(s.p('dangling')), { code: 'ENOENT' })
  // POSIX errors: the name exists (a file, a link, a file still open for writing), a too long target.
  await writeFile(s.p('file.txt'), 'x')
  await t.throwsAsync(symlink('x', s.p('file.txt')), { code: 'EEXIST' })
  await t.throwsAsync(symlink('x', s.p('abs')), { code: 'EEXIST' })
  const open1 = await open(s.p('still-open.txt'), 'w')
  await t.throwsAsync(symlink('x', s.p('still-open.txt')), { code: 'EEXIST' })
  await open1.close()
  await t.throwsAsync(symlink('a'.repeat(4096), s.p('long')), { code: 'ENAMETOOLONG' })
  // In MFS as a UnixFS symlink (Kubo reports its mode with Go's ModeSymlink bit).
  const st = JSON.parse(await kubo.cli(['files', 'stat', '--enc=json', `${mfs}/snapshots/main/model.safetensors`])) as { Hash: string }
  t.is((await kubo.cli(['cat', `/ipfs/${st.Hash}`])), '../../blobs/abc123')
  await unlink(s.p('dangling'))
  await t.throwsAsync(lstat(s.p('dangling')), { code: 'ENOENT' })
  await rename(s.p('abs'), s.p('abs2'))
  t.is(await readlink(s.p('abs2')), '/etc/hostname')
  t.is(await s.stop(), 0)
  const s2 = await WritableServer.start(t, kubo, mfs, { name: 'symlink-new-2' })
  t.is(await readlink(s2.p('snapshots', 'main', 'model.safetensors')), '../../blobs/abc123', 'kept across a remount')
  t.deepEqual(await readFile(s2.p('snapshots', 'main', 'model.safetensors')), weights)
  t.is(await s2.stop(), 0)
})

test('a read-only writable volume refuses symlink() with EROFS', async (t) => {
  const mfs = await newMfsDir()
  const s = await WritableServer.start(t, kubo, mfs, { name: 'symlink-ro', readOnly: true })
  await t.throwsAsync(symlink('x', s.p('link')), { code: 'EROFS' })
  t.is(await s.stop(), 0)
})

test('statfs reports the capacity; writing past it fails with ENOSPC and earlier files stay intact', async (t) => {
  const mfs = await newMfsDir()
  const capacity = 8 * MiB
  const s = await WritableServer.start(t, kubo, mfs, { name: 'capacity', capacityBytes: capacity })
  const before = await statfs(s.mnt)
  t.is(before.bsize, 4096)
  t.is(before.blocks, capacity / 4096)
  t.true(before.bavail >= capacity / 4096 - 1, `empty volume is (almost) all free: ${before.bavail}`)

  const keep = randomBytes(3 * MiB)
  await writeFile(s.p('keep.bin'), keep)
  const after = await statfs(s.mnt)
  t.is(after.blocks, capacity / 4096)
  const usedBlocks = after.blocks - after.bavail
  t.true(usedBlocks >= 3 * MiB / 4096 && usedBlocks <= 3 * MiB / 4096 + 2, `3 MiB used: ${usedBlocks} blocks`)

  await t.throwsAsync(writeFile(s.p('too-big.bin'), randomBytes(6 * MiB)), { code: 'ENOSPC' })
  t.is(sha(await readFile(s.p('keep.bin'))), sha(keep))
  // the volume is now full (less than one 128 KiB write left); freeing the partial file gives the space back
  const full = await statfs(s.mnt)
  t.true(full.bavail < 32, `full: ${full.bavail}`)
  await unlink(s.p('too-big.bin'))
  const freed = await statfs(s.mnt)
  t.true(freed.bavail >= (capacity - 3 * MiB) / 4096 - 2, `space returned: ${freed.bavail}`)
  // growing an existing file past the capacity by truncate is refused too
  await t.throwsAsync(truncate(s.p('keep.bin'), capacity + 1), { code: 'ENOSPC' })
  t.is((await stat(s.p('keep.bin'))).size, keep.length)
  t.is(await s.stop(), 0)
  t.is(sha(await kubo.cliBytes(['files', 'read', `${mfs}/keep.bin`])), sha(keep))
})

test('a read-only spec refuses every mutation with EROFS and still serves reads', async (t) => {
  const mfs = await newMfsDir()
  await kubo.cli(['files', 'write', '--create', '--parents', `${mfs}/dir/present.txt`], 'present\n')
  const s = await WritableServer.start(t, kubo, mfs, { name: 'readonly', readOnly: true })
  t.is(await readFile(s.p('dir', 'present.txt'), 'utf8'), 'present\n')
  await t.throwsAsync(writeFile(s.p('new.txt'), 'x'), { code: 'EROFS' })
  await t.throwsAsync(appendFile(s.p('dir', 'present.txt'), 'x'), { code: 'EROFS' })
  await t.throwsAsync(mkdir(s.p('newdir')), { code: 'EROFS' })
  await t.throwsAsync(unlink(s.p('dir', 'present.txt')), { code: 'EROFS' })
  await t.throwsAsync(rename(s.p('dir', 'present.txt'), s.p('moved.txt')), { code: 'EROFS' })
  await t.throwsAsync(truncate(s.p('dir', 'present.txt'), 0), { code: 'EROFS' })
  t.is(await kubo.cli(['files', 'read', `${mfs}/dir/present.txt`]), 'present\n')
  t.is(await s.stop(), 0)
})

test('with Kubo not answering, operations fail with EIO within the bound instead of hanging', async (t) => {
  // A daemon of its own: freezing it must not disturb anything else.
  const frozen = await KuboDaemon.start({ name: 'writable-fs-frozen', offline: true })
  t.teardown(async () => { frozen.resume(); await frozen.dispose() })
  const mfs = '/vol-frozen'
  await frozen.cli(['files', 'write', '--create', '--parents', `${mfs}/never-read.txt`], 'never read through the mount\n')
  const boundMs = 2000
  const s = await WritableServer.start(t, frozen, mfs, { name: 'frozen', readTimeoutMs: boundMs, kuboTimeoutMs: boundMs })
  await writeFile(s.p('before.txt'), 'written while Kubo was fine')
  frozen.pause()
  // Generous slack for a loaded CI machine; a hang would run into the 60 s kill.
  const limit = boundMs + 500 + 10_000
  const read = await sh(`cat '${s.p('never-read.txt')}'`)
  t.not(read.code, 0)
  t.regex(read.stderr, /Input\/output error/)
  t.true(read.ms < limit, `read failed after ${read.ms} ms`)
  const write = await sh(`echo data > '${s.p('new-file.txt')}'`)
  t.not(write.code, 0)
  t.regex(write.stderr, /Input\/output error/)
  t.true(write.ms < limit, `write failed after ${write.ms} ms`)
  frozen.resume()
  // Kubo back: the volume works again without a remount.
  await waitFor('the volume to answer again', async () => (await sh(`cat '${s.p('never-read.txt')}'`)).code === 0, 30_000)
  t.is(await readFile(s.p('never-read.txt'), 'utf8'), 'never read through the mount\n')

  // SIGTERM with unsaved data while Kubo is frozen: the server still exits and unmounts in
  // bounded time, and keeps the unsaved bytes in its spill file instead of discarding them.
  const holder = holdOpen(s.p('unsaved.txt'), 'unsaved bytes')
  t.teardown(() => { holder.kill('SIGKILL') })
  await waitFor('the write to land', async () => (await stat(s.p('unsaved.txt')).catch(() => undefined))?.size === 13, 30_000)
  frozen.pause()
  const t0 = Date.now()
  t.is(await s.stop(), 0)
  const stopMs = Date.now() - t0
  t.true(stopMs < 3 * boundMs + 30_000, `stopped after ${stopMs} ms`)
  t.false(await isMounted(s.mnt))
  const root = s.defaultSpillRoot
  const spills = await readdir(root)
  const kept = await Promise.all(spills.flatMap(async (d) => await Promise.all((await readdir(path.join(root, d))).map(async (f) => await readFile(path.join(root, d, f), 'utf8')))))
  t.true(kept.flat().includes('unsaved bytes'), 'unsaved data kept on local disk')
  frozen.resume()
})

test('a 64 MiB file written through the mount reads back byte-exact through Kubo and through a fresh mount (timings logged; speed targets live in make bench)', async (t) => {
  const mfs = await newMfsDir()
  const src = path.join(await mkdtemp(path.join(tmpdir(), 'ipfs-csi-wfs-src-')), 'src.bin')
  t.teardown(async () => await rm(path.dirname(src), { recursive: true, force: true }))
  const data = randomBytes(64 * MiB)
  await writeFile(src, data)
  const s = await WritableServer.start(t, kubo, mfs, { name: 'throughput' })
  // dd closes the file, so the time includes the upload to Kubo and the MFS update.
  const r = await sh(`dd if='${src}' of='${s.p('big.bin')}' bs=1M 2>&1 >/dev/null`, 240_000)
  t.is(r.code, 0, r.stderr)
  const mibps = 64 / (r.ms / 1000)
  t.log(`64 MiB written (incl. upload at close) in ${r.ms} ms: ${mibps.toFixed(1)} MiB/s`)
  const t0 = Date.now()
  const back = await kubo.cliBytes(['files', 'read', `${mfs}/big.bin`])
  t.log(`ipfs files read of it: ${Date.now() - t0} ms`)
  t.is(sha(back), sha(data))
  t.is(await s.stop(), 0)
  // Reading it back through a fresh server (nothing in any cache of ours or the kernel's).
  const s2 = await WritableServer.start(t, kubo, mfs, { name: 'throughput-read' })
  const rd = await sh(`cat '${s2.p('big.bin')}' > /dev/null`, 240_000)
  t.is(rd.code, 0, rd.stderr)
  t.log(`64 MiB read through a new mount in ${rd.ms} ms: ${(64 / (rd.ms / 1000)).toFixed(1)} MiB/s`)
  t.is(sha(await readFile(s2.p('big.bin'))), sha(data))
  t.is(await s2.stop(), 0)
})

test('writable volumes never show or store setuid/setgid bits (create mode, chmod of an open file, mkdir -m, chmod)', async (t) => {
  const mfs = await newMfsDir()
  await kubo.cli(['files', 'mkdir', `${mfs}/seeded-dir`])
  const s = await WritableServer.start(t, kubo, mfs, { name: 'modes' })
  const SUID_SGID = 0o6000
  // Files open for writing are stat'ed from the server's own record, not from MFS.
  const created = await open(s.p('created'), 'w', 0o4755)
  t.teardown(async () => await created.close().catch(() => {}))
  t.is((await created.stat()).mode & 0o7777, 0o755, 'a file created with mode 04755 shows 0755')
  await created.chmod(0o6711)
  t.is((await stat(s.p('created'))).mode & 0o7777, 0o711, 'fchmod 06711 of an open file shows 0711')
  await created.write('#!/bin/sh\n')
  await created.close()
  t.is((await stat(s.p('created'))).mode & SUID_SGID, 0, 'nor after close')
  await writeFile(s.p('made'), 'x', { mode: 0o644 })
  t.is((await sh(`chmod 4755 '${s.p('made')}'`)).code, 0)
  t.is((await stat(s.p('made'))).mode & 0o7777, 0o755, 'chmod 4755 keeps the permission bits only')
  t.is((await sh(`chmod 2755 '${s.p('seeded-dir')}' && mkdir -m 2770 '${s.p('newdir')}'`)).code, 0)
  t.is((await stat(s.p('seeded-dir'))).mode & 0o7777, 0o755)
  t.is((await stat(s.p('newdir'))).mode & 0o7777, 0o770)
  // What is stored for the next mount is masked too, not only what stat shows.
  t.is((await kubo.cli(['files', 'stat', '--format', '<mode-octal>', `${mfs}/created`])).trim(), '0711')
  t.is(await s.stop(), 0)
})
