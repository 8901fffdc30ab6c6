// winston JSON logs on stderr. Secrets never reach a log line: `redact` masks every field
// whose name says it holds a secret, at any depth, before anything is logged.
import winston from 'winston'
import { redact, SECRET_KEY } from './redact.js'

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
  // Not defaultMeta: winston applies it over a child's fields, so child({ component }) was lost.
  const componentFormat = winston.format((info) => { info.component ??= component; return info })
  return winston.createLogger({
    level,
    format: winston.format.combine(componentFormat(), redactFormat(), winston.format.timestamp(), winston.format.errors({ stack: false }), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] })]
  })
}
