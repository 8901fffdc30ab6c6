// The content FUSE filesystem end to end: a real Kubo, `ipfs-csi mount` in a child process, and
// reads through the kernel compared byte for byte with the source files.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { chmod, lstat, mkdir, mkdtemp, open, readFile, readdir, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { freePort } from '../helpers/free-port.js'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { ContentMount, isMounted, runMountExpectingExit } from '../helpers/content-mount.js'
import { IPFS_BIN } from '../helpers/repo.js'

const MiB = 1024 * 1024
let kubo: KuboDaemon
let work: string

test.before(async () => {
  // A fixed API port, so the Kubo-stopped test can bring the same daemon back where the mount expects it.
  const port = await freePort()
  kubo = await KuboDaemon.start({ name: 'content-fs', offline: true, config: { 'Addresses.API': `/ip4/127.0.0.1/tcp/${port}` } })
  work = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-content-src-'))
})

test.after.always(async () => {
  kubo?.resume()
  await kubo?.dispose()
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

async function mount (t: ExecutionContext, handle: string, opts: Parameters<typeof ContentMount.start>[2] = {}): Promise<ContentMount> {
  const m = await ContentMount.start(handle, kubo.apiUrl, { name: t.title.slice(0, 40), ...opts })
  t.teardown(async () => { await m.stop() })
  return m
}

/** Reads exactly len bytes at pos (looping over short reads). */
async function readAt (file: string, pos: number, len: number): Promise<Buffer> {
  const fh = await open(file, 'r')
  try {
    const buf = Buffer.alloc(len)
    let got = 0
    while (got < len) {
      const { bytesRead } = await fh.read(buf, got, len - got, pos + got)
      if (bytesRead === 0) break
      got += bytesRead
    }
    return buf.subarray(0, got)
  } finally {
    await fh.close()
  }
}

async function errnoOf (p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
    return undefined
  } catch (err) {
    return (err as NodeJS.ErrnoException).code
  }
}

/** Writes a source tree with nested dirs, JSON, a multi-block file and symlinks (inside and escaping). */
async function makeTree (root: string): Promise<void> {
  await mkdir(path.join(root, 'nested', 'deeper'), { recursive: true })
  await writeFile(path.join(root, 'a.json'), JSON.stringify({ hello: 'world', n: 1 }))
  await writeFile(path.join(root, 'nested', 'c.txt'), 'plain text\n')
  await writeFile(path.join(root, 'nested', 'deeper', 'b.json'), JSON.stringify({ list: [1, 2, 3], nested: { ok: true } }, null, 2))
  await writeFile(path.join(root, 'nested', 'multi.bin'), randomBytes(1.5 * MiB))
  await writeFile(path.join(root, 'empty.txt'), '')
  await symlink('../a.json', path.join(root, 'nested', 'to-a'))
  await symlink('deeper/b.json', path.join(root, 'nested', 'to-b'))
  await symlink('/etc/hostname', path.join(root, 'abs-escape'))
  await symlink('../../../../etc/hostname', path.join(root, 'nested', 'rel-escape'))
}

/** Every regular file under the source tree, relative. */
async function filesUnder (root: string, rel = ''): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name)
    if (e.isDirectory()) out.push(...await filesUnder(root, r))
    else if (e.isFile()) out.push(r)
  }
  return out
}

