// Secret masking for log lines, shared by the winston logger (logger.ts) and the FUSE server's
// light logger (light-logger.ts), which must not load winston.

/** Field names that hold secrets: their values never reach a log line. */
export const SECRET_KEY = /secret|token|password|authorization|swarm\.?key|credential/i

export function redact (value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `<${value.length} bytes>`
  if (Array.isArray(value)) return value.map(v => redact(v, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) ? (v == null || (typeof v === 'object' && Object.keys(v).length === 0) ? v : '***') : redact(v, depth + 1)
  }
  return out
}
