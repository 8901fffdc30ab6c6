// A small HTTP server for thin handlers: routing, JSON bodies with a size limit, a deadline and an
// AbortSignal per request (aborted when the client goes away), and one error mapping at the edge.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { CsiError, Code, invalid } from '../../driver/errors.js'
import type { Logger } from '../../driver/logger.js'
import type { HttpMetrics } from '../../driver/metrics.js'
import { toHttpFailure } from './http-error.js'

export interface Reply {
  status: number
  body?: unknown
  headers?: Record<string, string>
  /** A non-JSON body (HTML docs). */
  raw?: { type: string, data: string | Uint8Array }
}

export interface RequestContext {
  req: http.IncomingMessage
  url: URL
  params: string[]
  signal: AbortSignal
  ip: string
  /** Response headers every answer gets (rate-limit headers are set here by guards). */
  headers: Record<string, string>
  /** The JSON body, parsed within the size limit. */
  json: () => Promise<unknown>
}

export type Handler = (ctx: RequestContext) => Promise<Reply>

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  /** Anchored pattern; capture groups become ctx.params (URL-decoded). */
  path: RegExp
  handler: Handler
  /** This route's deadline, when it differs from the server's. */
  timeoutMs?: number
}

export interface ServerLimits {
  maxBodyBytes: number
  maxHeaderBytes: number
  requestTimeoutMs: number
}

export interface HttpServer {
  server: http.Server
  url: string
  close: () => Promise<void>
}

async function readJson (req: http.IncomingMessage, max: number, signal: AbortSignal): Promise<unknown> {
  const type = req.headers['content-type'] ?? ''
  if (!/^application\/json\s*(;|$)/i.test(type)) throw invalid('the body must be application/json')
  const declared = Number(req.headers['content-length'] ?? NaN)
  if (Number.isFinite(declared) && declared > max) throw new CsiError(Code.OUT_OF_RANGE, `the body is larger than ${max} bytes`)
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of req) {
    if (signal.aborted) throw new CsiError(Code.CANCELLED, 'request aborted')
    n += (c as Buffer).length
    if (n > max) throw new CsiError(Code.OUT_OF_RANGE, `the body is larger than ${max} bytes`)
    chunks.push(c as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  try {
    return JSON.parse(text)
  } catch {
    throw invalid('the body is not valid JSON')
  }
}

function send (res: http.ServerResponse, reply: Reply, extra: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return
  const headers: Record<string, string> = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...extra, ...reply.headers }
  if (reply.raw !== undefined) {
    res.writeHead(reply.status, { ...headers, 'content-type': reply.raw.type })
    res.end(reply.raw.data)
  } else if (reply.body === undefined) {
    res.writeHead(reply.status, headers)
    res.end()
  } else {
    res.writeHead(reply.status, { ...headers, 'content-type': 'application/json; charset=utf-8' })
    res.end(JSON.stringify(reply.body))
  }
}

/**
 * Serves `routes` after `guard` (authentication-independent checks: load shedding, per-IP limits).
 * Unknown paths are 404, known paths with another method 405, every failure a Failure body.
 */
