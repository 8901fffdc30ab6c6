// The gateway tier in the e2e cluster: its TLS Secret (a test CA made here, as an operator's
// cert-manager would), and the workload that publishes a CID through deploy/'s own publishing path
// (the ipfs-gateway-published ConfigMap + a Job from the ipfs-gateway-sync CronJob), then reads it
// through nginx over TLS (subdomain gateway) with every byte checked, and an unpublished CID refused.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import path from 'node:path'
import { type ClusterPaths, Fatal, NODE_IP, kubectl, waitUntil } from './cluster.js'
import { NAMESPACE } from './deploy.js'
import type { Workload } from './workloads.js'

/** GATEWAY_DOMAIN of deploy/overlays/dev (the e2e overlay keeps it). */
export const GATEWAY_DOMAIN = 'gateway.ipfs-csi.localhost'
const GATEWAY_PORT = 8443

const tlsDir = (p: ClusterPaths): string => path.join(p.root, 'gateway-tls')

/** A test CA and a certificate for DOMAIN and *.ipfs.DOMAIN, as Secret ipfs-gateway-tls. */
export function createGatewayTls (p: ClusterPaths): void {
  const dir = tlsDir(p)
  mkdirSync(dir, { recursive: true })
  const f = (n: string): string => path.join(dir, n)
  const ssl = (args: string[]): void => { execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] }) }
  ssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('ca.key')])
  ssl(['req', '-x509', '-new', '-key', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=ipfs-csi-e2e-gateway-ca'])
  ssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('tls.key')])
  ssl(['req', '-new', '-key', f('tls.key'), '-out', f('tls.csr'), '-subj', `/CN=${GATEWAY_DOMAIN}`])
  writeFileSync(f('tls.ext'), `subjectAltName=DNS:${GATEWAY_DOMAIN},DNS:*.ipfs.${GATEWAY_DOMAIN}\nextendedKeyUsage=serverAuth\n`)
  ssl(['x509', '-req', '-in', f('tls.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('tls.crt'), '-days', '2', '-extfile', f('tls.ext')])
  kubectl(p, ['-n', NAMESPACE, 'create', 'secret', 'tls', 'ipfs-gateway-tls', `--cert=${f('tls.crt')}`, `--key=${f('tls.key')}`])
}

interface Got { status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }

/** GET through nginx on the node address, with the public host name (SNI and Host) and the test CA. */
async function get (p: ClusterPaths, host: string, urlPath: string): Promise<Got> {
  const ca = readFileSync(path.join(tlsDir(p), 'ca.crt'))
  return await new Promise((resolve, reject) => {
    const req = https.request({ host: NODE_IP, port: GATEWAY_PORT, path: urlPath, method: 'GET', servername: host, headers: { host }, ca, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET https://${host}${urlPath}: no answer in 60 s`)))
    req.on('error', reject)
    req.end()
  })
}

function generated (p: ClusterPaths, prefix: string): string {
  const cms = JSON.parse(kubectl(p, ['-n', NAMESPACE, 'get', 'configmaps', '-o', 'json'])) as { items: Array<{ metadata: { name: string } }> }
  const name = cms.items.map((i) => i.metadata.name).find((n) => new RegExp(`^${prefix}(-[a-z0-9]{10})?$`).test(n))
  if (name === undefined) throw new Error(`no ConfigMap ${prefix}`)
  return name
}

/** Runs the sync CronJob once now (as its schedule would) and waits for the Job to succeed. */
async function syncNow (p: ClusterPaths, job: string): Promise<number> {
  const t0 = Date.now()
  kubectl(p, ['-n', NAMESPACE, 'create', 'job', job, '--from=cronjob/ipfs-gateway-sync'])
  await waitUntil(`Job ${job} to succeed`, 300_000, () => {
    const s = JSON.parse(kubectl(p, ['-n', NAMESPACE, 'get', 'job', job, '-o', 'json'])) as { status: { succeeded?: number, conditions?: Array<{ type: string, status: string }> } }
    if (s.status.conditions?.some((c) => c.type === 'Failed' && c.status === 'True')) {
      throw new Fatal(`Job ${job} failed:\n${kubectl(p, ['-n', NAMESPACE, 'logs', `job/${job}`, '--all-containers'])}`)
    }
    return (s.status.succeeded ?? 0) > 0 ? true : undefined
  }, 1000)
  return Date.now() - t0
}

export const gatewayPublished: Workload = {
  name: 'gateway: a CID published through deploy/ (ConfigMap + sync Job) is served by nginx over TLS, bytes checked; an unpublished one is refused',
  async run ({ p, content }) {
    const modelCid = content.dirCids.model
    const dataCid = content.dirCids.data
    if (modelCid === undefined || dataCid === undefined) throw new Error('no CIDs for model/ and data/')
    const host = (cid: string): string => `${cid}.ipfs.${GATEWAY_DOMAIN}`
    // Before publishing, nothing of the storage tier is visible through the gateway.
    const before = await get(p, host(modelCid), '/config.json')
    if (before.status !== 404) throw new Error(`before it was published the model answered ${before.status}, want 404`)
    const cm = generated(p, 'ipfs-gateway-published')
    kubectl(p, ['-n', NAMESPACE, 'patch', 'configmap', cm, '--type', 'merge', '-p', JSON.stringify({ data: { 'published.txt': `# e2e\n${modelCid}\n` } })])
    // The Job mounts the ConfigMap when it starts: a Job created after the patch reads the new list.
    const syncMs = await syncNow(p, 'e2e-gateway-sync')
    const files = content.files.filter((f) => f.rel.startsWith('model/'))
    const caches: string[] = []
    for (const f of files) {
      const rel = f.rel.slice('model/'.length)
      const r = await get(p, host(modelCid), `/${rel}`)
      if (r.status !== 200) throw new Error(`GET ${rel} through the gateway: ${r.status} ${r.body.subarray(0, 200).toString()}`)
      const sum = createHash('sha256').update(r.body).digest('hex')
      if (sum !== f.sha256) throw new Error(`${rel}: sha256 ${sum} through the gateway, the source has ${f.sha256} (${r.body.length} of ${f.size} bytes)`)
      caches.push(String(r.headers['x-cache-status']))
    }
    const again = await get(p, host(modelCid), '/config.json')
    if (again.headers['x-cache-status'] !== 'HIT') throw new Error(`second GET of config.json: X-Cache-Status ${String(again.headers['x-cache-status'])}, want HIT`)
    for (const h of ['strict-transport-security', 'x-content-type-options', 'content-security-policy']) {
      if (again.headers[h] === undefined) throw new Error(`no ${h} header on a content response`)
    }
    const unpublished = await get(p, host(dataCid), '/blob.bin')
    if (unpublished.status !== 404) throw new Error(`an unpublished CID answered ${unpublished.status}, want 404`)
    return `published by the sync Job in ${syncMs} ms; ${files.length} files verified through nginx (X-Cache-Status ${caches.join(',')}, then HIT); unpublished CID: ${unpublished.status}`
  }
}