async function checkTree (t: ExecutionContext, src: string, m: ContentMount): Promise<void> {
  t.deepEqual((await readdir(m.dir)).sort(), ['a.json', 'abs-escape', 'empty.txt', 'nested'])
  t.deepEqual((await readdir(m.path('nested'))).sort(), ['c.txt', 'deeper', 'multi.bin', 'rel-escape', 'to-a', 'to-b'])
  for (const f of await filesUnder(src)) {
    t.true((await readFile(m.path(f))).equals(await readFile(path.join(src, f))), `content of ${f}`)
  }
  t.deepEqual(JSON.parse(await readFile(m.path('nested', 'deeper', 'b.json'), 'utf8')), { list: [1, 2, 3], nested: { ok: true } })
  // Symlinks inside the mount are served as stored and followed by the kernel.
  t.is(await readlink(m.path('nested', 'to-a')), '../a.json')
  t.deepEqual(JSON.parse(await readFile(m.path('nested', 'to-a'), 'utf8')), { hello: 'world', n: 1 })
  t.is(await readFile(m.path('nested', 'to-b'), 'utf8'), await readFile(path.join(src, 'nested', 'deeper', 'b.json'), 'utf8'))
  // Escaping symlinks are presented with chroot semantics: they can only land inside the mount.
  t.is(await readlink(m.path('abs-escape')), 'etc/hostname')
  t.is(await readlink(m.path('nested', 'rel-escape')), '../etc/hostname')
  t.is(await errnoOf(readFile(m.path('abs-escape'))), 'ENOENT')
  t.is(await errnoOf(readFile(m.path('nested', 'rel-escape'))), 'ENOENT')
  t.true((await lstat(m.path('abs-escape'))).isSymbolicLink())
  // Read-only.
  t.is(await errnoOf(writeFile(m.path('new.txt'), 'x')), 'EROFS')
  t.is(await errnoOf(open(m.path('a.json'), 'r+')), 'EROFS')
  t.is(await errnoOf(stat(m.path('missing'))), 'ENOENT')
  t.is(await errnoOf(readFile(m.path('a.json', 'x'))), 'ENOTDIR')
}

test('a tree added with defaults (CIDv0, dag-pb leaves) is served byte-exact, 0444/0555, mtime 0', async (t) => {
  const src = path.join(work, 'tree-v0')
  await makeTree(src)
  const cid = await kubo.add(src)
  t.true(cid.startsWith('Qm'))
  const m = await mount(t, cid)
  await checkTree(t, src, m)
  const f = await stat(m.path('a.json'))
  t.is(f.mode & 0o7777, 0o444)
  t.is(f.size, (await stat(path.join(src, 'a.json'))).size)
  t.is(f.mtimeMs, 0)
  t.is((await stat(m.path('nested'))).mode & 0o7777, 0o555)
  t.true((await stat(m.path('nested'))).isDirectory())
  t.is((await stat(m.path('empty.txt'))).size, 0)
  // statfs: read-only, nothing free.
  const out = await new Promise<string>((resolve, reject) => {
    const c = spawn('stat', ['-f', '-c', '%b %f', m.dir])
    let s = ''
    c.stdout.on('data', (d: Buffer) => { s += d.toString() })
    c.on('exit', (code) => code === 0 ? resolve(s.trim()) : reject(new Error(`stat -f exited ${code}`)))
  })
  const [blocks, free] = out.split(' ').map(Number)
  t.true((blocks as number) > 0)
  t.is(free, 0)
  // SIGTERM unmounts cleanly and exits 0.
  const exited = new Promise<number | null>((resolve) => m.child.once('exit', (code) => resolve(code)))
  m.child.kill('SIGTERM')
  t.is(await exited, 0)
  t.false(await isMounted(m.dir))
})

test('CIDv1 with raw leaves; a path inside the DAG can be mounted', async (t) => {
  const src = path.join(work, 'tree-v1')
  await makeTree(src)
  const cid = await kubo.add(src, ['--cid-version=1', '--raw-leaves'])
  t.true(cid.startsWith('bafy'))
  const leaf = (await kubo.cli(['refs', `${cid}/nested/multi.bin`])).trim().split('\n')[0] as string
  t.is(CID.parse(leaf).code, 0x55, 'leaves are raw blocks')
  const m = await mount(t, cid)
  await checkTree(t, src, m)
  const sub = await mount(t, `${cid}/nested/deeper`)
  t.deepEqual(await readdir(sub.dir), ['b.json'])
  t.is(await readFile(sub.path('b.json'), 'utf8'), await readFile(path.join(src, 'nested', 'deeper', 'b.json'), 'utf8'))
})

