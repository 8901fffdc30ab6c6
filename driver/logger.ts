// winston JSON logs on stderr. Secrets never reach a log line: `redact` masks every field
// whose name says it holds a secret, at any depth, before anything is logged.
import winston from 'winston'

const SECRET_KEY = /secret|token|password|authorization|swarm\.?key|credential/i

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

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message') continue
    const v = (info as Record<string, unknown>)[key]
    ;(info as Record<string, unknown>)[key] = SECRET_KEY.test(key) ? '***' : redact(v)
  }
  return info
})

export type Logger = winston.Logger

export function createLogger (level: string = 'info', component = 'ipfs-csi'): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { component },
    format: winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.errors({ stack: false }), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] })]
  })
}