export async function startHttpServer (o: { host: string, port: number, routes: Route[], limits: ServerLimits, log: Logger, guard?: (ctx: RequestContext) => Promise<void>, metrics?: HttpMetrics }): Promise<HttpServer> {
  const server = http.createServer({
    maxHeaderSize: o.limits.maxHeaderBytes,
    requestTimeout: o.limits.requestTimeoutMs,
    headersTimeout: Math.min(o.limits.requestTimeoutMs, 10_000),
    // Node checks those timeouts on this interval (30 s by default): slow clients are cut off sooner.
    connectionsCheckingInterval: 1000,
    keepAliveTimeout: 5_000
  }, (req, res) => {
    const started = Date.now()
    // The matched route's pattern (a bounded set) labels the metrics, never the raw path.
    let routeLabel = 'unmatched'
    if (o.metrics !== undefined) res.once('finish', () => o.metrics?.observe(routeLabel, req.method ?? '', res.statusCode, (Date.now() - started) / 1000))
    const ac = new AbortController()
    let timer: NodeJS.Timeout | undefined
    const deadlineIn = (ms: number): void => {
      clearTimeout(timer)
      timer = setTimeout(() => ac.abort(new CsiError(Code.DEADLINE_EXCEEDED, `the request took longer than ${ms} ms`)), ms)
    }
    deadlineIn(o.limits.requestTimeoutMs)
    res.on('close', () => { clearTimeout(timer); if (!res.writableFinished) ac.abort() })
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://api.invalid')
    } catch {
      send(res, { status: 400, body: { error: { reason: 'BAD_REQUEST', details: 'malformed request target' } } }, {})
      return
    }
    const ctx: RequestContext = {
      req,
      url,
      params: [],
      signal: ac.signal,
      ip: req.socket.remoteAddress ?? 'unknown',
      headers: {},
      json: async () => await readJson(req, o.limits.maxBodyBytes, ac.signal)
    }
    const run = async (): Promise<Reply> => {
      // Limits first: a flood of unknown paths is still a flood.
      if (o.guard !== undefined) await o.guard(ctx)
      const matches = o.routes.filter(r => r.path.test(url.pathname))
      if (matches.length === 0) throw new CsiError(Code.NOT_FOUND, `no such endpoint ${url.pathname.slice(0, 128)}`)
      const route = matches.find(r => r.method === req.method)
      if (route === undefined) return { status: 405, headers: { allow: [...new Set(matches.map(r => r.method))].join(', ') }, body: { error: { reason: 'METHOD_NOT_ALLOWED', details: `${req.method ?? ''} is not allowed here` } } }
      routeLabel = route.path.source
      if (route.timeoutMs !== undefined) deadlineIn(route.timeoutMs)
      const m = route.path.exec(url.pathname) as RegExpExecArray
      try {
        ctx.params = m.slice(1).map(s => decodeURIComponent(s))
      } catch {
        throw invalid('malformed percent-encoding in the path')
      }
      const deadline = new Promise<never>((_resolve, reject) => {
        ac.signal.addEventListener('abort', () => reject(ac.signal.reason instanceof CsiError ? ac.signal.reason : new CsiError(Code.CANCELLED, 'the client went away')), { once: true })
      })
      deadline.catch(() => {})
      return await Promise.race([route.handler(ctx), deadline])
    }
    run().then((reply) => {
      send(res, reply, ctx.headers)
      o.log.debug('request', { method: req.method, path: url.pathname, status: reply.status, ms: Date.now() - started })
    }, (err: unknown) => {
      const f = toHttpFailure(err)
      // Overload answers (503/504) are expected under load: logging each would add to it.
      if (f.status === 500) o.log.error('request failed', { method: req.method, path: url.pathname, status: f.status, error: (err as Error)?.message })
      else o.log.debug('request refused', { method: req.method, path: url.pathname, status: f.status, reason: f.body.error.details })
      // A refused upload is not read to its end: close the connection instead of draining it.
      const close: Record<string, string> = f.status === 413 ? { connection: 'close' } : {}
      const later = (err as { retryAfterS?: unknown })?.retryAfterS
      if (typeof later === 'number') close['retry-after'] = String(later)
      send(res, { status: f.status, body: f.body, headers: close }, ctx.headers)
    })
  })
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
    const body = JSON.stringify({ error: { reason: status === 431 ? 'REQUEST_HEADER_FIELDS_TOO_LARGE' : status === 408 ? 'REQUEST_TIMEOUT' : 'BAD_REQUEST', details: err.code ?? 'malformed request' } })
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port, o.host, () => { server.off('error', reject); resolve() })
  })
  const addr = server.address() as AddressInfo
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return {
    server,
    url: `http://${host}:${addr.port}`,
    close: async () => {
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeIdleConnections() })
    }
  }
}