test('UnixFS mode and mtime are served when present (--preserve-mode --preserve-mtime)', async (t) => {
  const src = path.join(work, 'tree-meta')
  await makeTree(src)
  await chmod(path.join(src, 'a.json'), 0o640)
  await chmod(path.join(src, 'nested', 'deeper'), 0o750)
  const when = new Date('2021-03-04T05:06:07Z')
  await utimes(path.join(src, 'nested', 'c.txt'), when, when)
  const cid = await kubo.add(src, ['--cid-version=1', '--preserve-mode', '--preserve-mtime'])
  const m = await mount(t, cid)
  await checkTree(t, src, m)
  t.is((await stat(m.path('a.json'))).mode & 0o7777, 0o640)
  t.is((await stat(m.path('nested', 'deeper'))).mode & 0o7777, 0o750)
  t.is((await stat(m.path('nested', 'c.txt'))).mtime.getTime(), when.getTime())
})

test('setuid and setgid bits stored in a DAG are never served; the rest of the mode is (issue 12 item 4)', async (t) => {
  const src = path.join(work, 'tree-suid')
  await makeTree(src)
  await chmod(path.join(src, 'a.json'), 0o4755)
  await chmod(path.join(src, 'nested'), 0o3775)
  const cid = await kubo.add(src, ['--cid-version=1', '--preserve-mode'])
  // The DAG really holds the bits (Kubo prints Go's FileMode: `u` is setuid, `g` setgid).
  t.regex(await kubo.cli(['files', 'stat', `/ipfs/${cid}/a.json`]), /Mode: urwxr-xr-x/)
  t.regex(await kubo.cli(['files', 'stat', `/ipfs/${cid}/nested`]), /Mode: dgtrwxrwxr-x/)
  const m = await mount(t, cid)
  t.is((await stat(m.path('a.json'))).mode & 0o7777, 0o755, 'setuid masked, permissions kept')
  t.is((await stat(m.path('nested'))).mode & 0o7777, 0o1775, 'setgid masked, sticky kept')
})

test('identity CIDs (--inline) are served without fetching', async (t) => {
  const src = path.join(work, 'tree-inline')
  await makeTree(src)
  const cid = await kubo.add(src, ['--cid-version=1', '--inline', '--inline-limit=64'])
  const inner = (await kubo.cli(['resolve', '-r', `/ipfs/${cid}/a.json`])).trim().replace('/ipfs/', '')
  t.is(CID.parse(inner).multihash.code, 0x00, 'a.json is an identity CID')
  const m = await mount(t, cid)
  await checkTree(t, src, m)
})

test('a HAMT-sharded directory of 10,000 entries: lookups before listing, complete listing', async (t) => {
  const src = path.join(work, 'hamt')
  await mkdir(src)
  const names: string[] = []
  for (let i = 0; i < 10_000; i++) {
    const name = `entry-${String(i).padStart(5, '0')}.json`
    names.push(name)
    await writeFile(path.join(src, name), JSON.stringify({ i }))
  }
  const cid = await kubo.add(src, ['--cid-version=1'])
  const rootBlock = dagPb.decode(await kubo.cliBytes(['block', 'get', cid]))
  t.is(UnixFS.unmarshal(rootBlock.Data as Uint8Array).type, 'hamt-sharded-directory', 'Kubo sharded the directory')
  const m = await mount(t, cid)
  // Looked up by hash (only the shards on each name's path), before any listing exists.
  for (const i of [0, 1, 4242, 9999]) {
    t.deepEqual(JSON.parse(await readFile(m.path(names[i] as string), 'utf8')), { i })
  }
  t.is(await errnoOf(stat(m.path('entry-10000.json'))), 'ENOENT')
  const started = process.hrtime.bigint()
  const listed = await readdir(m.dir)
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  t.log(`listing the 10,000-entry HAMT directory took ${ms.toFixed(0)} ms`)
  console.log(`[measure] HAMT 10,000-entry readdir: ${ms.toFixed(0)} ms`)
  t.is(listed.length, 10_000)
  t.deepEqual(listed.sort(), names)
  t.deepEqual(JSON.parse(await readFile(m.path(names[7777] as string), 'utf8')), { i: 7777 })
})

