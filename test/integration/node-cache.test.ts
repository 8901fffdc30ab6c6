// The node cache bound: over --node-cache-max-bytes, GC frees unpinned content only; staged
// (mounted) and desired preload content stays and still verifies block by block.
import test from 'ava'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { DriverProcess } from '../helpers/driver-process.js'
import { CLI } from '../helpers/repo.js'
import { Kubo } from '../../driver/kubo.js'
import { createLogger } from '../../driver/logger.js'
import { NodeCache } from '../../node-plugin/node-cache.js'

const execFileP = promisify(execFile)
const MiB = 1024 * 1024
let kubo: KuboDaemon

test.before(async () => {
  kubo = await KuboDaemon.start({ name: 'node-cache', offline: true })
})

test.after.always(async () => {
  await kubo?.dispose()
})

async function add (bytes: number, pinName?: string): Promise<string> {
  const cid = await kubo.addBytes(randomBytes(bytes), ['--pin=false', '--cid-version=1', '--raw-leaves'])
  if (pinName !== undefined) await kubo.cli(['pin', 'add', '--name', pinName, cid])
  return cid
}

async function isLocal (cid: string): Promise<boolean> {
  try { await kubo.cli(['block', 'stat', '--offline', cid]); return true } catch { return false }
}

async function verifyOffline (cid: string): Promise<number> {
  return await execFileP(process.execPath, [CLI, 'verify', cid, '--kubo-api', kubo.apiUrl, '--offline'], { timeout: 60_000 }).then(() => 0, (err: { code: number }) => err.code)
}

async function repoSize (): Promise<number> {
  return Number((JSON.parse(await kubo.cli(['repo', 'stat', '--size-only', '--enc=json'])) as { RepoSize: number }).RepoSize)
}

test('over the limit, eviction frees only unpinned content; staged and desired preload content stays intact', async (t) => {
  const desired = await add(3 * MiB, 'preload:model-a')
  const staged = await add(3 * MiB, 'ipfs-csi/staged/vol-1')
  const undesired = await add(4 * MiB, 'preload:model-old')
  await kubo.cli(['pin', 'rm', undesired]) // the preloader unpins an entry that left the desired file
  const loose = await add(4 * MiB) // fetched by a read, never pinned
  const log = createLogger('error', 'test')
  const client = new Kubo({ url: kubo.apiUrl, timeoutMs: 30_000 })

  const under = await new NodeCache({ kubo: client, maxBytes: 1024 * MiB, log }).evictIfOver()
  t.false(under.ran, 'under the limit nothing is collected')
  t.true(await isLocal(loose))

  const before = await repoSize()
  const r = await new NodeCache({ kubo: client, maxBytes: 8 * MiB, log }).evictIfOver()
  t.true(r.ran)
  t.true(r.sizeBefore > 8 * MiB)
  t.true(r.removed >= 2 * 16, `removed ${r.removed} blocks`) // two 4 MiB DAGs of 256 KiB leaves
  t.true(r.sizeAfter <= before - 8 * MiB, `freed ${before - r.sizeAfter} bytes`)
  t.false(await isLocal(loose))
  t.false(await isLocal(undesired))
  // Everything of the protected DAGs is still there and re-hashes to its CID.
  t.is(await verifyOffline(desired), 0)
  t.is(await verifyOffline(staged), 0)
  // Protected content alone is over the limit: reported, never evicted.
  const again = await new NodeCache({ kubo: client, maxBytes: 1 * MiB, log }).evictIfOver()
  t.true(again.ran)
  t.is(again.protectedPins, 2)
  t.is(await verifyOffline(desired), 0)
  t.is(await verifyOffline(staged), 0)
})

test('serve --node-cache-max-bytes runs eviction on the node Kubo', async (t) => {
  const kept = await add(2 * MiB, 'ipfs-csi/staged/vol-2')
  const loose = await add(2 * MiB)
  const d = await DriverProcess.start({ kuboApi: kubo.apiUrl, mode: 'node', name: 'node-cache', extraArgs: ['--node-cache-max-bytes', String(MiB)] })
  t.teardown(async () => { await d.stop() })
  const deadline = Date.now() + 60_000
  while (await isLocal(loose)) {
    if (Date.now() > deadline) { t.fail('unpinned content was not collected within 60 s'); return }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  t.true(await isLocal(kept))
  t.is(await verifyOffline(kept), 0)
  const bad = await execFileP(process.execPath, [CLI, 'serve', '--node-id', 'n', '--node-cache-max-bytes', 'lots']).then(() => ({ code: 0, stderr: '' }), (err: { code: number, stderr: string }) => err)
  t.is(bad.code, 2)
  t.regex(bad.stderr, /--node-cache-max-bytes must be an integer/)
})
