// Starts an HTTP server on a host:port or a unix socket and gives back its URL and a close that
// also ends keep-alive connections: the one way the metrics and preloader status servers listen.
import type http from 'node:http'
import type { AddressInfo } from 'node:net'

export type ListenOn = { host: string, port: number } | { path: string }

export interface Listening {
  server: http.Server
  /** `http://host:port`, or the socket path. */
  url: string
  close: () => Promise<void>
}

export async function listenOn (server: http.Server, on: ListenOn): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    const done = (): void => { server.off('error', reject); resolve() }
    if ('path' in on) server.listen(on.path, done)
    else server.listen(on.port, on.host, done)
  })
  let url: string
  if ('path' in on) url = on.path
  else {
    const addr = server.address() as AddressInfo
    url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
  }
  return {
    server,
    url,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    }
  }
}
