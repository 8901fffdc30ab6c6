// A minimal HTTP/1.1 POST over a plain socket that hands the body over in the socket's own reads.
// Kubo's streaming endpoints (`cat`) send the body in 4 KiB HTTP chunks, and node:http emits one
// 'data' event (a Buffer, a tick, a listener call) per chunk: a quarter of a million per GiB was
// most of the CPU of a sequential read. Here the chunk framing is stripped in a loop over each
// 64 KiB socket read and the payload ranges go to `onData` without new Buffers.
// Only for plain http on the API address; https goes through node:https.
import net from 'node:net'

export interface RawStreamInit {
  host: string
  port: number
  path: string
  headers: Record<string, string>
  /** Payload bytes buf[start, end); called synchronously, the range is only valid during the call. */
  onData: (buf: Buffer, start: number, end: number) => void
  /** Exactly once: an error, or the HTTP status with the trailers (lower-case names). */
  onEnd: (err: Error | undefined, status: number, trailers: Record<string, string>) => void
}

const MAX_HEAD = 64 * 1024
const CRLF2 = Buffer.from('\r\n\r\n')

type State = 'head' | 'size' | 'data' | 'dataEnd' | 'trailers' | 'length' | 'done'

export function rawPost (init: RawStreamInit): { destroy: () => void } {
  const sock = net.connect({ host: init.host, port: init.port })
  sock.setNoDelay(true)
  let ended = false
  let state: State = 'head'
  let status = 0
  let pending: Buffer = Buffer.alloc(0) // unparsed framing bytes (head, size line, trailers)
  let left = 0 // payload bytes left in the current chunk (or the whole body in 'length' mode)
  const trailers: Record<string, string> = {}
  const end = (err?: Error): void => {
    if (ended) return
    ended = true
    sock.destroy()
    init.onEnd(err, status, trailers)
  }
  const fail = (why: string): void => end(new Error(why))

  const headers = Object.entries({ ...init.headers, host: `${init.host}:${init.port}`, 'content-length': '0', connection: 'close' })
    .map(([k, v]) => `${k}: ${v}\r\n`).join('')
  sock.on('connect', () => sock.write(`POST ${init.path} HTTP/1.1\r\n${headers}\r\n`))
  sock.on('error', (err) => end(err))
  sock.on('close', () => { if (!ended) fail(state === 'done' ? 'closed' : 'connection closed before the end of the response') })
  sock.on('data', (c: Buffer) => {
    if (ended) return
    let buf = pending.length > 0 ? Buffer.concat([pending, c]) : c
    pending = Buffer.alloc(0)
    let at = 0
    while (at < buf.length && !ended) {
      switch (state) {
        case 'head': {
          const i = buf.indexOf(CRLF2, at)
          if (i < 0) {
            if (buf.length - at > MAX_HEAD) { fail('response head too large'); return }
            pending = buf.subarray(at)
            return
          }
          const lines = buf.toString('latin1', at, i).split('\r\n')
          at = i + 4
          const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')
          if (m === null) { fail('not an HTTP response'); return }
          status = Number(m[1])
          const h: Record<string, string> = {}
          for (const l of lines.slice(1)) {
            const k = l.indexOf(':')
            if (k > 0) h[l.slice(0, k).trim().toLowerCase()] = l.slice(k + 1).trim()
          }
          if (status !== 200) { end(); return }
          if ((h['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) state = 'size'
          else if (h['content-length'] !== undefined) {
            left = Number(h['content-length'])
            state = 'length'
            if (left === 0) { state = 'done'; end(); return }
          } else { fail('response has neither chunked encoding nor a length'); return }
          break
        }
        case 'size': {
          const i = buf.indexOf('\r\n', at, 'latin1')
          if (i < 0) {
            if (buf.length - at > 1024) { fail('bad chunk size line'); return }
            pending = buf.subarray(at)
            return
          }
          const size = parseInt(buf.toString('latin1', at, i).split(';')[0] as string, 16)
          at = i + 2
          if (!Number.isSafeInteger(size) || size < 0) { fail('bad chunk size'); return }
          if (size === 0) state = 'trailers'
          else { left = size; state = 'data' }
          break
        }
        case 'data':
        case 'length': {
          const n = Math.min(left, buf.length - at)
          init.onData(buf, at, at + n)
          at += n
          left -= n
          if (left === 0) {
            if (state === 'length') { state = 'done'; end(); return }
            state = 'dataEnd'
          }
          break
        }
        case 'dataEnd': {
          if (buf.length - at < 2) { pending = buf.subarray(at); return }
          if (buf[at] !== 13 || buf[at + 1] !== 10) { fail('bad chunk end'); return }
          at += 2
          state = 'size'
          break
        }
        case 'trailers': {
          // Empty trailer section: CRLF right away; otherwise header lines then CRLF CRLF.
          if (buf.length - at >= 2 && buf[at] === 13 && buf[at + 1] === 10) { state = 'done'; end(); return }
          const i = buf.indexOf(CRLF2, at)
          if (i < 0) {
            if (buf.length - at > MAX_HEAD) { fail('trailers too large'); return }
            pending = buf.subarray(at)
            return
          }
          for (const l of buf.toString('latin1', at, i).split('\r\n')) {
            const k = l.indexOf(':')
            if (k > 0) trailers[l.slice(0, k).trim().toLowerCase()] = l.slice(k + 1).trim()
          }
          state = 'done'
          end()
          return
        }
        case 'done':
          return
      }
    }
    buf = Buffer.alloc(0)
  })
  return { destroy: () => { if (!ended) { ended = true; sock.destroy() } } }
}
