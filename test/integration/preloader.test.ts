// The preloader end to end: a "source" Kubo holds the content, a "node" Kubo peered to it starts
// empty, and `ipfs-csi preload serve` (a real child process, as in the DaemonSet) warms the node.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { freePort } from '../helpers/free-port.js'
import { KuboDaemon } from '../helpers/kubo-daemon.js'
import { CLI, logFile } from '../helpers/repo.js'
import { stopProcess } from '../helpers/stop-process.js'

const execFileP = promisify(execFile)
const KiB = 1024

let source: KuboDaemon
let node: KuboDaemon
let work: string

interface Entry { name: string, cid: string, state: string, bytesFetched: number, bytesTotal: number, blocksFetched: number, blocksTotal: number, error: string | null, blocksDownloaded: number, blocksLocal: number, firstBlockAt: number | null, lastBlockAt: number | null }
interface Status { node: string, entries: Entry[], problems: string[] }

test.before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-preload-'))
  const noRouting = { 'Routing.Type': 'none', 'Discovery.MDNS.Enabled': false }
  source = await KuboDaemon.start({ name: 'preload-source', config: noRouting })
  const id = await source.peerId()
  const addrs = (await source.cli(['id', '-f', '<addrs>'])).trim().split('\n').map(a => a.replace(/\/p2p\/.*$/, '')).filter(a => a.startsWith('/ip4/127.0.0.1/'))
  // Peering keeps the node connected to the source (and reconnects), like node-local Kubos in a cluster.
  node = await KuboDaemon.start({ name: 'preload-node', config: { ...noRouting, 'Peering.Peers': [{ ID: id, Addrs: addrs }] } })
  const deadline = Date.now() + 30_000
  while (!(await node.cli(['swarm', 'peers'])).includes(id)) {
    if (Date.now() > deadline) throw new Error('node Kubo did not connect to the source')
    await new Promise(resolve => setTimeout(resolve, 200))
  }
})

