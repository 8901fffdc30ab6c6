// `ipfs-csi verify` against a real Kubo: a clean DAG passes, and a corrupted block (flatfs file
// overwritten), a missing block (`block rm`), a bad SHA256SUMS line and a missing safetensors
// shard are each reported with exit code 1.
import test from 'ava'
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { CLI } from '../helpers/repo.js'

const execFileP = promisify(execFile)
let kubo: KuboDaemon
let work: string

interface Report { ok: boolean, blocks: number, bytes: number, blockProblems: Array<{ cid: string, kind: string, error: string }>, manifests: Array<{ name: string, files: number, ok: boolean }>, fileProblems: Array<{ manifest: string, file: string, error: string }> }

test.before(async () => {
  kubo = await KuboDaemon.start({ name: 'verify', offline: true })
  work = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-verify-'))
})

test.after.always(async () => {
  await kubo?.dispose()
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

async function verify (cid: string, extra: string[] = []): Promise<{ code: number, report: Report, stdout: string }> {
  const run = async (args: string[]): Promise<{ code: number, stdout: string }> => await execFileP(process.execPath, [CLI, 'verify', cid, '--kubo-api', kubo.apiUrl, ...args], { timeout: 90_000 })
    .then(r => ({ code: 0, stdout: r.stdout }), (err: { code: number, stdout: string }) => ({ code: err.code, stdout: err.stdout }))
  const json = await run(['--json', ...extra])
  return { code: json.code, report: JSON.parse(json.stdout) as Report, stdout: (await run(extra)).stdout }
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** A model-like directory: shards, a safetensors index and a SHA256SUMS over them. */
async function modelDir (name: string, opts: { badLine?: boolean, missingShard?: boolean } = {}): Promise<string> {
  const dir = path.join(work, name)
  await mkdir(path.join(dir, 'sub'), { recursive: true })
  const shard1 = randomBytes(700 * 1024)
  const shard2 = randomBytes(300 * 1024)
  const cfg = Buffer.from('{"hidden_size": 64}\n')
  await writeFile(path.join(dir, 'model-00001-of-00002.safetensors'), shard1)
  await writeFile(path.join(dir, 'model-00002-of-00002.safetensors'), shard2)
  await writeFile(path.join(dir, 'sub', 'config.json'), cfg)
  const weightMap = { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': opts.missingShard === true ? 'model-00003-of-00002.safetensors' : 'model-00002-of-00002.safetensors' }
  await writeFile(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 1 }, weight_map: weightMap }))
  const lines = [
    `${sha(shard1)}  model-00001-of-00002.safetensors`,
    `${opts.badLine === true ? sha(Buffer.from('something else')) : sha(shard2)} *model-00002-of-00002.safetensors`,
    `${sha(cfg)}  ./sub/config.json`
  ]
  await writeFile(path.join(dir, 'SHA256SUMS'), lines.join('\n') + '\n')
  return await kubo.add(dir, ['--cid-version=1', '--raw-leaves', '--chunker=size-65536'])
}

test('a clean DAG with SHA256SUMS and a safetensors index verifies', async (t) => {
  const cid = await modelDir('clean')
  const { code, report, stdout } = await verify(cid)
  t.is(code, 0, stdout)
  t.true(report.ok)
  const stat = JSON.parse(await kubo.cli(['dag', 'stat', '--progress=false', '--enc=json', cid])) as { DagStats: Array<{ Size: number, NumBlocks: number }> }
  t.is(report.blocks, stat.DagStats[0]?.NumBlocks)
  t.is(report.bytes, stat.DagStats[0]?.Size)
  t.deepEqual(report.manifests, [{ name: 'SHA256SUMS', files: 3, ok: true }, { name: 'model.safetensors.index.json', files: 2, ok: true }])
  t.regex(stdout, /OK$/m)
})

test('a corrupted block is reported (and the exit code is 1)', async (t) => {
  const cid = await kubo.addBytes(randomBytes(512 * 1024), ['--cid-version=1', '--raw-leaves', '--chunker=size-65536'])
  const leaf = (await kubo.cli(['refs', cid])).trim().split('\n')[3] as string
  const file = await kubo.blockFile(leaf)
  const orig = await readFile(file)
  const bad = Buffer.from(orig)
  bad[100] = (bad[100] as number) ^ 0xff
  await writeFile(file, bad)
  t.teardown(async () => { await writeFile(file, orig) })
  const { code, report, stdout } = await verify(cid)
  t.is(code, 1)
  t.false(report.ok)
  t.deepEqual(report.blockProblems.map(p => [p.cid, p.kind]), [[leaf, 'corrupt']])
  t.regex(report.blockProblems[0]?.error ?? '', /failed verification/)
  t.regex(stdout, new RegExp(`CORRUPT block ${leaf}`))
  t.is(report.blocks, 8, 'the root and the 7 good leaves re-hash fine')
})

test('a missing block is reported, with --offline and without', async (t) => {
  const cid = await kubo.addBytes(randomBytes(512 * 1024), ['--cid-version=1', '--raw-leaves', '--chunker=size-65536', '--pin=false'])
  const leaf = (await kubo.cli(['refs', cid])).trim().split('\n')[5] as string
  await kubo.cli(['block', 'rm', leaf])
  const off = await verify(cid, ['--offline'])
  t.is(off.code, 1)
  t.deepEqual(off.report.blockProblems.map(p => [p.cid, p.kind]), [[leaf, 'missing']])
  t.regex(off.stdout, new RegExp(`MISSING block ${leaf}`))
  // Online (the Kubo is offline itself, so it answers at once rather than searching peers).
  const on = await verify(cid, ['--timeout-ms', '5000'])
  t.is(on.code, 1)
  t.deepEqual(on.report.blockProblems.map(p => [p.cid, p.kind]), [[leaf, 'missing']])
})

test('a bad SHA256SUMS line and a missing safetensors shard are reported; the rest still checks', async (t) => {
  const cid = await modelDir('bad', { badLine: true, missingShard: true })
  const { code, report, stdout } = await verify(cid)
  t.is(code, 1)
  t.deepEqual(report.blockProblems, [], 'every block is fine')
  t.deepEqual(report.manifests, [{ name: 'SHA256SUMS', files: 3, ok: false }, { name: 'model.safetensors.index.json', files: 2, ok: false }])
  t.deepEqual(report.fileProblems.map(p => [p.manifest, p.file]), [['SHA256SUMS', 'model-00002-of-00002.safetensors'], ['model.safetensors.index.json', 'model-00003-of-00002.safetensors']])
  t.regex(report.fileProblems[0]?.error ?? '', /sha256 is [0-9a-f]{64}, the manifest says/)
  t.regex(report.fileProblems[1]?.error ?? '', /no such file/)
  t.regex(stdout, /FAILED: 0 block problem\(s\), 2 file problem\(s\)/)
})

test('bad usage is exit code 2 with every problem listed', async (t) => {
  const r = await execFileP(process.execPath, [CLI, 'verify', 'nope', '--kubo-api', 'ftp://x', '--concurrency', '0']).then(() => ({ code: 0, stderr: '' }), (err: { code: number, stderr: string }) => err)
  t.is(r.code, 2)
  for (const s of ['is not a valid CID', '--kubo-api must be', '--concurrency must be']) t.true(r.stderr.includes(s), s)
})
