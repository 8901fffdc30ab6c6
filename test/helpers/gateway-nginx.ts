// The public gateway's nginx for tests and the benchmark: Debian's nginx running the very template
// deploy/ ships (deploy/base/gateway/nginx-gateway.conf.template), rendered with loopback ports,
// a test CA and the given backends. Requests go over real TLS with SNI to names under the test
// domain, all resolved to 127.0.0.1.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import https from 'node:https'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { freePort } from './free-port.js'
import { ROOT, logFile } from './repo.js'
import { stopProcess } from './stop-process.js'

const execFileP = promisify(execFile)
export const NGINX_TEMPLATE = path.join(ROOT, 'deploy', 'base', 'gateway', 'nginx-gateway.conf.template')
export const NGINX_BIN = '/usr/sbin/nginx'
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** Substitutes ${GATEWAY_*} as the nginx image's envsubst does; any placeholder left is an error. */
export function renderGatewayTemplate (template: string, vars: Record<string, string>): string {
  const out = template.replace(/\$\{(GATEWAY_[A-Z0-9_]+)\}/g, (_m, name: string) => {
    const v = vars[name]
    if (v === undefined) throw new Error(`no value for \${${name}} in the gateway template`)
    return v
  })
  return out
}

export interface TestCa { dir: string, caCert: string, cert: string, key: string }

/** A throwaway CA and a server certificate for DOMAIN and *.ipfs.DOMAIN. */
export async function makeTestCa (dir: string, domain: string): Promise<TestCa> {
  const f = (n: string): string => path.join(dir, n)
  const ossl = async (args: string[]): Promise<void> => { await execFileP('openssl', args, { timeout: 60_000 }) }
  await ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=ipfs-csi test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  await ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', `/CN=${domain}`])
  await writeFile(f('ext.cnf'), `subjectAltName=DNS:${domain},DNS:*.ipfs.${domain}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`)
  await ossl(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('ext.cnf')])
  return { dir, caCert: await readFile(f('ca.crt'), 'utf8'), cert: f('server.crt'), key: f('server.key') }
}

export interface GatewayNginxOptions {
  /** host:port of every gateway Kubo. */
  backends: string[]
  domain?: string
  rate?: string
  burst?: number
  conn?: number
  cacheMaxSize?: string
  workers?: number
  /** host:port (UDP) the access-log lines for metrics go to (an exporter's --log-listen); default a free port nobody reads. */
  metricsLog?: string
}

export class GatewayNginx {
  readonly dir: string
  readonly domain: string
  readonly port: number
  readonly ca: TestCa
  readonly child: ChildProcess
  readonly errorLog: string
  /** http://127.0.0.1:PORT/stub_status (the exporter's --stub-status-url). */
  stubStatusUrl = ''
  private readonly agent: https.Agent

