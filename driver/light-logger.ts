// A winston-free logger for the FUSE server process. Every NodeStageVolume starts one such
// process, and loading winston (~80 modules) was ~100 ms of its start-up, so of the stage.
// Lines look like logger.ts's: one JSON object per line on stderr, keys sorted, level, message
// and timestamp, every secret field redacted. It implements what code running in the FUSE
// server calls (the level methods, log(), child(), isLevelEnabled()) and is typed as Logger so
// the FUSE code shared with the node service takes either logger.
import type { Logger } from './logger.js'
import { redact, SECRET_KEY } from './redact.js'

/** winston's npm levels. */
const LEVELS: Record<string, number> = { error: 0, warn: 1, info: 2, http: 3, verbose: 4, debug: 5, silly: 6 }

/** JSON with object keys sorted at every depth, as winston's json format writes it. */
function stableJson (value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
    : v)
}

export function formatLine (level: string, message: unknown, fields: Record<string, unknown>): string {
  const info: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(fields)) info[k] = SECRET_KEY.test(k) ? '***' : redact(v)
  info.level = level
  info.message = message instanceof Error ? message.message : message
  info.timestamp = new Date().toISOString()
  try {
    return stableJson(info)
  } catch (err) {
    // A field JSON cannot carry (a cycle, a BigInt) costs the fields, never the line.
    return stableJson({ level, message: String(info.message), timestamp: info.timestamp, logError: (err as Error).message })
  }
}

/** Gets each line with its level and message, so a writer can rate-limit repeats (log-bounds.ts). */
export type LineWriter = (line: string, level: string, message: string) => void

export function createLightLogger (level = 'info', component = 'ipfs-csi', write: LineWriter = (line) => { process.stderr.write(line) }): Logger {
  const max = LEVELS[level] ?? LEVELS.info as number
  const make = (meta: Record<string, unknown>): Record<string, unknown> => {
    const log = (lvl: string, message: unknown, extra?: unknown): void => {
      if ((LEVELS[lvl] ?? 0) > max) return
      const fields = extra !== null && typeof extra === 'object' && !Array.isArray(extra) ? { ...meta, ...(extra as Record<string, unknown>) } : meta
      write(formatLine(lvl, message, fields) + '\n', lvl, message instanceof Error ? message.message : String(message))
    }
    const logger: Record<string, unknown> = {
      level,
      log,
      isLevelEnabled: (lvl: string) => (LEVELS[lvl] ?? Infinity) <= max,
      child: (more: Record<string, unknown>) => make({ ...meta, ...more })
    }
    for (const lvl of Object.keys(LEVELS)) logger[lvl] = (message: unknown, extra?: unknown) => { log(lvl, message, extra) }
    return logger
  }
  return make({ component }) as unknown as Logger
}