test('a 256 MiB file: 200 random reads and a cold sequential read are byte-exact (speed vs ipfs cat: make bench figure 1)', async (t) => {
  const file = path.join(work, 'large.bin')
  const fh = await open(file, 'w')
  const whole = createHash('sha256')
  for (let i = 0; i < 256; i++) {
    const chunk = randomBytes(MiB)
    whole.update(chunk)
    await fh.write(chunk)
  }
  await fh.close()
  const digest = whole.digest('hex')
  const cid = await kubo.add(file, ['--cid-version=1', '--raw-leaves'])
  t.teardown(async () => { await rm(file, { force: true }) })
  const size = 256 * MiB

  // Random reads on a mount with a small block cache (evictions happen), file root served wrapped.
  const m1 = await mount(t, cid, { extraArgs: ['--block-cache-bytes', String(8 * MiB)] })
  t.deepEqual(await readdir(m1.dir), [cid])
  t.is((await stat(m1.path(cid))).size, size)
  const src = await open(file, 'r')
  t.teardown(async () => { await src.close() })
  for (let i = 0; i < 200; i++) {
    const len = 1 + Math.floor(Math.random() * (i % 4 === 0 ? 3 * MiB : 200 * 1024))
    const pos = i === 0 ? size - len : Math.floor(Math.random() * (size - 1))
    const got = await readAt(m1.path(cid), pos, len)
    const want = Buffer.alloc(Math.min(len, size - pos))
    await src.read(want, 0, want.length, pos)
    if (!got.equals(want)) t.fail(`read ${i} at ${pos}+${len} differs`)
  }
  t.is((await readAt(m1.path(cid), size, 10)).length, 0, 'EOF')
  await m1.stop()

  // Sequential, cold (a fresh mount has an empty page cache and block cache).
  const m2 = await mount(t, cid)
  const h = createHash('sha256')
  for await (const chunk of createReadStream(m2.path(cid), { highWaterMark: MiB })) h.update(chunk as Buffer)
  t.is(h.digest('hex'), digest, 'sequential read through the mount is byte-exact')
})

async function timed (fn: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - started) / 1e6
}

test('a corrupted block gives EIO, never wrong bytes; the rest of the mount still serves', async (t) => {
  const src = path.join(work, 'corrupt')
  await mkdir(src)
  const data = randomBytes(MiB)
  await writeFile(path.join(src, 'victim.bin'), data)
  await writeFile(path.join(src, 'ok.json'), '{"fine":true}')
  const cid = await kubo.add(src)
  const fileCid = (await kubo.cli(['resolve', '-r', `/ipfs/${cid}/victim.bin`])).trim().replace('/ipfs/', '')
  const leaves = (await kubo.cli(['refs', fileCid])).trim().split('\n')
  t.is(leaves.length, 4, 'four 256 KiB leaves')
  const blockFile = await kubo.blockFile(leaves[1] as string)
  const original = await readFile(blockFile)
  await writeFile(blockFile, randomBytes(original.length))
  const m = await mount(t, cid)
  t.is(await errnoOf(readFile(m.path('victim.bin'))), 'EIO')
  t.is(await errnoOf(readAt(m.path('victim.bin'), 256 * 1024 + 100, 1000)), 'EIO')
  t.true((await readAt(m.path('victim.bin'), 0, 64 * 1024)).equals(data.subarray(0, 64 * 1024)))
  t.true((await readAt(m.path('victim.bin'), 3 * 256 * 1024, 1000)).equals(data.subarray(3 * 256 * 1024, 3 * 256 * 1024 + 1000)))
  t.deepEqual(JSON.parse(await readFile(m.path('ok.json'), 'utf8')), { fine: true })
  t.regex(await m.log(), /failed verification/)
})

