// Spill budget on real FUSE writable mounts: two volumes' servers share a small node budget
// (8 MiB, 6 MiB per volume). A write past either limit fails with ENOSPC for that file alone:
// the file keeps what it had, the volume's other files and the other volume go on, and the
// space comes back when files are closed. The spill root never holds more than the budget.
import test from 'ava'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, open, readdir, readFile, rm, stat, type FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { WritableServer } from '../helpers/writable-server.js'

const MiB = 1024 * 1024
const NODE_BYTES = 8 * MiB
const VOLUME_BYTES = 6 * MiB
const PIECE = 128 * 1024

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

let kubo: KuboDaemon
let spillRoot: string

test.before(async () => {
  kubo = await KuboDaemon.start({ name: 'writable-spill', offline: true })
  spillRoot = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-spill-root-'))
})

test.after.always(async () => {
  await kubo?.dispose()
  if (spillRoot !== undefined) await rm(spillRoot, { recursive: true, force: true })
})

/** Appends `data` in 128 KiB writes until done or refused; returns the bytes written and the errno. */
async function writeUntilRefused (fh: FileHandle, data: Buffer, at = 0): Promise<{ written: number, code?: string }> {
  let written = 0
  while (written < data.length) {
    try {
      const { bytesWritten } = await fh.write(data, written, Math.min(PIECE, data.length - written), at + written)
      if (bytesWritten === 0) return { written, code: 'short write' }
      written += bytesWritten
    } catch (err) {
      return { written, code: (err as NodeJS.ErrnoException).code }
    }
  }
  return { written }
}

/** Bytes of every spill file under the root (claims excluded). */
async function spillBytes (): Promise<number> {
  let total = 0
  for (const d of await readdir(spillRoot)) {
    for (const f of await readdir(path.join(spillRoot, d)).catch(() => [] as string[])) {
      if (f === 'claim' || f.endsWith('.tmp')) continue
      total += (await stat(path.join(spillRoot, d, f)).catch(() => ({ size: 0 }))).size
    }
  }
  return total
}

test('a write past the volume share or the node budget gets ENOSPC for that file alone; the others go on', async (t) => {
  const spill = { dir: spillRoot, maxBytes: NODE_BYTES, volumeMaxBytes: VOLUME_BYTES }
  await kubo.cli(['files', 'mkdir', '-p', '/spill-a'])
  await kubo.cli(['files', 'mkdir', '-p', '/spill-b'])
  const a = await WritableServer.start(t, kubo, '/spill-a', { name: 'spill-a', spill })
  const b = await WritableServer.start(t, kubo, '/spill-b', { name: 'spill-b', spill })

  // Volume share: a.bin holds 4 MiB open, b.bin gets the 2 MiB left of the 6 MiB share, no more.
  const aData = randomBytes(4 * MiB)
  const fa = await open(a.p('a.bin'), 'w')
  t.teardown(async () => await fa.close().catch(() => {}))
  t.deepEqual(await writeUntilRefused(fa, aData), { written: 4 * MiB })
  const bData = randomBytes(3 * MiB)
  const fb = await open(a.p('b.bin'), 'w')
  t.teardown(async () => await fb.close().catch(() => {}))
  t.deepEqual(await writeUntilRefused(fb, bData), { written: 2 * MiB, code: 'ENOSPC' })
  t.true(await spillBytes() <= VOLUME_BYTES, 'the spill files hold no more than the share')
  // The refused file is still usable (rewriting inside it costs nothing) and a.bin is untouched.
  t.deepEqual(await writeUntilRefused(fb, bData.subarray(0, MiB)), { written: MiB })
  await fa.close()
  t.is(sha(await readFile(a.p('a.bin'))), sha(aData), 'the other file of the volume is saved whole')
  // a.bin closed: its spill space is back, and b.bin grows on to 3 MiB.
  t.deepEqual(await writeUntilRefused(fb, bData.subarray(2 * MiB), 2 * MiB), { written: MiB })
  await fb.close()
  t.is(sha(await kubo.cliBytes(['files', 'read', '/spill-a/b.bin'])), sha(bData), 'the refused file is saved with what it was given')

  // Node budget: volume A holds its whole 6 MiB share, so volume B (share 6 MiB) gets only 2 MiB.
  const cData = randomBytes(VOLUME_BYTES)
  const fc = await open(a.p('c.bin'), 'w')
  t.teardown(async () => await fc.close().catch(() => {}))
  t.deepEqual(await writeUntilRefused(fc, cData), { written: VOLUME_BYTES })
  const dData = randomBytes(5 * MiB)
  const fd = await open(b.p('d.bin'), 'w')
  t.teardown(async () => await fd.close().catch(() => {}))
  t.deepEqual(await writeUntilRefused(fd, dData), { written: 2 * MiB, code: 'ENOSPC' })
  t.true(await spillBytes() <= NODE_BYTES, 'the spill root holds no more than the node budget')
  // Volume B's other files still work within what it has; volume A is unaffected.
  t.is(await readFile(a.p('a.bin')).then(sha), sha(aData))
  await fc.close()
  t.is(sha(await kubo.cliBytes(['files', 'read', '/spill-a/c.bin'])), sha(cData))
  // A's files are closed: B takes the space they gave back.
  t.deepEqual(await writeUntilRefused(fd, dData.subarray(2 * MiB), 2 * MiB), { written: 3 * MiB })
  await fd.close()
  t.is(sha(await kubo.cliBytes(['files', 'read', '/spill-b/d.bin'])), sha(dData))
  t.is(await spillBytes(), 0, 'every spill file is removed once its file is saved')
})
