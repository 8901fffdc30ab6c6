// ValidateVolumeCapabilities: confirm only what we support, for the volume the id names.
import { CTX } from '../driver/constants.js'
import { invalid, notFound } from '../driver/errors.js'
import { looksLikeContentHandle, parseContentHandle } from '../driver/content-ref.js'
import type { VolumeKind } from '../driver/volume-id.js'
import type { ControllerDeps } from './deps.js'
import { firstUnsupported, type CapabilityLike } from './access-modes.js'
import { findVolume } from '../driver/record-store.js'
import { ownParameters, sameParameters } from './volume-params.js'
import { volumeContext } from './volumes.js'

export interface ValidateInput {
  volumeId: string
  capabilities: CapabilityLike[]
  context: Record<string, string>
  parameters: Record<string, string>
}

/** undefined = confirmed; otherwise why not. */
export async function validateVolume (deps: ControllerDeps, q: ValidateInput, signal: AbortSignal): Promise<string | undefined> {
  if (q.volumeId === '') throw invalid('volume_id is required')
  if (q.capabilities.length === 0) throw invalid('volume_capabilities are required')
  let kind: VolumeKind
  let ctx: Record<string, string> | undefined
  let params: Record<string, string> | undefined
  const found = await findVolume(deps.store, q.volumeId, signal)
  if (found !== undefined) {
    kind = found.record.kind
    ctx = volumeContext(found.record)
    params = found.record.params
  } else if (looksLikeContentHandle(q.volumeId)) {
    try { parseContentHandle(q.volumeId) } catch { throw notFound(`volume ${JSON.stringify(q.volumeId)} does not exist`) }
    kind = 'content'
  } else {
    throw notFound(`volume ${JSON.stringify(q.volumeId)} does not exist`)
  }
  const why = firstUnsupported(q.capabilities, kind)
  if (why !== undefined) return why
  // Capacity in a PV's context is the creation-time value and may predate an expansion: not compared.
  const givenKind = q.context[CTX.kind]
  if (givenKind !== undefined && givenKind !== kind) return `volume_context says ${CTX.kind}=${givenKind} but ${q.volumeId} is a ${kind} volume`
  const givenCid = q.context[CTX.cid]
  if (ctx !== undefined && givenCid !== undefined && ctx[CTX.cid] !== undefined && givenCid !== ctx[CTX.cid]) return `volume_context says cid=${givenCid} but ${q.volumeId} serves ${ctx[CTX.cid]}`
  const given = ownParameters(q.parameters)
  if (params !== undefined && Object.keys(given).length > 0 && !sameParameters(given, params)) return `parameters differ from those ${q.volumeId} was created with`
  return undefined
}
