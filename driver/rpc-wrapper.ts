// The wrapper every gRPC handler goes through: request id, child logger, timing, per-volume
// lock (ABORTED when busy), secret redaction, error mapping, metrics and one info line per
// completed call ({method, requestId, volumeId, code, ms}). Handlers stay thin.
import { randomUUID } from 'node:crypto'
import * as grpc from '@grpc/grpc-js'
import { Code, CsiError, toCsiError } from './errors.js'
import type { Logger } from './logger.js'
import { codeName, type RpcMetrics } from './metrics.js'
import { redact } from './redact.js'
import type { VolumeLocks } from './volume-locks.js'

export interface RpcContext {
  requestId: string
  log: Logger
  /** Aborted when the client cancels or the call's deadline passes; pass it on to Kubo. */
  signal: AbortSignal
}

export interface RpcDeps {
  log: Logger
  locks: VolumeLocks
  /** Absent in unit tests that build handlers without a registry. */
  metrics?: RpcMetrics
}

export interface UnaryOptions<Req> {
  /** Key to lock for the duration of the call, usually the volume id. */
  lockKey?: (req: Req) => string | undefined
}

const CLIENT_ERRORS = new Set<number>([Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.ALREADY_EXISTS, Code.ABORTED, Code.FAILED_PRECONDITION, Code.OUT_OF_RANGE, Code.RESOURCE_EXHAUSTED, Code.UNIMPLEMENTED])

export function unary<Req, Res> (deps: RpcDeps, method: string, handler: (req: Req, ctx: RpcContext) => Promise<Res>, options: UnaryOptions<Req> = {}): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const requestId = randomUUID().slice(0, 8)
    const log = deps.log.child({ method, requestId })
    const started = performance.now()
    deps.metrics?.started(method)
    const ac = new AbortController()
    call.on('cancelled', () => ac.abort(new CsiError(Code.CANCELLED, 'client cancelled the call')))
    const deadline = call.getDeadline()
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number(deadline)
    let timer: NodeJS.Timeout | undefined
    if (Number.isFinite(deadlineMs) && deadlineMs > 0) {
      timer = setTimeout(() => ac.abort(new CsiError(Code.DEADLINE_EXCEEDED, 'call deadline passed')), Math.max(0, deadlineMs - Date.now()))
    }
    log.debug('request', { request: redact(call.request) })
    let release: (() => void) | undefined
    const run = async (): Promise<Res> => {
      const key = options.lockKey?.(call.request)
      if (key !== undefined && key !== '') {
        release = deps.locks.tryAcquire(key)
        if (release === undefined) throw new CsiError(Code.ABORTED, `an operation on ${key} is already in progress`)
      }
      return await handler(call.request, { requestId, log, signal: ac.signal })
    }
    const finished = (code: number, res?: unknown): Record<string, unknown> => {
      const elapsed = performance.now() - started
      deps.metrics?.done(method, code, elapsed / 1000)
      const volumeId = volumeOf(call.request, res)
      return { ...(volumeId !== undefined ? { volumeId } : {}), code: codeName(code), ms: Math.round(elapsed) }
    }
    run().then((res) => {
      log.debug('reply', { reply: redact(res) })
      log.info('rpc done', finished(Code.OK, res))
      callback(null, res)
    }, (err: unknown) => {
      const e = toCsiError(err)
      const fields = { ...finished(e.code), error: e.message, ...(e.detail !== undefined ? { detail: e.detail } : {}) }
      if (CLIENT_ERRORS.has(e.code)) log.info('rpc refused', fields)
      else log.error('rpc failed', { ...fields, stack: (err as Error)?.stack })
      callback({ code: e.code, details: e.message, name: 'CsiError', message: e.message })
    }).finally(() => {
      release?.()
      if (timer !== undefined) clearTimeout(timer)
    })
  }
}

/** The volume an RPC is about: its volume_id, or the one CreateVolume made (absent for Probe etc.). */
function volumeOf (req: unknown, res: unknown): string | undefined {
  const r = req as { volume_id?: unknown, source_volume_id?: unknown } | null
  const id = r?.volume_id ?? r?.source_volume_id ?? (res as { volume?: { volume_id?: unknown } } | undefined)?.volume?.volume_id
  return typeof id === 'string' && id !== '' ? id : undefined
}
