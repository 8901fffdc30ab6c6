import test from 'ava'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import * as grpc from '@grpc/grpc-js'
import { KubeletRegistration, registrationServiceDefinition, type PluginInfo } from '../../driver/registration-service.js'
import { createLogger } from '../../driver/logger.js'
import { parseServeConfig, ConfigError } from '../../driver/config.js'

// A client speaking the same pluginregistration proto that kubelet uses.
function client (socket: string): grpc.Client & Record<string, Function> {
  const Ctor = grpc.makeGenericClientConstructor(registrationServiceDefinition(), 'Registration')
  return new Ctor(`unix://${socket}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>
}
const call = async <T>(c: Record<string, Function>, method: string, req: object): Promise<T> =>
  await new Promise((resolve, reject) => c[method](req, { deadline: Date.now() + 10_000 }, (err: Error | null, res: T) => err != null ? reject(err) : resolve(res)))

async function waitFor (cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

test('GetInfo answers a CSIPlugin named after the driver with the kubelet-side endpoint; a success status marks it registered', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'reg-'))
  const socket = path.join(dir, 'ipfs.csi.dev-reg.sock')
  const reg = new KubeletRegistration({ socketPath: socket, kubeletEndpoint: '/var/lib/kubelet/plugins/ipfs.csi.dev/csi.sock', log: createLogger('error') })
  await reg.start()
  const c = client(socket)
  try {
    const info = await call<PluginInfo>(c, 'GetInfo', {})
    t.deepEqual({ ...info }, { type: 'CSIPlugin', name: 'ipfs.csi.dev', endpoint: '/var/lib/kubelet/plugins/ipfs.csi.dev/csi.sock', supported_versions: ['1.0.0'] })
    t.false(reg.isRegistered)
    await call(c, 'NotifyRegistrationStatus', { plugin_registered: true, error: '' })
    t.true(reg.isRegistered)
  } finally {
    c.close()
    await reg.stop()
    t.false(existsSync(socket), 'socket removed on stop, so kubelet deregisters the plugin')
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a refused registration re-creates the socket, so kubelet tries again', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'reg-'))
  const socket = path.join(dir, 'reg.sock')
  const reg = new KubeletRegistration({ socketPath: socket, kubeletEndpoint: '/k/csi.sock', log: createLogger('error'), retryMs: 50 })
  await reg.start()
  t.is(reg.socketsCreated, 1)
  const c = client(socket)
  try {
    await call(c, 'NotifyRegistrationStatus', { plugin_registered: false, error: 'version mismatch' })
    t.false(reg.isRegistered)
    c.close()
    await waitFor(() => reg.socketsCreated === 2)
    const c2 = client(socket)
    const info = await call<PluginInfo>(c2, 'GetInfo', {})
    c2.close()
    t.is(info.name, 'ipfs.csi.dev')
  } finally {
    c.close()
    await reg.stop()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('registration flags go together, need absolute .sock paths and a node mode', (t) => {
  const base = ['--node-id', 'n1', '--endpoint', 'unix:///csi/csi.sock']
  const ok = parseServeConfig([...base, '--mode', 'node', '--registration-socket', '/registration/ipfs.csi.dev-reg.sock', '--kubelet-registration-path', '/var/lib/kubelet/plugins/ipfs.csi.dev/csi.sock'], {})
  t.is(ok.registrationSocket, '/registration/ipfs.csi.dev-reg.sock')
  t.is(ok.kubeletRegistrationPath, '/var/lib/kubelet/plugins/ipfs.csi.dev/csi.sock')
  t.is(parseServeConfig([...base, '--mode', 'node'], {}).registrationSocket, undefined)
  const alone = t.throws(() => parseServeConfig([...base, '--registration-socket', '/r/x.sock'], {}), { instanceOf: ConfigError }) as ConfigError
  t.regex(alone.message, /must be set together/)
  const bad = t.throws(() => parseServeConfig([...base, '--mode', 'controller', '--registration-socket', 'rel.sock', '--kubelet-registration-path', '/k/csi'], {}), { instanceOf: ConfigError }) as ConfigError
  t.regex(bad.message, /node or all mode/)
  t.regex(bad.message, /--registration-socket must be an absolute path/)
  t.regex(bad.message, /--kubelet-registration-path must be an absolute path/)
})
