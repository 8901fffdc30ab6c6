// A loopback port that was free a moment ago and not handed out before in this process, for
// daemons that need a fixed port (cluster peers that must find each other, a Kubo restarted in place).
import { createServer } from 'node:net'

const handedOut = new Set<number>()

export async function freePort (): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer()
      s.once('error', reject)
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port
        s.close(() => resolve(p))
      })
    })
    if (!handedOut.has(port)) { handedOut.add(port); return port }
  }
}
