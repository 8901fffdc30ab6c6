// Kubo's RPC API answers a failure with a status and a body `{"Message": ..., "Code": n}`. Its
// `Code` is coarse (most failures are 0, "normal"), so which failure it was is only in the
// message. This is the one place that reads that text: it turns Kubo's answer into a CsiError
// with a gRPC code and, where callers must tell causes apart, a Reason. Everything above
// classifies by those, never by message.
import { Code, CsiError, type Reason } from './errors.js'

/** Kubo's messages (go-ipfs-cmds, boxo, MFS, pinner) → cause. First match wins. */
const RULES: Array<[RegExp, Code, Reason | undefined]> = [
  [/not pinned/i, Code.NOT_FOUND, 'not-pinned'],
  [/does not exist|no link named|not found|could not resolve|no such file/i, Code.NOT_FOUND, 'not-found'],
  [/already exists|already has entry/i, Code.ALREADY_EXISTS, 'exists'],
  [/not a directory/i, Code.FAILED_PRECONDITION, 'not-directory'],
  [/was not a file|is a directory/i, Code.FAILED_PRECONDITION, 'is-directory'],
  [/not empty/i, Code.FAILED_PRECONDITION, 'not-empty'],
  [/not unixfs|unrecognized node type|not supported/i, Code.FAILED_PRECONDITION, 'not-unixfs'],
  // Kubo's own `timeout` option (and its internal deadlines) ran out.
  [/context deadline exceeded/i, Code.DEADLINE_EXCEEDED, undefined]
]

/** The message of a Kubo error body (JSON or plain text), trimmed and bounded. */
export function kuboMessage (body: Uint8Array | string): string {
  let msg = typeof body === 'string' ? body : new TextDecoder().decode(body)
  try { msg = JSON.parse(msg).Message ?? msg } catch {}
  return String(msg).trim().slice(0, 500)
}

/** A CsiError for a failed Kubo call: HTTP status first, then the message rules. */
export function kuboError (endpoint: string, status: number, message: string): CsiError {
  const text = `kubo ${endpoint}: ${message !== '' ? message : `HTTP ${status}`}`
  if (status === 401 || status === 403) return new CsiError(Code.PERMISSION_DENIED, text)
  for (const [re, code, reason] of RULES) {
    if (re.test(message)) return new CsiError(code, text, reason !== undefined ? { reason } : undefined)
  }
  // 404 without a known message: Kubo does not have this endpoint (or it is not allowed).
  if (status === 404) return new CsiError(Code.UNIMPLEMENTED, text)
  return new CsiError(Code.INTERNAL, text)
}
