// Decodes a verified block into the UnixFS node it holds. The UnixFS `Data` protobuf is read by
// hand (it is small) so we know whether mode and mtime were present, and get hashType and fanout
// of HAMT shards, which ipfs-unixfs' unmarshal drops or defaults.
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import { CsiError, Code } from '../driver/errors.js'

export const CODEC_RAW = 0x55
export const CODEC_DAG_PB = 0x70

export interface PbLink { name: string, cid: CID, tsize: number }

interface Meta {
  /** Permission bits stored in the node, when it has them. */
  mode?: number
  /** Modification time in ms since the epoch, when stored. */
  mtimeMs?: number
}

export type UnixfsNode =
  | (Meta & { kind: 'file', size: number, /** bytes held by this node before its children */ data: Uint8Array, children: Array<{ cid: CID, size: number }> })
  | (Meta & { kind: 'directory', links: PbLink[] })
  | (Meta & { kind: 'hamt', links: PbLink[], fanout: number, hashType: number })
  | (Meta & { kind: 'symlink', target: Uint8Array })

export interface UnixfsData {
  type: number
  data?: Uint8Array
  fileSize?: bigint
  blockSizes: bigint[]
  hashType?: bigint
  fanout?: bigint
  mode?: number
  mtime?: { secs: bigint, nsecs: number }
}

const T = { RAW: 0, DIRECTORY: 1, FILE: 2, METADATA: 3, SYMLINK: 4, HAMT: 5 } as const

function bad (cid: CID, why: string): CsiError {
  return new CsiError(Code.DATA_LOSS, `block ${cid.toString()} is not valid UnixFS: ${why}`)
}

export function decodeNode (cid: CID, bytes: Uint8Array): UnixfsNode {
  if (cid.code === CODEC_RAW) return { kind: 'file', size: bytes.byteLength, data: bytes, children: [] }
  if (cid.code !== CODEC_DAG_PB) throw bad(cid, `codec 0x${cid.code.toString(16)} is neither dag-pb nor raw`)
  let pb: dagPb.PBNode
  try {
    pb = dagPb.decode(bytes)
  } catch (err) {
    throw bad(cid, `dag-pb: ${(err as Error).message}`)
  }
  if (pb.Data === undefined) throw bad(cid, 'dag-pb node has no UnixFS data')
  let d: UnixfsData
  try {
    d = decodeUnixfsData(pb.Data)
  } catch (err) {
    throw bad(cid, (err as Error).message)
  }
  const meta: Meta = {}
  if (d.mode !== undefined) meta.mode = d.mode & 0o7777
  if (d.mtime !== undefined) meta.mtimeMs = Number(d.mtime.secs) * 1000 + Math.floor(d.mtime.nsecs / 1e6)
  const links = (): PbLink[] => pb.Links.map(l => ({ name: l.Name ?? '', cid: l.Hash, tsize: l.Tsize ?? 0 }))
  switch (d.type) {
    case T.RAW:
    case T.FILE: {
      const data = d.data ?? new Uint8Array(0)
      if (d.blockSizes.length !== pb.Links.length) throw bad(cid, `file has ${pb.Links.length} links but ${d.blockSizes.length} block sizes`)
      const children = pb.Links.map((l, i) => ({ cid: l.Hash, size: safeNumber(cid, d.blockSizes[i] as bigint) }))
      const size = children.reduce((s, c) => s + c.size, data.byteLength)
      return { ...meta, kind: 'file', size, data, children }
    }
    case T.DIRECTORY: return { ...meta, kind: 'directory', links: links() }
    case T.HAMT: {
      const fanout = Number(d.fanout ?? 0n)
      if (!(fanout >= 2 && fanout <= 1024 && (fanout & (fanout - 1)) === 0)) throw bad(cid, `HAMT fanout ${fanout} is not a power of two in 2..1024`)
      return { ...meta, kind: 'hamt', links: links(), fanout, hashType: Number(d.hashType ?? 0n) }
    }
    case T.SYMLINK: return { ...meta, kind: 'symlink', target: d.data ?? new Uint8Array(0) }
    default: throw bad(cid, `UnixFS type ${d.type} is not served`)
  }
}

function safeNumber (cid: CID, n: bigint): number {
  if (n < 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(cid, `block size ${n} is out of range`)
  return Number(n)
}

/** Minimal protobuf reader for the UnixFS `Data` message (proto2). */
export function decodeUnixfsData (buf: Uint8Array): UnixfsData {
  const out: UnixfsData = { type: -1, blockSizes: [] }
  let pos = 0
  const varint = (): bigint => {
    let result = 0n
    let shift = 0n
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint')
      const b = buf[pos++] as number
      result |= BigInt(b & 0x7f) << shift
      if ((b & 0x80) === 0) return result
      shift += 7n
      if (shift > 63n) throw new Error('varint too long')
    }
  }
  const bytes = (): Uint8Array => {
    const len = Number(varint())
    if (pos + len > buf.length) throw new Error('truncated field')
    const b = buf.subarray(pos, pos + len)
    pos += len
    return b
  }
  const skip = (wire: number): void => {
    if (wire === 0) varint()
    else if (wire === 1) pos += 8
    else if (wire === 2) bytes()
    else if (wire === 5) pos += 4
    else throw new Error(`unsupported wire type ${wire}`)
    if (pos > buf.length) throw new Error('truncated field')
  }
  while (pos < buf.length) {
    const key = Number(varint())
    const field = key >>> 3
    const wire = key & 7
    if (field === 1 && wire === 0) out.type = Number(varint())
    else if (field === 2 && wire === 2) out.data = bytes()
    else if (field === 3 && wire === 0) out.fileSize = varint()
    else if (field === 4 && wire === 0) out.blockSizes.push(varint())
    else if (field === 4 && wire === 2) { // packed
      const end = pos + Number(varint())
      if (end > buf.length) throw new Error('truncated packed field')
      while (pos < end) out.blockSizes.push(varint())
    } else if (field === 5 && wire === 0) out.hashType = varint()
    else if (field === 6 && wire === 0) out.fanout = varint()
    else if (field === 7 && wire === 0) out.mode = Number(varint() & 0xffffffffn)
    else if (field === 8 && wire === 2) out.mtime = decodeMtime(bytes())
    else skip(wire)
  }
  if (out.type < 0) throw new Error('UnixFS data has no type')
  return out
}

function decodeMtime (buf: Uint8Array): { secs: bigint, nsecs: number } {
  let pos = 0
  let secs = 0n
  let nsecs = 0
  while (pos < buf.length) {
    const key = buf[pos++] as number
    if (key === 0x08) { // seconds, int64 varint
      let v = 0n
      let shift = 0n
      for (;;) {
        if (pos >= buf.length) throw new Error('truncated mtime')
        const b = buf[pos++] as number
        v |= BigInt(b & 0x7f) << shift
        if ((b & 0x80) === 0) break
        shift += 7n
      }
      secs = BigInt.asIntN(64, v)
    } else if (key === 0x15) { // fractionalNanoseconds, fixed32
      if (pos + 4 > buf.length) throw new Error('truncated mtime')
      nsecs = new DataView(buf.buffer, buf.byteOffset + pos, 4).getUint32(0, true)
      pos += 4
    } else {
      throw new Error(`unexpected mtime field key ${key}`)
    }
  }
  if (nsecs > 999_999_999) nsecs = 0
  return { secs, nsecs }
}
