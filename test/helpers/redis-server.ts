// A real redis-server (Debian's) on a free loopback port, no persistence, for the API's shared limits.
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { freePort } from './free-port.js'
import { logFile } from './repo.js'
import { stopProcess } from './stop-process.js'

export class RedisServer {
  child?: ChildProcess
  port = 0

  get url (): string { return `redis://127.0.0.1:${this.port}` }

  static async start (): Promise<RedisServer> {
    const r = new RedisServer()
    r.port = await freePort()
    const out = createWriteStream(logFile('redis'), { flags: 'a' })
    const child = spawn('redis-server', ['--port', String(r.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] })
    r.child = child
    child.stderr.pipe(out)
    let text = ''
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`redis-server did not start in 30 s:\n${text}`)), 30_000)
      child.stdout.on('data', (d: Buffer) => {
        out.write(d)
        text += d.toString()
        if (/Ready to accept connections/.test(text)) { clearTimeout(t); resolve() }
      })
      child.once('exit', (code) => { clearTimeout(t); reject(new Error(`redis-server exited with ${String(code)}:\n${text}`)) })
    })
    return r
  }

  async stop (): Promise<void> {
    if (this.child != null) await stopProcess(this.child)
  }
}