/** The `read path totals` line a content mount logs at unmount (fetcher and disk counters). */
function totalsOf (log: string): { fetched: number, localHits: number, localBad: number, runs: number, disk?: { hits: number, misses: number } } {
  const line = log.split('\n').find(l => l.includes('read path totals'))
  if (line === undefined) throw new Error(`no read path totals in the log:\n${log.slice(-2000)}`)
  return JSON.parse(line.slice(line.indexOf('{')))
}

test('with --kubo-blocks-dir, local blocks are read from the repo on disk, verified, byte-exact', async (t) => {
  const src = path.join(work, 'tree-local')
  await makeTree(src)
  const big = path.join(work, 'big-local.bin')
  await writeFile(big, randomBytes(24 * MiB))
  const blocks = ['--kubo-blocks-dir', path.join(kubo.repo, 'blocks')]
  for (const [label, args] of [['dag-pb leaves', []], ['raw leaves, 1 MiB', ['--cid-version=1', '--raw-leaves', '--chunker=size-1048576']]] as const) {
    const tree = await mount(t, await kubo.add(src, [...args]), { extraArgs: blocks })
    await checkTree(t, src, tree)
    await tree.stop()
    const bigCid = await kubo.add(big, [...args])
    const m = await mount(t, bigCid, { extraArgs: blocks })
    t.true((await readFile(m.path(bigCid))).equals(await readFile(big)), `big file (${label})`)
    await m.stop()
    for (const totals of [totalsOf(await tree.log()), totalsOf(await m.log())]) {
      // Every block this Kubo has comes from disk: no API fetches, no runs, nothing failed verification.
      t.true(totals.localHits > 0, `${label}: ${JSON.stringify(totals)}`)
      t.is(totals.fetched, totals.localHits, `${label}: every block from disk: ${JSON.stringify(totals)}`)
      t.is(totals.runs, 0)
      t.is(totals.localBad, 0)
    }
    t.true(totalsOf(await m.log()).localHits > 24)
  }
})

test('with --kubo-blocks-dir, blocks the disk lacks come through the API', async (t) => {
  // A valid but empty flatfs (a second repo's): every lookup misses and the API serves the bytes.
  const other = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-empty-repo-'))
  t.teardown(async () => await rm(other, { recursive: true, force: true }))
  await new Promise<void>((resolve, reject) => spawn(IPFS_BIN, ['init', '--profile', 'test', '--empty-repo'], { env: { ...process.env, IPFS_PATH: other }, stdio: 'ignore' })
    .on('exit', (code) => code === 0 ? resolve() : reject(new Error(`ipfs init exited ${code}`))))
  const data = randomBytes(6 * MiB)
  await writeFile(path.join(work, 'elsewhere.bin'), data)
  const cid = await kubo.add(path.join(work, 'elsewhere.bin'))
  const m = await mount(t, cid, { extraArgs: ['--kubo-blocks-dir', path.join(other, 'blocks')] })
  t.true((await readFile(m.path(cid))).equals(data))
  await m.stop()
  const totals = totalsOf(await m.log())
  t.is(totals.localHits, 0)
  t.true((totals.disk?.misses ?? 0) > 0)
  t.true(totals.fetched >= 25, `root + 24 leaves through the API: ${JSON.stringify(totals)}`)
  t.regex(await m.log(), /is --kubo-blocks-dir the blockstore of the --kubo-api Kubo/)
})

test('with --kubo-blocks-dir, a corrupted block on disk gives EIO (Kubo serves the same bytes), never wrong bytes', async (t) => {
  const data = randomBytes(MiB)
  await writeFile(path.join(work, 'victim-local.bin'), data)
  const cid = await kubo.add(path.join(work, 'victim-local.bin'), ['--cid-version=1', '--raw-leaves'])
  const leaves = (await kubo.cli(['refs', cid])).trim().split('\n')
  t.is(leaves.length, 4)
  const blockFile = await kubo.blockFile(leaves[2] as string)
  const original = await readFile(blockFile)
  await writeFile(blockFile, randomBytes(original.length))
  const m = await mount(t, cid, { extraArgs: ['--kubo-blocks-dir', path.join(kubo.repo, 'blocks')] })
  const f = m.path(cid)
  t.is(await errnoOf(readAt(f, 2 * 256 * 1024 + 10, 100)), 'EIO')
  t.true((await readAt(f, 0, 1000)).equals(data.subarray(0, 1000)))
  t.true((await readAt(f, 3 * 256 * 1024, 1000)).equals(data.subarray(3 * 256 * 1024, 3 * 256 * 1024 + 1000)))
  t.regex(await m.log(), /block on disk failed verification/)
})

