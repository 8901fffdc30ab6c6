// e2e workloads of the API tier (deploy/base/api): pods that present projected service-account
// tokens to `ipfs-csi api serve`, which verifies them with a TokenReview against this cluster's
// kube-apiserver (RBAC system:auth-delegator from deploy/), and a pin made through the Pinning
// Service API and checked in IPFS Cluster. Client pods run on the host network: the API listens on
// its pod IP (the node address, host networking) and workload pods' own network has no route to it
// (no kube-proxy, no Services here).
import { type ClusterPaths, NODE_IP, kubectl, waitUntil } from './cluster.js'
import { NAMESPACE } from './deploy.js'
import { IMAGES } from './images.js'
import { WORKLOAD_NS, apply, runPod, type PodOptions, type Workload } from './workloads.js'

const API_URL = `http://${NODE_IP}:8080`
const CLUSTER_API = 'http://127.0.0.1:9094'
const SA = 'api-client'
const AUDIENCE = 'ipfs-csi-api'

/** TokenReviews the API server has answered (201), from its own metrics. */
function tokenReviews (p: ClusterPaths): number {
  let n = 0
  for (const line of kubectl(p, ['get', '--raw', '/metrics']).split('\n')) {
    if (line.startsWith('apiserver_request_total{') && line.includes('resource="tokenreviews"') && line.includes('code="201"')) n += Number(line.split(' ').pop())
  }
  return n
}

/** The API's policy: the client's service account may read and write its namespace's pins. */
function grantPins (p: ClusterPaths): void {
  const cms = JSON.parse(kubectl(p, ['-n', NAMESPACE, 'get', 'configmaps', '-o', 'json'])) as { items: Array<{ metadata: { name: string } }> }
  const cm = cms.items.map((i) => i.metadata.name).find((n) => /^ipfs-csi-api-policy(-[a-z0-9]{10})?$/.test(n))
  if (cm === undefined) throw new Error('no ipfs-csi-api-policy ConfigMap')
  const policy = `serviceAccounts:\n  system:serviceaccount:${WORKLOAD_NS}:${SA}: [pins:read, pins:write]\n`
  kubectl(p, ['-n', NAMESPACE, 'patch', 'configmap', cm, '--type', 'merge', '-p', JSON.stringify({ data: { 'policy.yaml': policy } })])
}

function ensureServiceAccount (p: ClusterPaths): void {
  apply(p, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA, namespace: WORKLOAD_NS } })
}

/** A client pod: host network, the service account's projected tokens (the API's audience and a wrong one). */
function clientPod (name: string, script: string, env: Record<string, string>): PodOptions {
  return {
    name,
    image: IMAGES.project,
    command: ['node', '-e', `(async () => {\n${script}\n})().catch((e) => { console.log('ERROR ' + (e && e.stack || e)); process.exit(1) })`],
    script: '',
    env: { API: API_URL, ...env },
    volumes: [{
      name: 'tokens',
      projected: {
        sources: [
          { serviceAccountToken: { audience: AUDIENCE, expirationSeconds: 3600, path: 'api' } },
          { serviceAccountToken: { audience: 'not-the-ipfs-csi-api', expirationSeconds: 3600, path: 'wrong' } }
        ]
      }
    }],
    mounts: [{ name: 'tokens', mountPath: '/var/run/secrets/tokens', readOnly: true }],
    podSpec: { hostNetwork: true, dnsPolicy: 'Default', serviceAccountName: SA }
  }
}

/** Shared by the client scripts: a JSON request to the API with a bearer token. */
const CLIENT_LIB = `
const fs = require('fs')
const token = (f) => fs.readFileSync('/var/run/secrets/tokens/' + f, 'utf8').trim()
const call = async (method, path, tok, body) => {
  const headers = tok !== undefined ? { authorization: 'Bearer ' + tok } : {}
  if (body !== undefined) headers['content-type'] = 'application/json'
  const r = await fetch(process.env.API + path, { method, headers, body: body !== undefined ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(30000) })
  const text = await r.text()
  let json; try { json = JSON.parse(text) } catch { json = undefined }
  return { status: r.status, json, text }
}
const sleep = (ms) => new Promise((res) => setTimeout(res, ms))
const fail = (msg) => { console.log('FAIL ' + msg); process.exit(1) }
// The policy ConfigMap reaches the API's volume within kubelet's sync period: 403 until then.
const authorized = async (method, path, tok, body) => {
  const end = Date.now() + 180000
  for (;;) {
    const r = await call(method, path, tok, body)
    if (r.status !== 403 || Date.now() > end) return r
    await sleep(2000)
  }
}
`

const TOKENREVIEW_SCRIPT = `${CLIENT_LIB}
const good = token('api'), wrong = token('wrong')
const ok = await authorized('GET', '/api/v1/pins', good)
if (ok.status !== 200 || typeof ok.json?.count !== 'number') fail('own-audience token: ' + ok.status + ' ' + ok.text.slice(0, 300))
const parts = good.split('.')
const forged = [parts[0], parts[1], parts[2].slice(0, -4) + (parts[2].endsWith('AAAA') ? 'BBBB' : 'AAAA')].join('.')
const refused = {
  wrongAudience: (await call('GET', '/api/v1/pins', wrong)).status,
  badSignature: (await call('GET', '/api/v1/pins', forged)).status,
  notAJwt: (await call('GET', '/api/v1/pins', 'not-a-jwt')).status,
  none: (await call('GET', '/api/v1/pins', undefined)).status
}
for (const [k, v] of Object.entries(refused)) if (v !== 401) fail(k + ' answered ' + v + ', want 401')
console.log(JSON.stringify({ ownAudience: ok.status, ...refused }))
`

