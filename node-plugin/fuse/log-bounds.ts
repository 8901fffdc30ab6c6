// Bounds on what a FUSE server writes to its log. Its stderr is a file under the host's state dir
// (node-plugin/fuse-process.ts), and a pod reading an unavailable block in a loop makes one
// warning per read: unbounded, that fills the node's disk. Two bounds apply:
//  - repeated lines (same level and message, whatever the fields) are rate-limited per window;
//  - the file itself is kept under maxBytes: past it, its content moves to `<log>.1` (replacing
//    the previous one) and the file is truncated in place, so at most 2 x maxBytes per volume.
// Truncating in place (not renaming) keeps the one open file description shared by stdout and
// stderr valid, so what Node itself prints there (a crash trace) lands in the current file too.
import { closeSync, constants as fsc, fstatSync, ftruncateSync, openSync, readlinkSync, readSync, writeSync } from 'node:fs'

export interface RepeatLimits {
  /** Lines with the same key written per window before the rest are suppressed. */
  burst: number
  windowMs: number
  /** Keys tracked at once; past it the table starts over (messages are constant strings: rare). */
  maxKeys?: number
}

interface Window { start: number, written: number, suppressed: number }

/**
 * Decides which lines to write. `admit` returns the lines to write for this one: none (suppressed),
 * the line itself, or the line preceded by a summary of what the previous window suppressed.
 */
export class RepeatLimiter {
  private readonly windows = new Map<string, Window>()

  constructor (private readonly limits: RepeatLimits, private readonly now: () => number = Date.now) {}

  admit (key: string, line: string, summary: (suppressed: number, windowMs: number) => string): string[] {
    const t = this.now()
    let w = this.windows.get(key)
    const out: string[] = []
    if (w === undefined || t - w.start >= this.limits.windowMs) {
      if (w !== undefined && w.suppressed > 0) out.push(summary(w.suppressed, this.limits.windowMs))
      if (w === undefined && this.windows.size >= (this.limits.maxKeys ?? 1000)) this.windows.clear()
      w = { start: t, written: 0, suppressed: 0 }
      this.windows.set(key, w)
    }
    if (w.written < this.limits.burst) {
      w.written++
      out.push(line)
    } else {
      w.suppressed++
      // The first suppressed line says so at once, so a reader knows the log is not complete.
      if (w.suppressed === 1) out.push(summary(0, this.limits.windowMs))
    }
    return out
  }
}

/** Where the file behind `fd` lives, if `fd` is a regular file (not a pipe or a terminal). */
export function regularFilePathOf (fd: number): string | undefined {
  try {
    if (!fstatSync(fd).isFile()) return undefined
    const p = readlinkSync(`/proc/self/fd/${fd}`)
    return p.startsWith('/') && !p.endsWith(' (deleted)') ? p : undefined
  } catch {
    return undefined
  }
}

/** Writes lines to `fd`; if `fd` is a regular file at `filePath`, keeps it under maxBytes. */
export class BoundedLogFile {
  private size: number
  /** The file and `<file>.1`, opened once up front for a server that drops root (privileges.ts). */
  private held: { src: number, dst: number } | undefined

  constructor (private readonly fd: number, private readonly filePath: string | undefined, private readonly maxBytes: number, holdFiles = false) {
    this.size = filePath !== undefined ? fstatSync(fd).size : 0
    if (filePath !== undefined && holdFiles) {
      try {
        const src = openSync(filePath, fsc.O_RDONLY | fsc.O_NOFOLLOW)
        try {
          this.held = { src, dst: openSync(`${filePath}.1`, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600) }
        } catch { closeSync(src) }
      } catch {
        // No copy at rotation then; the bound still holds.
      }
    }
  }

  write (line: string): void {
    const bytes = Buffer.from(line)
    if (this.filePath !== undefined && this.size + bytes.length > this.maxBytes) {
      // Others (Node's own warnings) may have written too: the file's real size decides.
      this.size = fstatSync(this.fd).size
      if (this.size + bytes.length > this.maxBytes) this.rotate()
    }
    try {
      writeSync(this.fd, bytes)
      this.size += bytes.length
    } catch {
      // A full disk or a closed stderr must not take the mount down with it.
    }
  }

  /** Copies the file to `<file>.1` (never through a symlink planted there), then truncates it. */
  private rotate (): void {
    const p = this.filePath as string
    if (this.held !== undefined) {
      try {
        ftruncateSync(this.held.dst, 0)
        this.copy(this.held.src, this.held.dst)
      } catch {}
    } else {
      this.copyByName(p)
    }
    try { ftruncateSync(this.fd, 0) } catch {}
    this.size = 0
  }

  private copy (src: number, dst: number): void {
    const buf = Buffer.alloc(64 * 1024)
    let copied = 0
    for (let n; copied < this.maxBytes && (n = readSync(src, buf, 0, buf.length, copied)) > 0; copied += n) {
      writeSync(dst, buf, 0, Math.min(n, this.maxBytes - copied), copied)
    }
  }

  private copyByName (p: string): void {
    try {
      const src = openSync(p, fsc.O_RDONLY | fsc.O_NOFOLLOW)
      try {
        const dst = openSync(`${p}.1`, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW, 0o600)
        try { this.copy(src, dst) } finally { closeSync(dst) }
      } finally { closeSync(src) }
    } catch {
      // No copy (a symlink at <file>.1, a full disk): the bound matters more than the old lines.
    }
  }
}

export interface LogBounds extends RepeatLimits { maxBytes: number }

export const DEFAULT_LOG_BOUNDS: LogBounds = { maxBytes: 8 * 1024 * 1024, burst: 20, windowMs: 60_000 }

/** The write function of a FUSE server's light logger: rate-limited, into a bounded stderr file. */
export function boundedStderrWriter (bounds: LogBounds, fd = 2, holdFiles = false): (line: string, level: string, message: string) => void {
  const file = new BoundedLogFile(fd, regularFilePathOf(fd), bounds.maxBytes, holdFiles)
  const limiter = new RepeatLimiter(bounds)
  return (line, level, message) => {
    const summary = (suppressed: number, windowMs: number): string => JSON.stringify({
      level: 'warn',
      message: suppressed === 0 ? 'repeats of a log line are suppressed for the rest of the window' : 'repeats of a log line were suppressed',
      repeated: { level, message },
      ...(suppressed > 0 ? { suppressed } : {}),
      timestamp: new Date().toISOString(),
      windowMs
    }) + '\n'
    for (const l of limiter.admit(`${level}\u0000${message}`, line, summary)) file.write(l)
  }
}
