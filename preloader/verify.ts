// Integrity check of one DAG: every block is read back from Kubo and re-hashed (through the same
// verified BlockFetcher the mounts use), and a checksum manifest at the DAG's root is checked:
// `SHA256SUMS` (sha256sum format) hashes the named files streamed through the verified reader;
// `model.safetensors.index.json` must name shards that exist as files.
import PQueue from 'p-queue'
import type { CID } from 'multiformats/cid'
import { Code, CsiError, toCsiError } from '../driver/errors.js'
import type { Kubo } from '../driver/kubo.js'
import type { Logger } from '../driver/logger.js'
import type { BlockFetcher } from '../content/block-fetcher.js'
import type { ContentTree } from '../content/content-tree.js'
import type { UnixfsNode } from '../content/unixfs-node.js'
import { IDENTITY } from '../content/verify-block.js'
import { blockLinks } from '../content/block-links.js'
import { resolvePath, type ResolvedPath } from '../content/resolve-path.js'
import { sha256Of } from '../content/file-hash.js'

export interface BlockProblem { cid: string, kind: 'corrupt' | 'missing' | 'undecodable', error: string }
export interface FileProblem { manifest: string, file: string, error: string }

export interface VerifyReport {
  cid: string
  ok: boolean
  blocks: number
  bytes: number
  blockProblems: BlockProblem[]
  manifests: Array<{ name: string, files: number, ok: boolean }>
  fileProblems: FileProblem[]
}

export interface VerifyInit {
  kubo: Kubo
  fetcher: BlockFetcher
  tree: ContentTree
  log: Logger
  /** Judge only what this Kubo holds: a block it does not have is missing (no network search). */
  offline: boolean
  concurrency: number
  timeoutMs: number
  /** Called after each block is verified (blocks and bytes so far, blocks still queued). */
  onProgress?: (p: { blocks: number, bytes: number, queued: number }) => void
}

export const SUMS_FILE = 'SHA256SUMS'
export const SAFETENSORS_INDEX = 'model.safetensors.index.json'
const CHUNK = 1024 * 1024
const MAX_INDEX_BYTES = 64 * 1024 * 1024

export async function verifyDag (init: VerifyInit, root: CID, signal: AbortSignal): Promise<VerifyReport> {
  const report: VerifyReport = { cid: root.toString(), ok: false, blocks: 0, bytes: 0, blockProblems: [], manifests: [], fileProblems: [] }
  const queue = new PQueue({ concurrency: init.concurrency })
  const seen = new Set<string>([root.toString()])
  const visit = (cid: CID): void => {
    queue.add(async () => {
      if (signal.aborted) return
      const key = cid.toString()
      if (init.offline) {
        try {
          await init.kubo.post('block/stat', { arg: key, offline: true }, signal, init.timeoutMs)
        } catch (err) {
          const e = toCsiError(err)
          if (e.code === Code.NOT_FOUND) { report.blockProblems.push({ cid: key, kind: 'missing', error: 'not in this Kubo\'s repo' }); return }
          throw e
        }
      }
      let bytes: Uint8Array
      try {
        bytes = await init.fetcher.get(cid, signal)
      } catch (err) {
        const e = toCsiError(err)
        report.blockProblems.push({ cid: key, kind: e.code === Code.DATA_LOSS ? 'corrupt' : 'missing', error: e.message })
        return
      }
      report.blocks++
      report.bytes += bytes.byteLength
      init.onProgress?.({ blocks: report.blocks, bytes: report.bytes, queued: queue.size + queue.pending })
      let links
      try {
        links = blockLinks(cid, bytes)
      } catch (err) {
        report.blockProblems.push({ cid: key, kind: 'undecodable', error: (err as Error).message })
        return
      }
      for (const l of links) {
        const k = l.cid.toString()
        if (seen.has(k)) continue
        seen.add(k)
        if (l.cid.multihash.code === IDENTITY) continue // the CID is the block
        visit(l.cid)
      }
    }).catch((err: unknown) => {
      report.blockProblems.push({ cid: cid.toString(), kind: 'missing', error: toCsiError(err).message })
    })
  }
  visit(root)
  await queue.onIdle()
  if (signal.aborted) throw new CsiError(Code.DEADLINE_EXCEEDED, 'verification did not finish in time')
  await checkManifests(init, root, report, signal)
  report.ok = report.blockProblems.length === 0 && report.fileProblems.length === 0
  return report
}

async function checkManifests (init: VerifyInit, root: CID, report: VerifyReport, signal: AbortSignal): Promise<void> {
  let dir: UnixfsNode
  try {
    dir = await init.tree.node(root, signal)
  } catch {
    return // not UnixFS (or the root is bad, already reported)
  }
  if (dir.kind !== 'directory' && dir.kind !== 'hamt') return
  const sums = await lookupSafe(init, dir, root, SUMS_FILE, signal)
  if (sums !== undefined) await checkSums(init, root, sums, report, signal)
  const index = await lookupSafe(init, dir, root, SAFETENSORS_INDEX, signal)
  if (index !== undefined) await checkSafetensorsIndex(init, root, index, report, signal)
}