const tokenReview: Workload = {
  name: 'API verifies a projected service-account token by TokenReview (wrong audience, forged or missing token: 401)',
  async run ({ p }) {
    ensureServiceAccount(p)
    grantPins(p)
    const before = tokenReviews(p)
    const r = await runPod(p, clientPod('api-tokenreview', TOKENREVIEW_SCRIPT, {}))
    const after = tokenReviews(p)
    // One review for the good token (then cached), one for the wrong audience, one for the forged signature.
    if (after - before < 3) throw new Error(`the API server answered ${after - before} TokenReviews during the test, want at least 3 (is the API verifying tokens offline?)`)
    return `${r.logs.trim().split('\n').pop() ?? ''}; ${after - before} TokenReviews answered by kube-apiserver; pod ${r.ms} ms`
  }
}

const PIN_SCRIPT = `${CLIENT_LIB}
const tok = token('api')
const add = await authorized('POST', '/api/v1/pins', tok, { cid: process.env.CID, name: 'e2e-data', meta: { from: 'e2e' } })
if (add.status !== 202 || typeof add.json?.requestid !== 'string') fail('POST /api/v1/pins: ' + add.status + ' ' + add.text.slice(0, 300))
const id = add.json.requestid
const t0 = Date.now()
let st
for (;;) {
  st = await call('GET', '/api/v1/pins/' + id, tok)
  if (st.status !== 200) fail('GET pin: ' + st.status + ' ' + st.text.slice(0, 300))
  if (st.json.status === 'pinned') break
  if (st.json.status === 'failed') fail('pin failed: ' + st.text.slice(0, 500))
  if (Date.now() - t0 > 240000) fail('not pinned after 240 s: ' + st.text.slice(0, 300))
  await sleep(1000)
}
const ls = await call('GET', '/api/v1/pins?cid=' + process.env.CID, tok)
if (ls.status !== 200 || !ls.json.results.some((x) => x.requestid === id)) fail('pin not listed by cid: ' + ls.text.slice(0, 300))
console.log(JSON.stringify({ requestid: id, pinnedMs: Date.now() - t0, status: st.json.status, delegates: st.json.delegates }))
`

interface ClusterAllocation { cid: string, name?: string, metadata?: Record<string, string> }

/** Cluster's pins (its REST API streams one JSON object per line, or answers an array). */
async function clusterAllocations (basicAuth: string): Promise<ClusterAllocation[]> {
  const res = await fetch(`${CLUSTER_API}/allocations`, { headers: { authorization: `Basic ${Buffer.from(basicAuth).toString('base64')}` }, signal: AbortSignal.timeout(30_000) })
  const text = await res.text()
  if (!res.ok) throw new Error(`Cluster /allocations: ${res.status} ${text.slice(0, 200)}`)
  const t = text.trim()
  if (t.startsWith('[')) return JSON.parse(t) as ClusterAllocation[]
  return t.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as ClusterAllocation)
}

const pinThroughApi: Workload = {
  name: 'a CID pinned through the Pinning Service API is pinned in IPFS Cluster, then removed',
  async run ({ p, content }) {
    ensureServiceAccount(p)
    grantPins(p)
    const cid = content.dirCids.data
    if (cid === undefined) throw new Error('no CID for data/')
    const r = await runPod(p, clientPod('api-pin', PIN_SCRIPT, { CID: cid }))
    const out = JSON.parse(r.logs.trim().split('\n').pop() ?? '{}') as { requestid?: string }
    if (out.requestid === undefined) throw new Error(`no request id in ${r.logs}`)
    const basicAuth = Buffer.from(kubectl(p, ['-n', NAMESPACE, 'get', 'secret', 'ipfs-cluster-api-auth', '-o', 'jsonpath={.data.basic-auth}']).trim(), 'base64').toString('utf8')
    const mine = (all: ClusterAllocation[]): ClusterAllocation | undefined => all.find((a) => a.metadata?.requestid === out.requestid)
    const alloc = mine(await clusterAllocations(basicAuth))
    if (alloc === undefined) throw new Error(`IPFS Cluster has no pin with metadata requestid ${out.requestid}`)
    if (alloc.metadata?.owner !== WORKLOAD_NS) throw new Error(`the Cluster pin belongs to ${alloc.metadata?.owner ?? '?'}, want ${WORKLOAD_NS}`)
    // Removing the request through the API unpins it in the Cluster.
    const rm = await runPod(p, clientPod('api-unpin', `${CLIENT_LIB}
const tok = token('api')
const del = await call('DELETE', '/api/v1/pins/' + process.env.ID, tok)
if (del.status !== 202) fail('DELETE: ' + del.status + ' ' + del.text.slice(0, 300))
const again = await call('GET', '/api/v1/pins/' + process.env.ID, tok)
if (again.status !== 404) fail('GET after DELETE: ' + again.status)
console.log('removed')`, { ID: out.requestid }))
    await waitUntil('the Cluster pin removed', 120_000, async () => mine(await clusterAllocations(basicAuth)) === undefined ? true : undefined, 2000)
    return `${r.logs.trim().split('\n').pop() ?? ''}; Cluster pin ${alloc.cid} (owner ${alloc.metadata?.owner ?? '?'}) removed after DELETE (${rm.ms} ms)`
  }
}

export const API_WORKLOADS: Workload[] = [tokenReview, pinThroughApi]
