// The node's spill budget shared by FUSE servers through claim files: the volume share and the
// node budget refuse with ENOSPC without changing anything, released space goes to others, and
// a dead server's leftovers count until their space is needed.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Errno, FsError } from '../../driver/errors.js'
import { createLogger } from '../../driver/logger.js'
import { SpillBudget, spillKey, type SpillLimits } from '../../node-plugin/fuse/writable/spill-budget.js'

const MiB = 1024 * 1024
const log = createLogger('error')

async function root (t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-spill-unit-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  return dir
}

function budget (limits: SpillLimits, volumeId: string, pid?: number): SpillBudget {
  const b = new SpillBudget(limits, volumeId, log, pid)
  b.init()
  return b
}

const enospc = { instanceOf: FsError, message: /spill/ } as const

/** A pid no process has (one that just exited and was reaped). */
function deadPid (): number {
  return spawnSync(process.execPath, ['-e', '0']).pid as number
}

test('a volume past its share gets ENOSPC and keeps what it had', async (t) => {
  const b = budget({ root: await root(t), nodeBytes: 8 * MiB, volumeBytes: 3 * MiB }, 'vol-a')
  b.reserve(2 * MiB)
  const err = t.throws(() => b.reserve(2 * MiB), enospc) as FsError
  t.is(err.errno, Errno.ENOSPC)
  t.regex(err.message, /share/)
  t.is(b.usedBytes, 2 * MiB)
  b.reserve(MiB) // exactly the share
  t.is(b.usedBytes, 3 * MiB)
})

test('volumes share the node budget: one is refused while another holds it, and gets it once released', async (t) => {
  const limits = { root: await root(t), nodeBytes: 8 * MiB, volumeBytes: 6 * MiB }
  const a = budget(limits, 'vol-a')
  const b = budget(limits, 'vol-b')
  a.reserve(6 * MiB)
  b.reserve(2 * MiB)
  const err = t.throws(() => b.reserve(MiB), enospc) as FsError
  t.is(err.errno, Errno.ENOSPC)
  t.regex(err.message, /node spill budget/)
  t.is(b.usedBytes, 2 * MiB)
  a.release(6 * MiB)
  b.reserve(4 * MiB)
  t.is(b.usedBytes, 6 * MiB)
  // Claims never add up to more than the node budget.
  t.throws(() => a.reserve(3 * MiB), enospc)
  a.reserve(2 * MiB)
})

test('claims live in files, so a budget made afresh (another process) sees the others', async (t) => {
  const limits = { root: await root(t), nodeBytes: 4 * MiB, volumeBytes: 4 * MiB }
  const a = budget(limits, 'vol/a weird:id')
  a.reserve(3 * MiB)
  t.true(existsSync(path.join(limits.root, `${spillKey('vol/a weird:id')}.${process.pid}`, 'claim')))
  const other = budget(limits, 'vol-b', process.pid + 1_000_000) // as another process would: only the files are shared
  t.throws(() => other.reserve(2 * MiB), enospc)
  other.reserve(MiB)
})

test('a dead server\'s leftovers count until their space is needed, then they are removed', async (t) => {
  const limits = { root: await root(t), nodeBytes: 4 * MiB, volumeBytes: 4 * MiB }
  const leftover = path.join(limits.root, `vol-old.${deadPid()}`)
  mkdirSync(leftover)
  writeFileSync(path.join(leftover, 'claim'), String(3 * MiB))
  writeFileSync(path.join(leftover, 'f1'), 'unsaved bytes')
  const b = budget(limits, 'vol-new')
  t.true(existsSync(leftover), 'a recent leftover is kept at start')
  b.reserve(MiB)
  t.true(existsSync(leftover), 'kept while there is room')
  b.reserve(2 * MiB)
  t.false(existsSync(leftover), 'removed when its space was needed')
  t.is(b.usedBytes, 3 * MiB)
})

test('a live server\'s claim is never removed to make room', async (t) => {
  const limits = { root: await root(t), nodeBytes: 4 * MiB, volumeBytes: 4 * MiB }
  const a = budget(limits, 'vol-a')
  a.reserve(3 * MiB)
  const b = budget(limits, 'vol-b')
  t.throws(() => b.reserve(2 * MiB), enospc)
  t.true(existsSync(a.dir))
})

test('dispose removes the server\'s directory and gives its claim back', async (t) => {
  const limits = { root: await root(t), nodeBytes: 4 * MiB, volumeBytes: 4 * MiB }
  const a = budget(limits, 'vol-a')
  a.reserve(4 * MiB)
  a.dispose()
  t.false(existsSync(a.dir))
  budget(limits, 'vol-b').reserve(4 * MiB)
})