  private constructor (dir: string, domain: string, port: number, ca: TestCa, child: ChildProcess, errorLog: string) {
    this.dir = dir; this.domain = domain; this.port = port; this.ca = ca; this.child = child; this.errorLog = errorLog
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 256, ca: ca.caCert, lookup: (_h, opts, cb) => { if ((opts as { all?: boolean }).all === true) (cb as unknown as (e: null, a: Array<{ address: string, family: number }>) => void)(null, [{ address: '127.0.0.1', family: 4 }]); else cb(null, '127.0.0.1', 4) } })
  }

  static async start (o: GatewayNginxOptions): Promise<GatewayNginx> {
    const domain = o.domain ?? 'gw.test'
    const dir = await mkdtemp(path.join(tmpdir(), 'ipfs-csi-gw-nginx-'))
    await chmod(dir, 0o755)
    const ca = await makeTestCa(dir, domain)
    for (const d of ['cache', 'tmp/body', 'tmp/proxy', 'tmp/fastcgi', 'tmp/uwsgi', 'tmp/scgi']) await mkdir(path.join(dir, d), { recursive: true })
    const port = await freePort()
    const statusPort = await freePort()
    await writeFile(path.join(dir, 'upstreams.conf'), o.backends.map(b => `server ${b} max_fails=1 fail_timeout=10s;`).join('\n') + '\n')
    const conf = renderGatewayTemplate(await readFile(NGINX_TEMPLATE, 'utf8'), {
      GATEWAY_DOMAIN: domain,
      GATEWAY_LISTEN: `127.0.0.1:${port}`,
      GATEWAY_TLS_CERT: ca.cert,
      GATEWAY_TLS_KEY: ca.key,
      GATEWAY_UPSTREAMS_FILE: path.join(dir, 'upstreams.conf'),
      GATEWAY_CACHE_DIR: path.join(dir, 'cache'),
      GATEWAY_CACHE_MAX_SIZE: o.cacheMaxSize ?? '1g',
      GATEWAY_RATE: o.rate ?? '20r/s',
      GATEWAY_BURST: String(o.burst ?? 40),
      GATEWAY_CONN: String(o.conn ?? 32),
      GATEWAY_METRICS_LOG: o.metricsLog ?? `127.0.0.1:${await freePort()}`,
      GATEWAY_STATUS_LISTEN: `127.0.0.1:${statusPort}`
    })
    await writeFile(path.join(dir, 'gateway.conf'), conf)
    const errorLog = path.join(dir, 'error.log')
    // The harness around the shipped http-context file, as the nginx image's nginx.conf is.
    await writeFile(path.join(dir, 'nginx.conf'), [
      'daemon off;',
      'master_process on;',
      `worker_processes ${o.workers ?? 2};`,
      'user root root;',
      `pid ${path.join(dir, 'nginx.pid')};`,
      `error_log ${errorLog} info;`,
      'events { worker_connections 4096; }',
      'http {',
      `  access_log ${path.join(dir, 'access.log')};`,
      `  client_body_temp_path ${path.join(dir, 'tmp/body')};`,
      `  proxy_temp_path ${path.join(dir, 'tmp/proxy')};`,
      `  fastcgi_temp_path ${path.join(dir, 'tmp/fastcgi')};`,
      `  uwsgi_temp_path ${path.join(dir, 'tmp/uwsgi')};`,
      `  scgi_temp_path ${path.join(dir, 'tmp/scgi')};`,
      '  sendfile on;',
      `  include ${path.join(dir, 'gateway.conf')};`,
      '}',
      ''
    ].join('\n'))
    await execFileP(NGINX_BIN, ['-t', '-q', '-p', dir, '-e', errorLog, '-c', path.join(dir, 'nginx.conf')], { timeout: 30_000 })
    const out = createWriteStream(logFile('gateway-nginx'), { flags: 'a' })
    const child = spawn(NGINX_BIN, ['-p', dir, '-e', errorLog, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.pipe(out); child.stderr.pipe(out)
    const g = new GatewayNginx(dir, domain, port, ca, child, errorLog)
    g.stubStatusUrl = `http://127.0.0.1:${statusPort}/stub_status`
    const deadline = Date.now() + 30_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${await readFile(errorLog, 'utf8').catch(() => '')}`)
      try { await g.get('/'); break } catch (err) { if (Date.now() > deadline) throw err }
      await sleep(100)
    }
    return g
  }

  /** A GET (or HEAD) over TLS to https://HOST:port/PATH; HOST defaults to the gateway domain. */
  async get (p: string, o: { host?: string, sni?: string, headers?: Record<string, string>, method?: string, timeoutMs?: number } = {}): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }> {
    const host = o.host ?? this.domain
    return await new Promise((resolve, reject) => {
      const req = https.request({ host, servername: o.sni ?? host, port: this.port, path: p, method: o.method ?? 'GET', agent: this.agent, headers: { host: `${host}:${this.port}`, ...o.headers }, timeout: o.timeoutMs ?? 60_000 }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error(`request ${host}${p} timed out`)))
      req.on('error', reject)
      req.end()
    })
  }

  /** Like get, but counts the body instead of keeping it (benchmarks): returns status and bytes. */
  async count (p: string, o: { host?: string, headers?: Record<string, string> } = {}): Promise<{ status: number, bytes: number }> {
    const host = o.host ?? this.domain
    return await new Promise((resolve, reject) => {
      const req = https.request({ host, servername: host, port: this.port, path: p, agent: this.agent, headers: { host: `${host}:${this.port}`, ...o.headers }, timeout: 60_000 }, (res) => {
        let bytes = 0
        res.on('data', (c: Buffer) => { bytes += c.length })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }))
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error(`request ${host}${p} timed out`)))
      req.on('error', reject)
      req.end()
    })
  }

  contentHost (cid: string): string { return `${cid}.ipfs.${this.domain}` }

  async stop (): Promise<void> {
    this.agent.destroy()
    await stopProcess(this.child, 10_000)
    if (process.env.KEEP_NGINX_DIR === undefined) await rm(this.dir, { recursive: true, force: true })
  }
}
