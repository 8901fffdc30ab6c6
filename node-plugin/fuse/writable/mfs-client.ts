// The MFS calls a writable volume needs, each with a deadline and errno-mapped failures.
// Uploads stream a spill file from disk (fs.openAsBlob) so a large file never sits in memory.
import { openAsBlob } from 'node:fs'
import { posix } from 'node:path'
import { Code, CsiError } from '../../../driver/errors.js'
import type { Kubo, KuboArgs, KuboBody } from '../../../driver/kubo.js'
import { toFsError } from './mfs-errors.js'

export interface MfsStat {
  /** The node's CID: reading by it never races a change of the MFS path. */
  cid: string
  type: 'file' | 'directory' | 'symlink'
  size: number
  cumulativeSize: number
  /** Permission bits when MFS stores a mode for the node. */
  mode?: number
  /** Modification time in ms when MFS stores one. */
  mtimeMs?: number
}

/** Go's fs.ModeSymlink (1 << 27), as Kubo prints it in files/stat's Mode. */
const GO_MODE_SYMLINK = 2 ** 27
/** Parameters of every `add`: unpinned (MFS references protect it), CIDv1 with raw leaves. */
const ADD_PARAMS = { pin: false, 'cid-version': 1, 'raw-leaves': true, quieter: true }
/** Uploads and downloads get the metadata deadline plus time for their bytes at this floor rate. */
const MIN_BYTES_PER_S = 1024 * 1024

export function transferDeadline (baseMs: number, bytes: number): number {
  return baseMs + Math.ceil(bytes / MIN_BYTES_PER_S) * 1000
}

export class MfsClient {
  constructor (private readonly kubo: Kubo, private readonly timeoutMs: number) {}

  async stat (path: string): Promise<MfsStat> {
    const r = await this.json('files/stat', { arg: path }, `stat ${path}`)
    const modeBits = typeof r.Mode === 'string' && /^[0-7]+$/.test(r.Mode) ? parseInt(r.Mode, 8) : undefined
    const mode = modeBits !== undefined ? modeBits & 0o7777 : undefined
    // Kubo reports a UnixFS symlink as Type "file" with Go's os.ModeSymlink bit in Mode.
    const symlink = modeBits !== undefined && Math.floor(modeBits / GO_MODE_SYMLINK) % 2 === 1
    const mtimeMs = typeof r.Mtime === 'number' && r.Mtime > 0 ? r.Mtime * 1000 + Math.floor((r.MtimeNsecs ?? 0) / 1e6) : undefined
    return {
      cid: String(r.Hash ?? ''),
      type: r.Type === 'directory' ? 'directory' : symlink ? 'symlink' : 'file',
      size: Number(r.Size ?? 0),
      cumulativeSize: Number(r.CumulativeSize ?? 0),
      ...(mode !== undefined ? { mode } : {}),
      ...(mtimeMs !== undefined ? { mtimeMs } : {})
    }
  }

  async ls (path: string): Promise<string[]> {
    const r = await this.json('files/ls', { arg: path, long: true }, `ls ${path}`)
    return (r.Entries ?? []).map((e: { Name: string }) => e.Name)
  }

  async read (path: string, offset: number, count: number, timeoutMs: number): Promise<Uint8Array> {
    return await this.raw('files/read', { arg: path, offset, count }, `read ${path}`, timeoutMs)
  }

  /** A byte range of an immutable file by CID (no MFS involved). */
  async cat (cid: string, offset: number, length: number, timeoutMs: number): Promise<Uint8Array> {
    return await this.raw('cat', { arg: `/ipfs/${cid}`, offset, length }, `cat ${cid}`, timeoutMs)
  }

  async mkdir (path: string): Promise<void> { await this.raw('files/mkdir', { arg: path }, `mkdir ${path}`) }

  async mv (src: string, dest: string): Promise<void> { await this.raw('files/mv', { arg: [src, dest] }, `mv ${src} ${dest}`) }

