// Kubo daemons configured exactly as deploy/ configures them: deploy/base/kubo/kubo-init.sh run
// with a tier's settings (the configMapGenerator literals of deploy/base/kustomization.yaml), the
// allowed-paths file of deploy/base/kubo/allowed-paths/, and the daemon started with the
// container's arguments. Only listen addresses are moved to loopback ports.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { parse } from 'yaml'
import { IPFS_BIN, ROOT, TOOLS_BIN, logFile } from './repo.js'
import { stopProcess } from './stop-process.js'

const execFileP = promisify(execFile)
export const KUBO_INIT = path.join(ROOT, 'deploy', 'base', 'kubo', 'kubo-init.sh')
export const allowedPathsFile = (tier: 'storage' | 'node' | 'gateway'): string => path.join(ROOT, 'deploy', 'base', 'kubo', 'allowed-paths', `${tier}.conf`)
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** client → the RPC commands its token may call, from an allowed-paths file. */
export async function readAllowedPaths (tier: 'storage' | 'node' | 'gateway'): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  for (const raw of (await readFile(allowedPathsFile(tier), 'utf8')).split('\n')) {
    const line = raw.replace(/#.*$/, '').trim()
    if (line === '') continue
    const m = /^([a-z][a-z0-9-]*):(.*)$/.exec(line)
    if (m === null) throw new Error(`bad allowed-paths line ${JSON.stringify(raw)}`)
    out[m[1]] = m[2].trim().split(/\s+/)
  }
  return out
}

/** The literals of one configMapGenerator entry of deploy/base/kustomization.yaml. */
export async function baseSettings (name: string): Promise<Record<string, string>> {
  const k = parse(await readFile(path.join(ROOT, 'deploy', 'base', 'kustomization.yaml'), 'utf8')) as { configMapGenerator: Array<{ name: string, literals?: string[] }> }
  const gen = k.configMapGenerator.find(g => g.name === name)
  if (gen === undefined) throw new Error(`no configMapGenerator ${name} in deploy/base/kustomization.yaml`)
  return Object.fromEntries((gen.literals ?? []).map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
}

/** Writes a directory the way a Secret volume looks (with the ..data entry the script must skip). */
export async function writeSecretDir (dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true })
  await mkdir(path.join(dir, '..data'), { recursive: true })
  for (const [k, v] of Object.entries(files)) await writeFile(path.join(dir, k), v, { mode: 0o400 })
}

export const initEnv = (home: string): NodeJS.ProcessEnv => ({ PATH: `${TOOLS_BIN}:${process.env.PATH ?? ''}`, HOME: home, IPFS_TELEMETRY: 'off' })

export async function runKuboInit (env: NodeJS.ProcessEnv): Promise<{ code: number, out: string }> {
  try {
    const { stdout, stderr } = await execFileP('sh', [KUBO_INIT], { env, timeout: 120_000 })
    return { code: 0, out: stdout + stderr }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

export interface DeployedKubo { name: string, child: ChildProcess, output: string, api: string, gateway: string, stop: () => Promise<void> }

/** Starts `ipfs daemon` on a repo kubo-init.sh configured, with the container's arguments. */
export async function startDeployedKubo (name: string, env: NodeJS.ProcessEnv, args: string[]): Promise<DeployedKubo> {
  const log = createWriteStream(logFile(`deploy-kubo-${name}`), { flags: 'a' })
  const child = spawn(IPFS_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const k: DeployedKubo = { name, child, output: '', api: '', gateway: '', stop: async () => { await stopProcess(child, 10_000) } }
  child.stdout.on('data', (d: Buffer) => { k.output += d.toString(); log.write(d) })
  child.stderr.on('data', (d: Buffer) => { k.output += d.toString(); log.write(d) })
  const deadline = Date.now() + 90_000
  while (!/Daemon is ready/.test(k.output)) {
    if (child.exitCode !== null) throw new Error(`kubo ${name} exited ${child.exitCode}:\n${k.output}`)
    if (Date.now() > deadline) { await k.stop(); throw new Error(`kubo ${name} not ready in 90 s:\n${k.output}`) }
    await sleep(100)
  }
  const repo = env.IPFS_PATH as string
  const api = /\/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(await readFile(path.join(repo, 'api'), 'utf8'))
  const gw = /Gateway server listening on \/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(k.output)
  if (api == null || gw == null) { await k.stop(); throw new Error(`no API or gateway address:\n${k.output}`) }
  k.api = `http://${api[1]}:${api[2]}`
  k.gateway = `http://${gw[1]}:${gw[2]}`
  return k
}

/** A POST to Kubo's RPC with a bearer token (or none), optionally with a file body. */
export async function rpcAs (api: string, cmd: string, token?: string, body?: Uint8Array): Promise<Response> {
  const headers: Record<string, string> = token !== undefined ? { Authorization: `Bearer ${token}` } : {}
  let payload: FormData | undefined
  if (body !== undefined) { payload = new FormData(); payload.append('file', new Blob([body])) }
  return await fetch(`${api}/api/v0/${cmd}`, { method: 'POST', headers, body: payload, signal: AbortSignal.timeout(60_000) })
}