test('--kubo-blocks-dir that is not a flatfs directory is refused before mounting', async (t) => {
  const r = await runMountExpectingExit([await kubo.addBytes(new TextEncoder().encode('x')), path.join(work, 'never-mounted'), '--kubo-api', kubo.apiUrl, '--kubo-blocks-dir', work])
  t.is(r.code, 2)
  t.regex(r.stderr, /--kubo-blocks-dir .* is not a Kubo flatfs blocks directory/)
  t.false(await isMounted(path.join(work, 'never-mounted')))
})

test('entries with names Linux cannot hold are left out; the directory still lists', async (t) => {
  const fileCid = CID.parse(await kubo.addBytes(new TextEncoder().encode('good content\n'), ['--cid-version=1', '--raw-leaves']))
  const names = ['good.txt', 'a/b', '..', '.', '', 'nul\0name']
  const dir = dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: names.map(Name => ({ Name, Hash: fileCid, Tsize: 13 })) }))
  const cid = (await kubo.cli(['block', 'put', '--cid-codec', 'dag-pb'], dir)).trim()
  const m = await mount(t, cid)
  t.deepEqual(await readdir(m.dir), ['good.txt'])
  t.is(await readFile(m.path('good.txt'), 'utf8'), 'good content\n')
})

test('a HAMT bomb (every slot links the one shard below) lists with EIO and a log line; the mount keeps serving', async (t) => {
  const fileCid = CID.parse(await kubo.addBytes(new TextEncoder().encode('still served\n'), ['--cid-version=1', '--raw-leaves']))
  const put = async (bytes: Uint8Array): Promise<CID> => CID.parse((await kubo.cli(['block', 'put', '--cid-codec', 'dag-pb'], bytes)).trim())
  const shard = (links: dagPb.PBLink[]): Uint8Array => dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'hamt-sharded-directory', fanout: 256n, hashType: 0x22n }).marshal(), Links: links }))
  const hex = (i: number): string => i.toString(16).toUpperCase().padStart(2, '0')
  // 256 entries at the bottom, four levels of 256 links to the one shard below: 256^5 entries as written.
  let below = await put(shard(Array.from({ length: 256 }, (_v, i) => ({ Name: `${hex(i)}f${i}`, Hash: fileCid, Tsize: 13 }))))
  for (let l = 0; l < 4; l++) below = await put(shard(Array.from({ length: 256 }, (_v, i) => ({ Name: hex(i), Hash: below, Tsize: 1 }))))
  const root = dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: [{ Name: 'bomb', Hash: below, Tsize: 1 }, { Name: 'ok.txt', Hash: fileCid, Tsize: 13 }] }))
  const m = await mount(t, (await put(root)).toString())
  t.is(await errnoOf(readdir(m.path('bomb'))), 'EIO')
  // The FUSE server is still up and serving its other paths.
  t.is(await readFile(m.path('ok.txt'), 'utf8'), 'still served\n')
  t.deepEqual((await readdir(m.dir)).sort(), ['bomb', 'ok.txt'])
  t.is(m.child.exitCode, null)
  t.regex(await m.log(), /directory not listed/)
})