  /** files/rm answers 200 and lists per-path failures in the body: any output is a failure. */
  async rm (path: string, recursive: boolean): Promise<void> {
    const out = new TextDecoder().decode(await this.raw('files/rm', { arg: path, recursive }, `rm ${path}`)).trim()
    if (out !== '') {
      let msg = out
      try { msg = out.split('\n').map(l => JSON.parse(l)).join('; ') } catch {}
      throw toFsError(new CsiError(Code.INTERNAL, msg), `rm ${path}`)
    }
  }

  /** Points `dest` at /ipfs/<cid>, replacing what is there. */
  async cpForce (cid: string, dest: string): Promise<void> {
    await this.raw('files/cp', { arg: [`/ipfs/${cid}`, dest], force: true }, `cp ${cid} ${dest}`)
  }

  async touch (path: string, mtimeMs: number): Promise<void> {
    const s = Math.floor(mtimeMs / 1000)
    const ns = Math.max(0, Math.round((mtimeMs - s * 1000) * 1e6))
    await this.raw('files/touch', { arg: path, mtime: s, 'mtime-nsecs': ns }, `touch ${path}`)
  }

  async chmod (path: string, mode: number): Promise<void> {
    await this.raw('files/chmod', { arg: ['0' + (mode & 0o7777).toString(8), path] }, `chmod ${path}`)
  }

  async flush (path: string): Promise<void> { await this.raw('files/flush', { arg: path }, `flush ${path}`) }

  /** Adds small in-memory content (e.g. an empty file). */
  async addBytes (data: Uint8Array): Promise<string> {
    const body = await this.raw('add', ADD_PARAMS, 'add', this.timeoutMs, { data })
    return cidOf(body)
  }

  /** Adds a UnixFS symlink whose target is `target` (the text, never followed). */
  async addSymlink (target: string): Promise<string> {
    return cidOf(await this.raw('add', ADD_PARAMS, 'add symlink', this.timeoutMs, { data: new TextEncoder().encode(target), type: 'application/symlink' }))
  }

  /**
   * Places the symlink `cid` at `dest`, which must not exist (EEXIST). Kubo's cp flushes what it
   * made, and a symlink cannot be flushed as a file ("symlinks not yet supported"): its parent is.
   */
  async cpSymlink (cid: string, dest: string): Promise<void> {
    await this.raw('files/cp', { arg: [`/ipfs/${cid}`, dest], flush: false }, `cp ${cid} ${dest}`)
    await this.flush(posix.dirname(dest))
  }

  /** Adds a file from local disk, streamed; the deadline grows with its size. */
  async addFile (localPath: string, size: number): Promise<string> {
    const what = `add ${size} bytes`
    let blob: Blob
    try {
      blob = await openAsBlob(localPath)
    } catch (err) {
      throw toFsError(err, what)
    }
    return cidOf(await this.raw('add', ADD_PARAMS, what, transferDeadline(this.timeoutMs, size), { data: blob }))
  }

  private async raw (endpoint: string, args: KuboArgs, what: string, timeoutMs = this.timeoutMs, body?: KuboBody): Promise<Uint8Array> {
    try {
      return await this.kubo.post(endpoint, args, undefined, timeoutMs, body)
    } catch (err) {
      throw toFsError(err, what)
    }
  }

  private async json (endpoint: string, args: KuboArgs, what: string): Promise<any> {
    const text = new TextDecoder().decode(await this.raw(endpoint, args, what)).trim()
    try {
      return JSON.parse(text)
    } catch {
      throw toFsError(new CsiError(Code.INTERNAL, `unexpected reply ${JSON.stringify(text.slice(0, 200))}`), what)
    }
  }
}

/** The CID of an `add` reply (the last JSON line); a reply without one means the add failed. */
function cidOf (body: Uint8Array): string {
  const lines = new TextDecoder().decode(body).trim().split('\n').filter(l => l !== '')
  let hash: unknown
  try { hash = JSON.parse(lines[lines.length - 1] ?? 'null')?.Hash } catch {}
  if (typeof hash !== 'string' || hash === '') throw toFsError(new CsiError(Code.INTERNAL, `add returned no CID: ${lines.join(' ').slice(0, 200)}`), 'add')
  return hash
}
