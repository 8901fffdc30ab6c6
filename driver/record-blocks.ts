// Records in Kubo (the API's pins and tokens, the model index): small blocks (dag-cbor or
// dag-json) pinned direct under a name that says what they are, so every replica sees the same
// state and nothing lives on local disk.
import type { CID } from 'multiformats/cid'
import * as dagCbor from '@ipld/dag-cbor'
import { CsiError, Code } from './errors.js'
import type { Kubo } from './kubo.js'
import { RecordStore, type NamedPin } from './record-store.js'

export interface Block { cid: CID, bytes: Uint8Array }

const CODEC_NAMES: Record<number, string> = { [dagCbor.code]: 'dag-cbor', 0x0129: 'dag-json' }

export class RecordBlocks {
  readonly store: RecordStore

  constructor (readonly kubo: Kubo) {
    this.store = new RecordStore(kubo)
  }

  /** Stores a block; Kubo must compute the same CID. */
  async put (block: Block, signal: AbortSignal): Promise<void> {
    const codec = CODEC_NAMES[block.cid.code]
    if (codec === undefined) throw new CsiError(Code.INTERNAL, `no codec name for ${block.cid.code}`)
    const put = await this.kubo.post('block/put', { 'cid-codec': codec, mhtype: 'sha2-256', pin: false }, signal, undefined, { data: block.bytes, name: 'record' })
    const key = (JSON.parse(new TextDecoder().decode(put)) as { Key: string }).Key
    if (key !== block.cid.toString()) throw new CsiError(Code.INTERNAL, `Kubo stored a record as ${key}, expected ${block.cid.toString()}`)
  }

  /** Stores a block and pins it direct (its links are not followed) under `name`. */
  async putDirect (block: Block, name: string, signal: AbortSignal): Promise<void> {
    await this.put(block, signal)
    await this.kubo.post('pin/add', { arg: block.cid.toString(), recursive: false, name }, signal)
  }

  /** A block's bytes (the caller checks them against the CID when decoding). */
  async get (cid: CID, signal: AbortSignal): Promise<Uint8Array> {
    return await this.kubo.post('block/get', { arg: cid.toString() }, signal)
  }

  /** Direct pins named exactly `name`. */
  async directNamed (name: string, signal: AbortSignal): Promise<NamedPin[]> {
    return (await this.store.pinsNamed(name, signal, 'direct')).filter(p => p.name === name)
  }
}