test.after.always(async () => {
  source?.resume()
  await node?.dispose()
  await source?.dispose()
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

/** Random content added to the source only; returns its root CID. */
async function sourceContent (bytes: number, chunk: number): Promise<string> {
  return await source.addBytes(randomBytes(bytes), [`--chunker=size-${chunk}`, '--cid-version=1', '--raw-leaves'])
}

async function dagStat (cid: string): Promise<{ size: number, blocks: number }> {
  const j = JSON.parse(await source.cli(['dag', 'stat', '--progress=false', '--enc=json', cid])) as { TotalSize: number, UniqueBlocks: number, DagStats: Array<{ Size: number, NumBlocks: number }> }
  return { size: j.DagStats[0]?.Size ?? -1, blocks: j.DagStats[0]?.NumBlocks ?? -1 }
}

async function pinNames (): Promise<Map<string, string>> {
  const j = JSON.parse(await node.cli(['pin', 'ls', '--type=recursive', '--names', '--enc=json'])) as { Keys: Record<string, { Name?: string }> }
  return new Map(Object.entries(j.Keys ?? {}).map(([cid, k]) => [k.Name ?? '', cid]))
}

async function waitFor<T> (what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (err) { last = err }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last !== undefined ? `: ${(last as Error).message}` : ''}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

class Preloader {
  child?: ChildProcess
  url = ''
  constructor (readonly desired: string, readonly args: string[], readonly name: string) {}

  static async start (t: ExecutionContext, desired: string, args: string[] = []): Promise<Preloader> {
    const p = new Preloader(desired, args, t.title.slice(0, 30))
    t.teardown(async () => { await p.stop() })
    await p.launch()
    return p
  }

  async launch (): Promise<void> {
    const port = await freePort()
    this.url = `http://127.0.0.1:${port}`
    const out = createWriteStream(logFile(`preloader-${this.name}`), { flags: 'a' })
    // Most flags from the environment, as a DaemonSet would set them.
    const env = { ...process.env, IPFS_CSI_KUBO_API: node.apiUrl, IPFS_CSI_NODE_NAME: 'node-a', IPFS_CSI_NODE_LABELS: 'zone=a,gpu=true', IPFS_CSI_LOG_LEVEL: 'debug' }
    this.child = spawn(process.execPath, [CLI, 'preload', 'serve', '--desired', this.desired, '--listen', `127.0.0.1:${port}`, '--poll-interval-ms', '500', ...this.args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stdout?.pipe(out)
    this.child.stderr?.pipe(out)
    const child = this.child
    await waitFor('the preloader /healthz', async () => {
      if (child.exitCode !== null) throw new Error(`preloader exited with ${child.exitCode}`)
      const res = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(2000) })
      return res.status === 200 ? true : undefined
    }, 30_000)
  }

  async status (): Promise<Status> {
    const res = await fetch(`${this.url}/status`, { signal: AbortSignal.timeout(5000) })
    return await res.json() as Status
  }

  async entry (name: string): Promise<Entry | undefined> { return (await this.status()).entries.find(e => e.name === name) }

  async waitReady (name: string, timeoutMs = 90_000): Promise<Entry> {
    return await waitFor(`entry ${name} ready`, async () => {
      const e = await this.entry(name)
      if (e?.state === 'failed') throw new Error(`entry ${name} failed: ${e.error ?? ''}`)
      return e?.state === 'ready' ? e : undefined
    }, timeoutMs)
  }

  async kill9 (): Promise<void> {
    const child = this.child
    if (child == null || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  async stop (): Promise<void> { if (this.child != null) await stopProcess(this.child, 10_000) }
}

async function desiredFile (name: string, doc: unknown): Promise<string> {
  const p = path.join(work, `${name}.json`)
  await writeFile(p, JSON.stringify(doc))
  return p
}

test('warms a selected entry to ready with exact progress; selectors, invalid entries, /metrics, /healthz, preload status', async (t) => {
  const cid = await sourceContent(1536 * KiB, 64 * KiB)
  const other = await sourceContent(256 * KiB, 64 * KiB)
  const desired = await desiredFile('basic', {
    entries: [
      { name: 'alpha', cid, nodeSelector: { zone: 'a' }, priority: 5 },
      { name: 'elsewhere', cid: other, nodeSelector: { zone: 'b' } },
      { name: 'bad-cid', cid: 'not-a-cid' },
      { name: 'Bad Name', cid }
    ]
  })
  const p = await Preloader.start(t, desired)
  const e = await p.waitReady('alpha')
  const want = await dagStat(cid)
  t.is(e.blocksTotal, want.blocks)
  t.is(e.bytesTotal, want.size)
  t.is(e.blocksFetched, want.blocks)
  t.is(e.bytesFetched, want.size)
  t.is(e.error, null)
  const st = await p.status()
  t.is(st.node, 'node-a')
  t.deepEqual(st.entries.map(x => x.name), ['alpha'], 'the zone=b entry is not for this node')
  t.is(st.problems.length, 2)
  t.true(st.problems.some(x => x.includes('bad-cid') && /not a valid CID/.test(x)))
  t.true(st.problems.some(x => x.includes('Bad Name') && /name must be/.test(x)))
  // Pinned under the preload name; the other node's entry never reached this Kubo.
  const pins = await pinNames()
  t.is(pins.get('preload:alpha'), cid)
  await t.throwsAsync(node.cli(['block', 'stat', '--offline', other]))
  // Every block is local now: an offline read of the whole DAG works.
  t.is((await node.cliBytes(['cat', '--offline', cid])).length, 1536 * KiB)

  const metrics = await (await fetch(`${p.url}/metrics`)).text()
  t.regex(metrics, /ipfs_csi_preload_entry_state\{node="node-a",entry="alpha",cid="[^"]+",state="ready"\} 1/)
  t.true(metrics.includes(`ipfs_csi_preload_blocks_total{node="node-a",entry="alpha",cid="${cid}"} ${want.blocks}`))
  t.regex(metrics, /ipfs_csi_preload_invalid_entries\{node="node-a"\} 2/)
  const health = await fetch(`${p.url}/healthz`)
  t.is(health.status, 200)
  t.is((await fetch(`${p.url}/nope`)).status, 404)

  const { stdout } = await execFileP(process.execPath, [CLI, 'preload', 'status', '--url', p.url], { timeout: 30_000 })
  t.regex(stdout, /alpha\s+ready\s+\[#{30}\]\s+100\.0%/)
  t.true(stdout.includes(`${want.blocks}/${want.blocks} blocks`))
  t.regex(stdout, /invalid entry: .*bad-cid/)
})

test('survives its own restart: resumes mid-fetch without refetching local blocks, and after ready fetches nothing', async (t) => {
  const cid = await sourceContent(8 * 1024 * KiB, 16 * KiB) // ~515 blocks
  const want = await dagStat(cid)
  const desired = await desiredFile('restart', { entries: [{ name: 'big', cid }] })
  const bitswapBefore = await bitswapUnique()
  const first = await Preloader.start(t, desired, ['--concurrency', '1'])
  // Freeze the source once some blocks arrived, so the kill lands mid-fetch deterministically.
  const before = await waitFor('some blocks fetched', async () => {
    const e = await first.entry('big')
    return e !== undefined && e.blocksFetched >= 5 ? e : undefined
  }, 60_000, 20)
  source.pause()
  t.teardown(() => source.resume())
  await new Promise(resolve => setTimeout(resolve, 300))
  const atKill = await first.entry('big') ?? before
  await first.kill9()
  source.resume()
  t.log(`killed after ${atKill.blocksFetched}/${want.blocks} blocks (state ${atKill.state})`)

  const second = await Preloader.start(t, desired, ['--concurrency', '4'])
  const e2 = await second.waitReady('big')
  t.is(e2.blocksTotal, want.blocks)
  t.is(e2.bytesTotal, want.size)
  t.true(e2.blocksLocal >= atKill.blocksFetched, `resumed: ${e2.blocksLocal} local blocks, ${atKill.blocksFetched} fetched before the kill`)
  t.is(e2.blocksLocal + e2.blocksDownloaded, want.blocks)
  // The source was frozen a few blocks in, so the kill landed mid-fetch: the rest was downloaded now.
  t.not(atKill.state, 'ready')
  t.true(e2.blocksDownloaded > 0 && e2.blocksDownloaded <= want.blocks - atKill.blocksFetched, `${e2.blocksDownloaded} downloaded after the restart`)
  // The node Kubo received each block at most once over bitswap across both runs.
  t.true(await bitswapUnique() - bitswapBefore <= want.blocks)
  t.is((await pinNames()).get('preload:big'), cid)

  await second.stop()
  const received = await bitswapUnique()
  const third = await Preloader.start(t, desired)
  const e3 = await third.waitReady('big')
  t.is(e3.blocksDownloaded, 0, 'nothing refetched after ready')
  t.is(e3.blocksLocal, want.blocks)
  t.is(e3.bytesFetched, want.size)
  t.is(await bitswapUnique(), received)
})

async function bitswapUnique (): Promise<number> {
  const j = JSON.parse(await node.cli(['bitswap', 'stat', '--enc=json'])) as { BlocksReceived: number, DupBlksReceived: number }
  return Number(j.BlocksReceived) - Number(j.DupBlksReceived)
}

test('an entry that leaves the desired file (ConfigMap symlink swap) is cancelled and unpinned; the rest stays', async (t) => {
  const keep = await sourceContent(512 * KiB, 64 * KiB)
  const drop = await sourceContent(512 * KiB, 64 * KiB)
  const slow = await sourceContent(4096 * KiB, 16 * KiB)
  // A ConfigMap volume: desired.yaml -> ..data/desired.yaml, ..data -> ..<timestamp> swapped atomically.
  const dir = path.join(work, 'configmap')
  await mkdir(dir, { recursive: true })
  let gen = 0
  const publish = async (yaml: string): Promise<void> => {
    gen++
    const ts = path.join(dir, `..gen_${gen}`)
    await mkdir(ts)
    await writeFile(path.join(ts, 'desired.yaml'), yaml)
    await symlink(`..gen_${gen}`, path.join(dir, '..data_tmp'))
    await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'))
    if (gen > 1) await rm(path.join(dir, `..gen_${gen - 1}`), { recursive: true, force: true })
  }
  await publish(`entries:\n  - name: keep\n    cid: ${keep}\n  - name: drop\n    cid: ${drop}\n    nodeSelector:\n      gpu: "true"\n`)
  await symlink('..data/desired.yaml', path.join(dir, 'desired.yaml'))
  const p = await Preloader.start(t, path.join(dir, 'desired.yaml'))
  await p.waitReady('keep')
  await p.waitReady('drop')
  t.is((await pinNames()).get('preload:drop'), drop)

  // A slow entry mid-fetch (source frozen) is cancelled when it leaves the file too.
  await publish(`entries:\n  - name: keep\n    cid: ${keep}\n  - name: drop\n    cid: ${drop}\n  - name: slow\n    cid: ${slow}\n`)
  await waitFor('slow fetching', async () => { const e = await p.entry('slow'); return e !== undefined && e.blocksFetched > 0 ? e : undefined }, 60_000, 20)
  source.pause()
  t.teardown(() => source.resume())
  await publish(`entries:\n  - name: keep\n    cid: ${keep}\n`)
  const st = await waitFor('entries removed', async () => {
    const s = await p.status()
    return s.entries.length === 1 ? s : undefined
  }, 30_000)
  source.resume()
  t.deepEqual(st.entries.map(e => e.name), ['keep'])
  t.is(st.entries[0]?.state, 'ready')
  const pins = await waitFor('drop unpinned', async () => { const m = await pinNames(); return m.has('preload:drop') ? undefined : m }, 30_000)
  t.is(pins.get('preload:keep'), keep)
  t.false(pins.has('preload:slow'))
  t.false([...pins.values()].includes(drop), 'no other pin holds the dropped content')
  const metrics = await (await fetch(`${p.url}/metrics`)).text()
  t.regex(metrics, /ipfs_csi_preload_unpinned_total\{node="node-a"\} [1-9]/)
})

test('higher priority is fetched first with concurrency 1', async (t) => {
  const low = await sourceContent(1024 * KiB, 16 * KiB)
  const high = await sourceContent(1024 * KiB, 16 * KiB)
  // Listed low first: order in the file must not matter, priority does.
  const desired = await desiredFile('priority', { entries: [{ name: 'low', cid: low, priority: 1 }, { name: 'high', cid: high, priority: 100 }] })
  const p = await Preloader.start(t, desired, ['--concurrency', '1'])
  const h = await p.waitReady('high')
  const l = await p.waitReady('low')
  t.truthy(h.lastBlockAt)
  t.truthy(l.firstBlockAt)
  t.true((h.lastBlockAt as number) <= (l.firstBlockAt as number), `high finished at ${h.lastBlockAt ?? '?'}, low started at ${l.firstBlockAt ?? '?'}`)
  t.is(h.blocksDownloaded, (await dagStat(high)).blocks)
})

test('flags are validated together', async (t) => {
  const r = await execFileP(process.execPath, [CLI, 'preload', 'serve', '--desired', 'relative.yaml', '--kubo-api', 'ftp://x', '--node-labels', 'a=b,=c', '--listen', 'nope', '--concurrency', '0'], { env: { ...process.env, NODE_NAME: '' } }).then(() => ({ code: 0, stderr: '' }), (err: { code: number, stderr: string }) => err)
  t.is(r.code, 2)
  for (const s of ['--desired must be an absolute path', '--kubo-api must be', '--node-name', '--node-labels', '--listen must be', '--concurrency must be']) t.true(r.stderr.includes(s), s)
})
