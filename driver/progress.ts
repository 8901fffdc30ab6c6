// Progress of long CLI work on stderr (stdout keeps the result, for pipes and --json): on a
// terminal one line redrawn in place at most every 100 ms; when piped, plain lines, one every
// `pipeEveryMs` at most, so a log file gets a trace without a flood.

export interface ProgressOptions {
  stream?: NodeJS.WriteStream
  /** Piped output: the least time between two lines. */
  pipeEveryMs?: number
  /** Terminal detection, overridable for tests. */
  tty?: boolean
}

export class Progress {
  private readonly stream: NodeJS.WriteStream
  private readonly tty: boolean
  private readonly pipeEveryMs: number
  private last = 0
  private drawn = false

  constructor (o: ProgressOptions = {}) {
    this.stream = o.stream ?? process.stderr
    this.tty = o.tty ?? this.stream.isTTY === true
    this.pipeEveryMs = o.pipeEveryMs ?? 5000
  }

  /** Shows `text` now if due (`force`: always, e.g. a stage change). */
  update (text: string, force = false): void {
    const now = Date.now()
    if (!force && now - this.last < (this.tty ? 100 : this.pipeEveryMs)) return
    this.last = now
    if (this.tty) {
      const width = this.stream.columns ?? 100
      this.stream.write(`\r\x1b[K${text.length > width - 1 ? text.slice(0, width - 2) + '…' : text}`)
      this.drawn = true
    } else {
      this.stream.write(text + '\n')
    }
  }

  /** Ends the progress display: the terminal line is cleared (the result follows on stdout). */
  done (text?: string): void {
    if (this.tty && this.drawn) this.stream.write('\r\x1b[K')
    this.drawn = false
    if (text !== undefined) this.stream.write(text + '\n')
  }
}

export function humanBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i] ?? 'B'}`
}