async function lookupSafe (init: VerifyInit, dir: UnixfsNode, dirCid: CID, name: string, signal: AbortSignal): Promise<CID | undefined> {
  try {
    return await init.tree.lookup(dir, dirCid, name, signal)
  } catch {
    return undefined
  }
}

/** Resolves `a/b/c` under root; a missing component reads "no such file" in the report. */
async function resolve (init: VerifyInit, root: CID, rel: string, signal: AbortSignal): Promise<ResolvedPath> {
  try {
    return await resolvePath(init.tree, root, rel.split('/').filter(p => p !== '' && p !== '.'), signal)
  } catch (err) {
    if (err instanceof CsiError && err.code === Code.NOT_FOUND) throw new Error(`${rel}: no such file`)
    if (err instanceof CsiError && err.code === Code.INVALID_ARGUMENT) throw new Error(`${rel}: a parent is not a directory`)
    throw err
  }
}

async function readAll (init: VerifyInit, node: UnixfsNode, max: number, signal: AbortSignal): Promise<Buffer> {
  if (node.kind !== 'file') throw new Error('not a regular file')
  if (node.size > max) throw new Error(`larger than ${max} bytes`)
  const buf = Buffer.alloc(node.size)
  let pos = 0
  while (pos < node.size) pos += await init.tree.read(node, pos, Math.min(CHUNK, node.size - pos), buf.subarray(pos), signal)
  return buf
}

/** One `sha256sum` line: `<hex>  <name>` (text) or `<hex> *<name>` (binary); `\`-prefixed lines escape the name. */
export function parseSumsLine (line: string): { hex: string, file: string } | undefined {
  let l = line
  let escaped = false
  if (l.startsWith('\\')) { escaped = true; l = l.slice(1) }
  const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(l)
  if (m === null) return undefined
  let file = m[2] as string
  if (escaped) file = file.replace(/\\(\\|n|r)/g, (_s, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : '\\'))
  return { hex: (m[1] as string).toLowerCase(), file: file.replace(/^\.\//, '') }
}

async function checkSums (init: VerifyInit, root: CID, sumsCid: CID, report: VerifyReport, signal: AbortSignal): Promise<void> {
  const problemsBefore = report.fileProblems.length
  let text: string
  try {
    text = (await readAll(init, await init.tree.node(sumsCid, signal), MAX_INDEX_BYTES, signal)).toString('utf8')
  } catch (err) {
    report.fileProblems.push({ manifest: SUMS_FILE, file: SUMS_FILE, error: `cannot read the manifest: ${(err as Error).message}` })
    report.manifests.push({ name: SUMS_FILE, files: 0, ok: false })
    return
  }
  let files = 0
  const lines = text.split('\n')
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '' || line.startsWith('#')) continue
    const parsed = parseSumsLine(line.replace(/\r$/, ''))
    if (parsed === undefined) { report.fileProblems.push({ manifest: SUMS_FILE, file: `line ${i + 1}`, error: 'not a sha256sum line (<64 hex digits> <space><space or *><name>)' }); continue }
    files++
    try {
      const { node } = await resolve(init, root, parsed.file, signal)
      const got = await sha256Of(init.tree, node, signal)
      if (got !== parsed.hex) report.fileProblems.push({ manifest: SUMS_FILE, file: parsed.file, error: `sha256 is ${got}, the manifest says ${parsed.hex}` })
    } catch (err) {
      report.fileProblems.push({ manifest: SUMS_FILE, file: parsed.file, error: (err as Error).message })
    }
  }
  report.manifests.push({ name: SUMS_FILE, files, ok: report.fileProblems.length === problemsBefore })
}

async function checkSafetensorsIndex (init: VerifyInit, root: CID, indexCid: CID, report: VerifyReport, signal: AbortSignal): Promise<void> {
  const problemsBefore = report.fileProblems.length
  let shards: string[] = []
  try {
    const index = JSON.parse((await readAll(init, await init.tree.node(indexCid, signal), MAX_INDEX_BYTES, signal)).toString('utf8')) as { weight_map?: unknown }
    if (index.weight_map === null || typeof index.weight_map !== 'object' || Array.isArray(index.weight_map)) throw new Error('no weight_map object')
    shards = [...new Set(Object.values(index.weight_map as Record<string, unknown>).map(String))]
  } catch (err) {
    report.fileProblems.push({ manifest: SAFETENSORS_INDEX, file: SAFETENSORS_INDEX, error: `cannot read the index: ${(err as Error).message}` })
  }
  for (const shard of shards) {
    try {
      const { node } = await resolve(init, root, shard, signal)
      if (node.kind !== 'file') throw new Error(`${shard}: not a regular file`)
      if (node.size < 8) throw new Error(`${shard}: ${node.size} bytes, too short for a safetensors header`)
    } catch (err) {
      report.fileProblems.push({ manifest: SAFETENSORS_INDEX, file: shard, error: (err as Error).message })
    }
  }
  report.manifests.push({ name: SAFETENSORS_INDEX, files: shards.length, ok: report.fileProblems.length === problemsBefore })
}