test('Kubo frozen mid-read: EIO within readTimeoutMs, and reads work again once it resumes', async (t) => {
  const readTimeoutMs = 1500
  const src = path.join(work, 'freeze')
  await mkdir(src)
  const data = randomBytes(2 * MiB)
  await writeFile(path.join(src, 'frozen.bin'), data)
  const cid = await kubo.add(src)
  // No read-ahead: the block read below must not already sit in the cache.
  const m = await mount(t, cid, { readTimeoutMs, extraArgs: ['--read-ahead-blocks', '0'] })
  const fh = await open(m.path('frozen.bin'), 'r') // the directory and the file's root node are fetched now
  t.teardown(async () => { kubo.resume(); await fh.close().catch(() => {}) })
  kubo.pause()
  const started = Date.now()
  const code = await errnoOf(fh.read(Buffer.alloc(4096), 0, 4096, MiB + 12345))
  const elapsed = Date.now() - started
  kubo.resume()
  t.is(code, 'EIO')
  t.log(`EIO after ${elapsed} ms (readTimeoutMs ${readTimeoutMs})`)
  t.true(elapsed >= readTimeoutMs - 1000, `EIO came after ${elapsed} ms, before the deadline`)
  t.true(elapsed <= readTimeoutMs + 5000, `EIO came after ${elapsed} ms`)
  // Serves again once Kubo answers (a block that just timed out is not asked for again for ≤ 1 s).
  const buf = Buffer.alloc(4096)
  const until = Date.now() + 15_000
  let bytesRead = -1
  while (bytesRead < 0 && Date.now() < until) {
    bytesRead = await fh.read(buf, 0, 4096, MiB + 12345).then(r => r.bytesRead, async () => { await new Promise(resolve => setTimeout(resolve, 200)); return -1 })
  }
  t.is(bytesRead, 4096)
  t.true(buf.equals(data.subarray(MiB + 12345, MiB + 12345 + 4096)))
})

test('Kubo stopped: EIO quickly (not at the deadline), and the mount serves again when Kubo is back', async (t) => {
  const src = path.join(work, 'stopped')
  await mkdir(src)
  const data = randomBytes(2 * MiB)
  await writeFile(path.join(src, 'later.bin'), data)
  const cid = await kubo.add(src)
  const m = await mount(t, cid, { readTimeoutMs: 20_000 })
  const fh = await open(m.path('later.bin'), 'r')
  t.teardown(async () => { await fh.close().catch(() => {}) })
  const apiUrl = kubo.apiUrl
  let down = true
  t.teardown(async () => { if (down) await kubo.launch() })
  await kubo.stop()
  const started = Date.now()
  t.is(await errnoOf(fh.read(Buffer.alloc(4096), 0, 4096, MiB)), 'EIO')
  const elapsed = Date.now() - started
  t.log(`EIO after ${elapsed} ms with Kubo stopped`)
  t.true(elapsed < 10_000, `EIO took ${elapsed} ms`)
  await kubo.launch()
  down = false
  t.is(kubo.apiUrl, apiUrl, 'Kubo came back on the same API address')
  const buf = Buffer.alloc(4096)
  t.is((await fh.read(buf, 0, 4096, MiB)).bytesRead, 4096)
  t.true(buf.equals(data.subarray(MiB, MiB + 4096)))
  t.true(await isMounted(m.dir))
})

test('bad mount arguments exit with code 2 and mount nothing', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-badmount-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const good = await kubo.addBytes(new TextEncoder().encode('x'))
  const cases: Array<[string, string[], RegExp]> = [
    ['invalid CID', ['not-a-cid', dir], /not a valid CID/],
    ['path with ..', [`${good}/../etc`, dir], /must not contain/],
    ['missing dir argument', [good], /expected <cid>/],
    ['bad timeout', [good, dir, '--read-timeout-ms', 'soon'], /read-timeout-ms/],
    ['unknown flag', [good, dir, '--frobnicate'], /frobnicate/],
    ['mount dir missing', [good, path.join(dir, 'nope')], /does not exist/],
    ['path not in the DAG', [`${good}/sub`, dir], /not a directory/]
  ]
  for (const [what, args, message] of cases) {
    const { code, stderr } = await runMountExpectingExit([...args, '--kubo-api', kubo.apiUrl])
    t.is(code, 2, `${what}: ${stderr}`)
    t.regex(stderr, message, what)
    t.false(await isMounted(dir), what)
  }
})
