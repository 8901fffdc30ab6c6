// Watches the desired-state file. A ConfigMap volume updates files by swapping the `..data`
// symlink in the file's directory, so the directory is watched (an inode watch on the file
// would keep seeing the old target). fs.watch can miss events (network filesystems, some
// overlay setups), so the file is also re-read on a timer; only a change in content counts.
import { watch, type FSWatcher } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { Logger } from '../driver/logger.js'

export interface DesiredWatcherInit {
  file: string
  pollMs: number
  log: Logger
  /** Called with the file's text when it differs from the last text seen (and once at start). */
  onText: (text: string) => void
  /** Called when the file cannot be read; the last good state stays in force. */
  onError: (message: string) => void
}

export class DesiredWatcher {
  private readonly init: DesiredWatcherInit
  private watcher?: FSWatcher
  private timer?: NodeJS.Timeout
  private debounce?: NodeJS.Timeout
  private last: string | undefined
  private lastError: string | undefined
  private reading = false
  private again = false
  private stopped = false

  constructor (init: DesiredWatcherInit) {
    this.init = init
  }

  async start (): Promise<void> {
    await this.read()
    try {
      this.watcher = watch(path.dirname(this.init.file), { persistent: false }, () => this.schedule())
      this.watcher.on('error', (err) => this.init.log.warn('watching the desired-state directory failed; polling only', { error: err.message }))
    } catch (err) {
      this.init.log.warn('cannot watch the desired-state directory; polling only', { error: (err as Error).message })
    }
    this.timer = setInterval(() => { void this.read() }, this.init.pollMs)
    this.timer.unref()
  }

  stop (): void {
    this.stopped = true
    this.watcher?.close()
    clearInterval(this.timer)
    clearTimeout(this.debounce)
  }

  /** Several events arrive for one swap; read once they settle. */
  private schedule (): void {
    clearTimeout(this.debounce)
    this.debounce = setTimeout(() => { void this.read() }, 100)
  }

  private async read (): Promise<void> {
    if (this.stopped) return
    if (this.reading) { this.again = true; return }
    this.reading = true
    try {
      const text = await readFile(this.init.file, 'utf8')
      this.lastError = undefined
      if (text !== this.last) {
        this.last = text
        this.init.onText(text)
      }
    } catch (err) {
      const msg = `cannot read desired state ${this.init.file}: ${(err as Error).message}`
      if (msg !== this.lastError) { this.lastError = msg; this.init.onError(msg) }
    } finally {
      this.reading = false
      if (this.again) { this.again = false; void this.read() }
    }
  }
}
