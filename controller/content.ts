// Turning what a request names (a CID and path, an IPNS name, an MFS directory) into one fixed
// CID and its size. Resolution happens once, at CreateVolume / CreateSnapshot.
import { CID } from 'multiformats/cid'
import type { Kubo } from '../driver/kubo.js'
import { CsiError, Code, invalid } from '../driver/errors.js'

export interface ResolvedContent {
  cid: CID
  /** Bytes of the file, or cumulative size of the directory DAG. */
  size: number
  type: 'file' | 'directory'
}

interface FilesStat { Hash: string, Size: number, CumulativeSize: number, Type: string }

/** `/ipfs/<cid>/<a>/<b>` or `/ipns/<name>/<a>/<b>` (segments already validated). */
export function contentPath (root: string, path: string[]): string {
  return [root, ...path].join('/')
}

/** Resolves an /ipfs or /ipns path to the CID it names; a missing path or name → NOT_FOUND. */
export async function resolveToCid (kubo: Kubo, path: string, signal: AbortSignal): Promise<CID> {
  let res: { Path?: string }
  try {
    res = await kubo.postJson<{ Path?: string }>('resolve', { arg: path, recursive: true }, signal)
  } catch (err) {
    if (err instanceof CsiError && err.code === Code.INTERNAL) throw new CsiError(Code.NOT_FOUND, `cannot resolve ${path}: ${err.message}`, { cause: err })
    throw err
  }
  const m = /^\/ipfs\/([A-Za-z0-9]+)$/.exec(res?.Path ?? '')
  if (m == null) throw new CsiError(Code.NOT_FOUND, `${path} does not resolve to a CID (got ${JSON.stringify(res?.Path)})`)
  return CID.parse(m[1] as string)
}

/** Size and type of UnixFS content; anything that is not a UnixFS file or directory → INVALID_ARGUMENT. */
export async function statContent (kubo: Kubo, cid: CID, signal: AbortSignal): Promise<ResolvedContent> {
  let st: FilesStat
  try {
    st = await kubo.postJson<FilesStat>('files/stat', { arg: `/ipfs/${cid.toString()}` }, signal)
  } catch (err) {
    if (err instanceof CsiError && err.reason === 'not-unixfs') throw invalid(`content ${cid.toString()} is not a UnixFS file or directory`)
    throw err
  }
  if (st.Type !== 'file' && st.Type !== 'directory') throw invalid(`content ${cid.toString()} is a ${st.Type}, not a UnixFS file or directory`)
  return { cid, size: st.Type === 'file' ? st.Size : st.CumulativeSize, type: st.Type }
}

export async function resolveContent (kubo: Kubo, path: string, signal: AbortSignal): Promise<ResolvedContent> {
  return await statContent(kubo, await resolveToCid(kubo, path, signal), signal)
}

/** The current CID of an MFS directory, after flushing what Kubo buffers. */
export async function mfsSnapshot (kubo: Kubo, mfsPath: string, signal: AbortSignal): Promise<ResolvedContent> {
  await kubo.post('files/flush', { arg: mfsPath }, signal)
  const st = await kubo.postJson<FilesStat>('files/stat', { arg: mfsPath, hash: true }, signal)
  if (st.Type !== 'directory') throw new CsiError(Code.INTERNAL, `MFS ${mfsPath} is a ${st.Type}, expected a directory`)
  return { cid: CID.parse(st.Hash), size: st.CumulativeSize, type: 'directory' }
}

/** True when the MFS path exists. */
export async function mfsExists (kubo: Kubo, mfsPath: string, signal: AbortSignal): Promise<boolean> {
  try {
    await kubo.postJson('files/stat', { arg: mfsPath }, signal)
    return true
  } catch (err) {
    if (err instanceof CsiError && err.reason === 'not-found') return false
    throw err
  }
}

/** Removes an MFS tree; a missing one is fine. Checks afterwards, as Kubo reports some errors with status 200. */
export async function mfsRemove (kubo: Kubo, mfsPath: string, signal: AbortSignal): Promise<void> {
  try {
    await kubo.post('files/rm', { arg: mfsPath, recursive: true, force: true }, signal)
  } catch (err) {
    if (!(err instanceof CsiError && err.reason === 'not-found')) throw err
  }
  if (await mfsExists(kubo, mfsPath, signal)) throw new CsiError(Code.INTERNAL, `could not remove MFS ${mfsPath}`)
}
